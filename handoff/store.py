"""Every change to the handoff service's database (tables in ``schema.py``, re-exported
here): agents, sessions, tickets (the queue) and messages.

SQLAlchemy 2 async; SQLite by default, PostgreSQL in production (``HANDOFF_DB_URL``).
Claiming is one conditional UPDATE: the ticket must still be queued and the agent under
their limit, so when two agents click at once exactly one wins, on either database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from handoff.schema import (
    ADDED_COLUMNS,
    OPEN,
    PRIORITIES,
    REASON_TEXT,
    ROLES,
    Agent,
    AgentSession,
    Base,
    ClaimError,
    Database,
    FeedCursor,
    LoginThrottleRow,
    Message,
    PendingAlert,
    Ticket,
    aware,
    create_schema,
    iso,
    open_database,
    utcnow,
)

__all__ = [
    "ADDED_COLUMNS",
    "OPEN",
    "PRIORITIES",
    "REASON_TEXT",
    "ROLES",
    "Agent",
    "AgentSession",
    "Base",
    "ClaimError",
    "Database",
    "FeedCursor",
    "LoginThrottleRow",
    "Message",
    "PendingAlert",
    "Ticket",
    "TicketStore",
    "aware",
    "create_schema",
    "epoch",
    "iso",
    "open_database",
    "queue_key",
    "utcnow",
]


def _moment_or_none(value: Any) -> datetime | None:
    """An ISO 8601 moment from a payload (UTC when it names no offset), else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def queue_key(created: datetime, priority: int, step: float) -> float:
    return created.timestamp() - priority * step


class TicketStore:
    """Every change to the queue goes through here."""

    def __init__(self, db: Database, priority_step: float) -> None:
        self.db = db
        self.priority_step = priority_step

    async def find_by_escalation(self, escalation_id: str) -> Ticket | None:
        async with self.db.sessions() as session:
            return await session.scalar(select(Ticket).where(
                Ticket.escalation_id == escalation_id))

    async def open_for(self, conversation_id: str) -> Ticket | None:
        async with self.db.sessions() as session:
            return await session.scalar(select(Ticket).where(
                Ticket.conversation_id == conversation_id, Ticket.status.in_(OPEN))
                .order_by(Ticket.id.desc()).limit(1))

    async def open_conversations(self) -> dict[str, int]:
        async with self.db.sessions() as session:
            rows = await session.execute(select(Ticket.conversation_id, Ticket.id)
                                         .where(Ticket.status.in_(OPEN)))
            return {cid: tid for cid, tid in rows}

    async def get(self, ticket_id: int) -> Ticket | None:
        async with self.db.sessions() as session:
            return await session.get(Ticket, ticket_id)

    async def create(self, payload: dict[str, Any], now: datetime) -> tuple[Ticket, bool]:
        """The ticket for this escalation: (ticket, created). Idempotent on escalation_id,
        and a conversation has at most one open ticket."""
        existing = await self.find_by_escalation(str(payload["escalation_id"]))
        if existing is not None:
            return existing, False
        current = await self.open_for(str(payload["conversation_id"]))
        if current is not None:
            return current, False
        reason = str(payload["reason"])
        priority = PRIORITIES.get(reason, 1)
        ticket = Ticket(
            escalation_id=str(payload["escalation_id"]),
            conversation_id=str(payload["conversation_id"]), channel=str(payload["channel"]),
            language=str(payload["language"]), reason=reason,
            detail=str(payload.get("detail") or ""), priority=priority,
            queue_key=queue_key(now, priority, self.priority_step), status="queued",
            created_at=now, last_customer_at=now,
            outside_hours=bool(payload.get("outside_hours")),
            agents_back_text=payload.get("agents_back_text"),
            agents_back_at=_moment_or_none(payload.get("agents_back_at")),
            order_json=json.dumps(payload.get("order"), ensure_ascii=False),
            sentiment_json=json.dumps(payload.get("sentiment_trail") or [], ensure_ascii=False),
        )
        customer = [e for e in payload.get("transcript") or [] if e.get("role") == "customer"]
        if customer:
            ticket.last_customer_text = str(customer[-1].get("text", ""))[:500]
        async with self.db.sessions.begin() as session:
            session.add(ticket)
        return ticket, True

    async def queued(self) -> list[Ticket]:
        async with self.db.sessions() as session:
            rows = await session.scalars(select(Ticket).where(Ticket.status == "queued")
                                         .order_by(Ticket.queue_key, Ticket.id))
            return list(rows)

    async def open_tickets(self) -> list[Ticket]:
        async with self.db.sessions() as session:
            rows = await session.scalars(select(Ticket).where(Ticket.status.in_(OPEN))
                                         .order_by(Ticket.status.desc(), Ticket.queue_key,
                                                   Ticket.id))
            return list(rows)

    async def claim(self, ticket_id: int, agent: Agent, now: datetime) -> Ticket:
        """Atomically give a queued ticket to ``agent``; ClaimError says why not."""
        other = aliased(Ticket)
        mine = (select(func.count()).select_from(other)
                .where(other.agent_id == agent.id, other.status == "assigned")
                .scalar_subquery())
        async with self.db.sessions.begin() as session:
            if self.db.is_postgres:
                # Serialise one agent's claims so two at once cannot both pass the limit.
                await session.execute(select(Agent.id).where(Agent.id == agent.id)
                                      .with_for_update())
            result = await session.execute(
                update(Ticket).where(Ticket.id == ticket_id, Ticket.status == "queued",
                                     mine < agent.max_chats)
                .values(status="assigned", agent_id=agent.id, claimed_at=now,
                        first_claimed_at=func.coalesce(Ticket.first_claimed_at, now))
                .execution_options(synchronize_session=False))
            won = getattr(result, "rowcount", 0) == 1
        ticket = await self.get(ticket_id)
        if ticket is None:
            raise ClaimError("This chat does not exist.")
        if won:
            return ticket
        if ticket.status == "assigned" and ticket.agent_id == agent.id:
            raise ClaimError("You already have this chat.")
        if ticket.status == "assigned":
            holder = await self.agent_name(ticket.agent_id)
            raise ClaimError(f"Already taken by {holder}.")
        if ticket.status != "queued":
            raise ClaimError(f"This chat is {ticket.status}.")
        raise ClaimError(f"You already have {agent.max_chats} chats (your limit).")

    async def agent_name(self, agent_id: int | None) -> str:
        if agent_id is None:
            return "nobody"
        async with self.db.sessions() as session:
            agent = await session.get(Agent, agent_id)
            return agent.display_name if agent else "another agent"

    async def _change(self, ticket_id: int, expect: Sequence[str], owner: int | None,
                      **values: Any) -> Ticket | None:
        async with self.db.sessions.begin() as session:
            conditions = [Ticket.id == ticket_id, Ticket.status.in_(expect)]
            if owner is not None:
                conditions.append(Ticket.agent_id == owner)
            result = await session.execute(update(Ticket).where(*conditions).values(**values)
                                           .execution_options(synchronize_session=False))
            changed = getattr(result, "rowcount", 0) == 1
        return await self.get(ticket_id) if changed else None

    async def release(self, ticket_id: int, agent_id: int) -> Ticket | None:
        return await self._change(ticket_id, ["assigned"], agent_id, status="queued",
                                  agent_id=None, claimed_at=None, last_position=None)

    async def transfer(self, ticket_id: int, from_agent: int, to_agent: Agent,
                       now: datetime) -> Ticket | None:
        return await self._change(ticket_id, ["assigned"], from_agent, agent_id=to_agent.id,
                                  claimed_at=now)

    async def resolve(self, ticket_id: int, agent_id: int | None, now: datetime,
                      status: str = "resolved") -> Ticket | None:
        return await self._change(ticket_id, list(OPEN), agent_id, status=status,
                                  resolved_at=now)

    async def customer_left(self, ticket_id: int, now: datetime) -> Ticket | None:
        """Queued: the ticket is abandoned. Assigned: the agent is told and resolves."""
        ticket = await self.get(ticket_id)
        if ticket is None or ticket.status not in OPEN:
            return None
        if ticket.status == "queued":
            return await self._change(ticket_id, ["queued"], None, status="abandoned",
                                      resolved_at=now, customer_left_at=now)
        return await self._change(ticket_id, ["assigned"], None, customer_left_at=now)

    async def mark_alerted(self, ticket_id: int, now: datetime) -> bool:
        """True for the one caller that marks the ticket alerted (one alert per ticket)."""
        async with self.db.sessions.begin() as session:
            result = await session.execute(
                update(Ticket).where(Ticket.id == ticket_id, Ticket.alerted_at.is_(None))
                .values(alerted_at=now).execution_options(synchronize_session=False))
            return getattr(result, "rowcount", 0) == 1

    async def set_last_position(self, ticket_id: int, told: int | None, position: int) -> bool:
        """Record the place the customer is told, if it is still ``told`` (so of several
        processes recomputing the queue, one tells each change)."""
        was = Ticket.last_position.is_(None) if told is None else Ticket.last_position == told
        async with self.db.sessions.begin() as session:
            result = await session.execute(
                update(Ticket).where(Ticket.id == ticket_id, was)
                .values(last_position=position).execution_options(synchronize_session=False))
            return getattr(result, "rowcount", 0) == 1

    async def mark_hours_started(self, ticket_id: int, moment: datetime) -> bool:
        """True for the one caller that starts agent hours for this queued ticket."""
        async with self.db.sessions.begin() as session:
            result = await session.execute(
                update(Ticket).where(Ticket.id == ticket_id, Ticket.status == "queued",
                                     Ticket.outside_hours.is_(True),
                                     Ticket.hours_started_at.is_(None))
                .values(hours_started_at=moment).execution_options(synchronize_session=False))
            return getattr(result, "rowcount", 0) == 1

    async def update_fields(self, ticket_id: int, **values: Any) -> None:
        async with self.db.sessions.begin() as session:
            await session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values)
                                  .execution_options(synchronize_session=False))

    async def active_chats(self) -> dict[int, int]:
        async with self.db.sessions() as session:
            rows = await session.execute(select(Ticket.agent_id, func.count())
                                         .where(Ticket.status == "assigned")
                                         .group_by(Ticket.agent_id))
            return {int(agent): int(count) for agent, count in rows if agent is not None}

    async def recent_pickup_seconds(self, limit: int = 20) -> list[float]:
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(Ticket.created_at, Ticket.first_claimed_at)
                .where(Ticket.first_claimed_at.is_not(None))
                .order_by(Ticket.first_claimed_at.desc()).limit(limit))
            return [(aware(claimed) - aware(created)).total_seconds()  # type: ignore[operator]
                    for created, claimed in rows]

    # Messages ---------------------------------------------------------------------------

    async def add_message(self, ticket_id: int, kind: str, text: str, *,
                          author: str | None = None, at: datetime | None = None,
                          event_ts: float | None = None, to_customer: bool = False,
                          command: str | None = None,
                          status: dict[str, Any] | None = None) -> Message | None:
        """Record a message; None if a feed event with that timestamp is already there."""
        async with self.db.sessions.begin() as session:
            if event_ts is not None:
                seen = await session.scalar(select(Message.id).where(
                    Message.ticket_id == ticket_id, Message.event_ts == event_ts,
                    Message.kind == kind))
                if seen is not None:
                    return None
            now = utcnow()
            message = Message(ticket_id=ticket_id, kind=kind, author=author, text=text,
                              created_at=at or now, event_ts=event_ts, to_customer=to_customer,
                              command=command, attempts=0,
                              status_json=json.dumps(status) if status else None,
                              next_attempt_at=now if to_customer else None)
            session.add(message)
        return message

    async def messages(self, ticket_id: int) -> list[Message]:
        async with self.db.sessions() as session:
            rows = await session.scalars(select(Message).where(Message.ticket_id == ticket_id)
                                         .order_by(Message.created_at, Message.id))
            return list(rows)

    async def undelivered(self) -> list[Message]:
        async with self.db.sessions() as session:
            rows = await session.scalars(select(Message).where(
                Message.to_customer.is_(True), Message.delivered_at.is_(None))
                .order_by(Message.id))
            return list(rows)

    async def mark_delivery(self, message_id: int, error: str | None, now: datetime,
                            retry_at: datetime | None = None) -> None:
        async with self.db.sessions.begin() as session:
            message = await session.get(Message, message_id)
            if message is None:
                return
            message.attempts += 1
            if error is None:
                message.delivered_at = now
                message.last_error = None
            else:
                message.last_error = error[:500]
                message.next_attempt_at = retry_at

    # Feed cursor ------------------------------------------------------------------------

    async def cursor(self, name: str = "rasa_events") -> int:
        async with self.db.sessions() as session:
            row = await session.get(FeedCursor, name)
            return row.position if row else 0

    async def set_cursor(self, position: int, name: str = "rasa_events") -> None:
        async with self.db.sessions.begin() as session:
            row = await session.get(FeedCursor, name)
            if row is None:
                session.add(FeedCursor(name=name, position=position))
            else:
                row.position = position


def epoch() -> float:
    return time.time()
