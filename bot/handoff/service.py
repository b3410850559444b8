"""The handoff service's work: tickets from escalations, the relay both ways, the queue.

Inbound (customer -> agent): while a person has the chat, Rasa records the customer's
messages without answering (the conversation is paused). Rasa's SQL event broker writes
every event to the ``events`` table; the feed loop here reads it in id order from a
stored cursor, so messages arrive in order, and none is lost while this service is down:
it carries on from the cursor when it comes back.

Outbound (agent -> customer): messages for the customer are stored first, then a delivery
loop appends them to the conversation over Rasa's HTTP API in order, with retries. The
hand-back is the last such message: it resumes the conversation in the same request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import statistics
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.handoff.accounts import Accounts
from bot.handoff.alert_queue import AlertQueue
from bot.handoff.alerts import alert_json
from bot.handoff.hours import pickup_clock, start_hours, waiting_for_hours
from bot.handoff.hub import Hub
from bot.handoff.prom import HandoffMetrics
from bot.handoff.rasa_client import RasaClient, RasaError
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import (
    OPEN,
    REASON_TEXT,
    Agent,
    ClaimError,
    Message,
    Ticket,
    TicketStore,
    aware,
    iso,
    utcnow,
)
from bot.handoff.strings import Strings
from bot.metrics.records import Collector, MetricsStore, settled
from bot.rasa_events import RasaEventTable
from contract import metrics_tables as mt
from contract.payload import customer_text
from contract.session_marker import continues_handoff

log = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
CANCEL_WORDS = frozenset({"cancel", "stop waiting", "never mind", "nevermind", "отмена",
                          "отменить", "отмена ожидания", "скасувати", "скасування"})
CANCEL_INTENTS = frozenset({"stop"})
STATUS_INTENTS = frozenset({"request_status"})
STATUS_CONFIDENCE = 0.6
SURVEY_INTENT = "EXTERNAL_survey"
# Quiet conversations are looked for among those active in this window before the quiet
# time; older ones (the service was down) are left alone.
SURVEY_WINDOW = timedelta(hours=6)
MAX_TEXT_CHARS = 4000
DELIVERY_RETRY_MAX_SECONDS = 30.0
SWEEP_SECONDS = 15.0
EMAIL_ANSWER_HOURS = 24
BACKFILL_ROWS = 300
FEED_BATCH = 500  # events read per pass of the relay


class ActionError(Exception):
    """An agent action that cannot be done now; the message is for the agent."""


def _moment(timestamp: float | None) -> datetime:
    return datetime.fromtimestamp(timestamp or 0, UTC)


def _asks_status(event: dict[str, Any]) -> bool:
    """"What's happening with my request?" while waiting for (or talking to) a person."""
    intent = ((event.get("parse_data") or {}).get("intent") or {})
    return (intent.get("name") in STATUS_INTENTS
            and float(intent.get("confidence") or 0) >= STATUS_CONFIDENCE)


def wait_minutes(position: int, pickup_seconds: float, agents: int) -> int:
    """The expected wait told to the customer at ``position``: the median of recent pickup
    times for every chat ahead of theirs and their own, shared by the agents online."""
    return max(1, math.ceil(position * pickup_seconds / max(1, agents) / 60))


def _is_cancel(event: dict[str, Any]) -> bool:
    intent = ((event.get("parse_data") or {}).get("intent") or {})
    words = re.sub(r"[^\w\s]", " ", str(event.get("text") or "").lower()).split()
    return (" ".join(words) in CANCEL_WORDS
            or (intent.get("name") in CANCEL_INTENTS
                and float(intent.get("confidence") or 0) >= 0.8))


class HandoffService:
    def __init__(self, settings: HandoffSettings, store: TicketStore, accounts: Accounts,
                 rasa: RasaClient, hub: Hub, strings: Strings,
                 metrics: MetricsStore | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.metrics = metrics
        self.clock = clock  # the 4-minute rule's and agent hours' time (pinned in tests)
        self.alerts = AlertQueue(store.db, settings.alert_webhook_url, settings.webhook_secret,
                                 settings.pickup_target_seconds, clock=clock,
                                 first_retry_seconds=settings.alert_retry_first_seconds,
                                 max_retry_seconds=settings.alert_retry_max_seconds)
        self.prom: HandoffMetrics | None = None  # Prometheus counters, when installed
        self.store = store
        self.accounts = accounts
        self.rasa = rasa
        self.hub = hub
        self.strings = strings
        self.events_engine: AsyncEngine = create_async_engine(settings.events_db_url)
        self.events = RasaEventTable(self.events_engine)  # the relay's and the collector's
        self._deliver = asyncio.Event()
        self._lock = asyncio.Lock()   # one queue recomputation at a time
        # Held by the feed and while a new ticket's transcript loads, so the feed never
        # applies events to a ticket whose synced_ts is not set yet.
        self._feed_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.collector: Collector | None = None
        if metrics is not None:
            actions_engine = (create_async_engine(settings.actions_db_url)
                              if settings.actions_db_url else None)
            self.collector = Collector(metrics, self.events, actions_engine)

    # Escalations ------------------------------------------------------------------------

    async def receive(self, payload: dict[str, Any]) -> tuple[Ticket, bool]:
        async with self._feed_lock:
            ticket, created = await self.store.create(payload, self.clock())
            if not created:
                return ticket, False
            log.info("ticket %d: %s escalated (%s)", ticket.id, ticket.conversation_id,
                     ticket.reason)
            await self._load_transcript(ticket, payload)
        await self._system(ticket, f"Escalated: {ticket.detail or REASON_TEXT.get(ticket.reason)}")
        if self.prom is not None:
            self.prom.escalated(ticket.reason)
        await self._metric(ticket, "escalated", mt.ESCALATED, ticket.created_at,
                           reason=ticket.reason, value=0.0 if ticket.outside_hours else 1.0)
        await self.queue_changed()
        return ticket, True

    async def _load_transcript(self, ticket: Ticket, payload: dict[str, Any]) -> None:
        """The conversation so far, from Rasa's tracker (the record), else the payload."""
        synced = 0.0
        try:
            tracker = await self.rasa.tracker(ticket.conversation_id)
            for event in tracker.get("events") or []:
                await self._record(ticket, event, backfill=True)
                synced = max(synced, float(event.get("timestamp") or 0))
        except RasaError as exc:
            log.warning("ticket %d: transcript from the escalation payload (%s)", ticket.id,
                        exc)
            for entry in payload.get("transcript") or []:
                kind = {"customer": "customer", "agent": "agent"}.get(entry.get("role"),
                                                                      "assistant")
                at = datetime.fromisoformat(str(entry.get("at")))
                await self.store.add_message(ticket.id, kind, str(entry.get("text", "")),
                                             author=entry.get("author"), at=at)
            synced = datetime.fromisoformat(str(payload["created_at"])).timestamp()
        ticket.synced_ts = synced
        await self.store.update_fields(ticket.id, synced_ts=synced)
        # Events published between the tracker read and now come through the feed; rows
        # the feed already passed over before this ticket existed are read here.
        await self._backfill(ticket)

    async def _backfill(self, ticket: Ticket) -> None:
        rows = await self.events.latest_of(ticket.conversation_id, BACKFILL_ROWS)
        for _row_id, data in rows or []:
            await self._apply(ticket, json.loads(data))

    # The feed: Rasa's events, in order ----------------------------------------------------

    async def feed_once(self) -> int:
        async with self._feed_lock:
            return await self._feed_once()

    async def _feed_once(self) -> int:
        cursor = await self.store.cursor()
        if cursor == 0:
            # First start: begin at the end; older conversations are not ours.
            start = await self.events.last_id()
            if start is not None:
                await self.store.set_cursor(start or -1)
            return 0
        read = await self.events.after(max(cursor, 0), FEED_BATCH)
        if read is None:
            return 0
        rows = settled(read, max(cursor, 0), time.time())
        if not rows:
            return 0
        open_tickets = await self.store.open_conversations()
        for _row_id, sender, data in rows:
            ticket_id = open_tickets.get(sender)
            if ticket_id is not None:
                ticket = await self.store.get(ticket_id)
                if ticket is not None and ticket.status in OPEN:
                    await self._apply(ticket, json.loads(data))
        # Once per batch, not per event: a batch read again after a crash records nothing
        # twice (messages are keyed by their event time; the rest is idempotent).
        await self.store.set_cursor(int(rows[-1][0]))
        return len(rows)

    async def _record(self, ticket: Ticket, event: dict[str, Any],
                      backfill: bool = False) -> Message | None:
        kind = event.get("event")
        ts = float(event.get("timestamp") or 0)
        if kind == "user" and (event.get("metadata") or {}).get("is_external"):
            return None  # the product asking itself (the survey), not the customer
        if kind == "user":
            return await self.store.add_message(ticket.id, "customer",
                                                customer_text(event)[:MAX_TEXT_CHARS],
                                                at=_moment(ts), event_ts=ts)
        if kind == "bot" and event.get("text"):
            meta = event.get("metadata") or {}
            if meta.get("handoff_message_id") and not backfill:
                return None  # ours, recorded when the agent wrote it
            role = meta.get("from")
            kind_name = role if role in ("agent", "system") else "assistant"
            return await self.store.add_message(ticket.id, kind_name, str(event["text"]),
                                                author=meta.get("agent_name"), at=_moment(ts),
                                                event_ts=ts)
        return None

    async def _apply(self, ticket: Ticket, event: dict[str, Any]) -> None:
        ts = float(event.get("timestamp") or 0)
        if ts <= ticket.synced_ts:
            return
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "sentiment_trail":
            await self.store.update_fields(ticket.id, sentiment_json=json.dumps(
                event.get("value") or [], ensure_ascii=False))
            await self.hub.broadcast({"type": "ticket", "ticket_id": ticket.id})
            return
        if kind == "session_started" and continues_handoff(event):
            # A new Rasa session after a quiet spell, kept paused for this ticket
            # (actions/session.py): the chat stays with its agent or in the queue.
            log.info("ticket %d: new session for %s, kept with the ticket", ticket.id,
                     ticket.conversation_id)
            return
        if kind in ("restart", "session_started"):
            await self.customer_left(ticket, "The customer restarted the conversation.")
            return
        message = await self._record(ticket, event)
        if message is None:
            return
        await self._announce(message)
        if kind != "user":
            return
        await self.store.update_fields(ticket.id, last_customer_at=_moment(ts),
                                       last_customer_text=message.text[:500])
        if ticket.status == "queued" and _is_cancel(event):
            await self.customer_left(ticket, "The customer cancelled the wait.",
                                     say="cancelled")
            return
        if _asks_status(event):
            await self._tell_status(ticket)
        email = EMAIL_RE.search(message.text)
        if ticket.outside_hours and email and not ticket.customer_email:
            await self.store.update_fields(ticket.id, customer_email=email.group(0))
            ticket.customer_email = email.group(0)
            await self._to_customer(ticket, "system", self.strings.text(
                ticket.language, "email_saved", email=email.group(0), hours=EMAIL_ANSWER_HOURS))
        await self.hub.broadcast({"type": "queue"})

    # Agents' actions -------------------------------------------------------------------

    async def claim(self, ticket_id: int, agent: Agent) -> Ticket:
        try:
            ticket = await self.store.claim(ticket_id, agent, utcnow())
        except ClaimError as exc:
            raise ActionError(str(exc)) from exc
        await self._system(ticket, f"{agent.display_name} took the chat.")
        if self.prom is not None and ticket.first_claimed_at == ticket.claimed_at:
            self.prom.claimed(((aware(ticket.claimed_at) or utcnow())
                               - (aware(ticket.created_at) or utcnow())).total_seconds())
        await self._metric(ticket, f"claimed:{(aware(ticket.claimed_at) or utcnow()).timestamp()}",
                           mt.CLAIMED, ticket.claimed_at, agent=agent.display_name)
        await self._to_customer(ticket, "system", self.strings.text(
            ticket.language, "agent_joined", agent=agent.display_name),
            status={"state": "with_agent", "agent_name": agent.display_name})
        await self.queue_changed()
        return ticket

    async def _mine(self, ticket_id: int, agent: Agent) -> Ticket:
        ticket = await self.store.get(ticket_id)
        if ticket is None:
            raise ActionError("This chat does not exist.")
        if ticket.status != "assigned" or ticket.agent_id != agent.id:
            raise ActionError("This chat is not assigned to you: claim it first.")
        return ticket

    async def reply(self, ticket_id: int, agent: Agent, body: str) -> Message:
        ticket = await self._mine(ticket_id, agent)
        message = await self._to_customer(ticket, "agent", body, author=agent.display_name)
        await self._metric(ticket, f"message:{message.id}", mt.AGENT_MESSAGE, message.created_at,
                           agent=agent.display_name)
        return message

    async def note(self, ticket_id: int, agent: Agent, body: str) -> Message:
        ticket = await self.store.get(ticket_id)
        if ticket is None:
            raise ActionError("This chat does not exist.")
        message = await self.store.add_message(ticket.id, "note", body,
                                               author=agent.display_name)
        assert message is not None
        await self._announce(message)
        return message

    async def transfer(self, ticket_id: int, agent: Agent, target_id: int) -> Ticket:
        ticket = await self._mine(ticket_id, agent)
        target = await self.accounts.get(target_id)
        if target is None or not target.active:
            raise ActionError("No such agent.")
        if target.id == agent.id:
            raise ActionError("The chat is already yours.")
        if (await self.store.active_chats()).get(target.id, 0) >= target.max_chats:
            raise ActionError(f"{target.display_name} already has {target.max_chats} chats.")
        moved = await self.store.transfer(ticket.id, agent.id, target, utcnow())
        if moved is None:
            raise ActionError("The chat changed meanwhile; refresh and try again.")
        await self._system(moved, f"{agent.display_name} transferred the chat to "
                                  f"{target.display_name}.")
        await self._to_customer(moved, "system", self.strings.text(
            moved.language, "transferred", agent=target.display_name),
            status={"state": "with_agent", "agent_name": target.display_name})
        await self.queue_changed()
        return moved

    async def release(self, ticket_id: int, agent: Agent) -> Ticket:
        ticket = await self._mine(ticket_id, agent)
        released = await self.store.release(ticket.id, agent.id)
        if released is None:
            raise ActionError("The chat changed meanwhile; refresh and try again.")
        await self._system(released, f"{agent.display_name} put the chat back in the queue.")
        await self._to_customer(released, "system",
                                self.strings.text(released.language, "released"),
                                status={"state": "queued"})
        await self.queue_changed()
        return released

    async def resolve(self, ticket_id: int, agent: Agent) -> Ticket:
        ticket = await self._mine(ticket_id, agent)
        resolved = await self.store.resolve(ticket.id, agent.id, utcnow())
        if resolved is None:
            raise ActionError("The chat changed meanwhile; refresh and try again.")
        await self._system(resolved, f"{agent.display_name} resolved the chat and handed it "
                                     "back to the assistant.")
        await self._metric(resolved, "resolved", mt.RESOLVED, resolved.resolved_at,
                           agent=agent.display_name)
        await self._to_customer(resolved, "system", self.strings.text(
            resolved.language, "handback", agent=agent.display_name), command="resume",
            status={"state": "assistant"})
        await self.queue_changed()
        return resolved

    async def customer_left(self, ticket: Ticket, why: str, say: str | None = None) -> None:
        left = await self.store.customer_left(ticket.id, utcnow())
        if left is None:
            return
        await self._system(left, why)
        if left.status == "abandoned":
            await self._metric(left, "abandoned", mt.ABANDONED, left.resolved_at)
            # Whoever comes back finds the assistant answering again.
            await self._to_customer(left, "system", self.strings.text(
                left.language, say or "cancelled"), command="resume",
                status={"state": "assistant"})
        await self.queue_changed()

    # Messages out ------------------------------------------------------------------------

    async def _system(self, ticket: Ticket, body: str) -> None:
        message = await self.store.add_message(ticket.id, "system", body)
        if message is not None:
            await self._announce(message)

    async def _to_customer(self, ticket: Ticket, kind: str, body: str,
                           author: str | None = None, command: str | None = None,
                           status: dict[str, Any] | None = None) -> Message:
        message = await self.store.add_message(ticket.id, kind, body, author=author,
                                               to_customer=True, command=command,
                                               status=status)
        assert message is not None
        await self._announce(message)
        self._deliver.set()
        return message

    async def _announce(self, message: Message) -> None:
        await self.hub.broadcast({"type": "message", "ticket_id": message.ticket_id,
                                  "message": message_json(message)})

    def _events_for(self, message: Message, ticket: Ticket) -> list[dict[str, Any]]:
        meta = {"from": "agent" if message.kind == "agent" else "system",
                "agent_name": message.author, "handoff_message_id": message.id}
        if message.status_json:
            meta["status"] = json.loads(message.status_json)
        bot = {"event": "bot", "text": message.text, "metadata": meta}
        if message.command != "resume":
            return [bot]
        # Resume cleanly: forget the escalation and the mood that led to it, say so, and
        # end on action_listen so the next customer message starts a fresh turn.
        return [{"event": "resume"},
                {"event": "slot", "name": "escalation_reason", "value": None},
                {"event": "slot", "name": "sentiment_trail", "value": []},
                {"event": "slot", "name": "unresolved_turns", "value": 0.0},
                bot,
                {"event": "action", "name": "action_listen"}]

    async def deliver_once(self) -> int:
        """Send what is due, oldest first; a conversation's later messages wait for its
        earlier ones, so they arrive in order."""
        now = utcnow()
        blocked: set[int] = set()
        sent = 0
        for message in await self.store.undelivered():
            if message.ticket_id in blocked:
                continue
            due = aware(message.next_attempt_at)
            if due is not None and due > now:
                blocked.add(message.ticket_id)
                continue
            ticket = await self.store.get(message.ticket_id)
            if ticket is None:
                continue
            try:
                await self.rasa.append(ticket.conversation_id, self._events_for(message, ticket),
                                       ticket.channel)
            except RasaError as exc:
                wait = min(DELIVERY_RETRY_MAX_SECONDS, 2.0 ** message.attempts)
                await self.store.mark_delivery(message.id, str(exc), now,
                                               now + timedelta(seconds=wait))
                log.warning("message %d to %s not delivered (%s); retry in %.0f s",
                            message.id, ticket.conversation_id, exc, wait)
                blocked.add(message.ticket_id)
                continue
            await self.store.mark_delivery(message.id, None, utcnow())
            message.delivered_at = utcnow()
            await self._announce(message)
            sent += 1
            if message.command == "resume" and ticket.status == "resolved":
                # The agent resolved it: the conversation has ended, so ask how it went.
                await self.trigger_survey(ticket.conversation_id, ticket.channel,
                                          "agent_resolved")
        return sent

    # The queue ---------------------------------------------------------------------------

    async def expected_pickup_seconds(self) -> float:
        recent = await self.store.recent_pickup_seconds()
        return statistics.median(recent) if recent else self.settings.default_pickup_seconds

    async def queue_changed(self) -> None:
        """Tell queued customers their new place, and every console to refresh."""
        async with self._lock:
            queued = await self.store.queued()
            pickup = await self.expected_pickup_seconds()
            agents = max(1, len(self.hub.online_agents()))
            for position, ticket in enumerate(queued, start=1):
                if waiting_for_hours(ticket) or ticket.last_position == position:
                    continue
                minutes = wait_minutes(position, pickup, agents)
                if ticket.last_position is None:
                    key = "hours_started" if ticket.outside_hours else "queued"
                elif position == 1:
                    key = "queue_next"
                else:
                    key = "queue_update"
                if not await self.store.set_last_position(ticket.id, ticket.last_position,
                                                          position):
                    continue  # another process told this change
                await self._to_customer(ticket, "system", self.strings.text(
                    ticket.language, key, position=position, minutes=minutes),
                    status={"state": "queued", "position": position, "minutes": minutes})
        await self.hub.broadcast({"type": "queue"})

    async def sweep(self) -> None:
        """Customers silent in the queue for too long have left (not those queued outside
        agent hours, who were told the chat waits until agents are back)."""
        limit = utcnow() - timedelta(seconds=self.settings.customer_timeout_seconds)
        for ticket in await self.store.queued():
            if ticket.outside_hours:
                continue  # told to wait for the morning (or for an e-mail): not gone
            last = aware(ticket.last_customer_at)
            if last is not None and last < limit:
                await self.customer_left(ticket, "The customer left (no sign of life for "
                                         f"{int(self.settings.customer_timeout_seconds // 60)}"
                                         " min).")

    # Where a request stands ----------------------------------------------------------------

    async def status_of(self, conversation_id: str) -> dict[str, Any]:
        """The customer's request for a person: none, queued (place and wait), outside
        agent hours (when they are back) or with an agent (who)."""
        ticket = await self.store.open_for(conversation_id)
        status: dict[str, Any] = {"state": "none", "position": None, "minutes": None,
                                  "agent_name": None, "agents_back_text": None,
                                  "reason": None}
        if ticket is None:
            return status
        status["reason"] = ticket.reason
        if ticket.status == "assigned":
            status.update(state="with_agent",
                          agent_name=await self.store.agent_name(ticket.agent_id))
            return status
        if waiting_for_hours(ticket):
            status.update(state="outside_hours", agents_back_text=ticket.agents_back_text)
            return status
        queued = await self.store.queued()
        position = next((i for i, t in enumerate(queued, start=1) if t.id == ticket.id), 1)
        minutes = wait_minutes(position, await self.expected_pickup_seconds(),
                               len(self.hub.online_agents()))
        status.update(state="queued", position=position, minutes=minutes)
        return status

    async def _tell_status(self, ticket: Ticket) -> None:
        status = await self.status_of(ticket.conversation_id)
        key = {"queued": "status_queued", "with_agent": "status_with_agent",
               "outside_hours": "status_outside_hours"}.get(status["state"])
        if key is None:
            return
        await self._to_customer(ticket, "system", self.strings.text(
            ticket.language, key, position=status["position"], minutes=status["minutes"],
            agent=status["agent_name"], back=status["agents_back_text"] or ""),
            status={k: status[k] for k in ("state", "position", "minutes", "agent_name")})

    # Service quality -------------------------------------------------------------------------

    async def _metric(self, ticket: Ticket, suffix: str, kind: str, at: datetime | None,
                      **values: Any) -> None:
        if self.metrics is None:
            return
        try:
            await self.metrics.record(f"ticket:{ticket.id}:{suffix}", ticket.conversation_id,
                                      kind, aware(at) or utcnow(), channel=ticket.channel,
                                      language=ticket.language, ticket_id=ticket.id, **values)
        except Exception:
            # The record must never stop the queue; the message says which row is missing.
            log.exception("metrics: ticket %d %s not recorded", ticket.id, suffix)

    async def start_of_hours(self) -> int:
        """Agent hours have started for chats queued outside them: tell each customer their
        place and wait (``queue_changed``); their pickup clocks start now (bot/handoff/hours.py)."""
        started = await start_hours(self.store, self.clock(), bool(self.hub.online_agents()))
        for ticket in started:
            await self._system(ticket, "Agent hours started: the customer is told their place "
                                       "in the queue, and the pickup clock runs from "
                                       f"{iso(ticket.hours_started_at)}.")
        if started:
            await self.queue_changed()
        return len(started)

    async def check_pickup(self) -> int:
        """The 4-minute rule: a chat still waiting for its first agent past the target, in
        agent hours, alerts every console and the supervisors' webhook, once."""
        await self.start_of_hours()
        now = self.clock()
        target = self.settings.pickup_target_seconds
        raised = 0
        for ticket in await self.store.queued():
            started = pickup_clock(ticket)
            if started is None or ticket.alerted_at is not None \
                    or ticket.first_claimed_at is not None:
                continue
            waited = (now - started).total_seconds()
            if waited < target or not await self.alerts.raise_alert(ticket.id, now):
                continue
            alert = alert_json(ticket, waited, target)
            log.warning("ticket %d waited %.0f s for a person (target %d s)", ticket.id,
                        waited, target)
            await self._metric(ticket, "alert", mt.PICKUP_ALERT, now, reason=ticket.reason,
                               value=waited)
            await self.hub.broadcast(alert)
            if self.prom is not None:
                self.prom.pickup_alert()
            raised += 1
        return raised

    async def trigger_survey(self, conversation_id: str, channel: str, trigger: str) -> None:
        """Ask Rasa to run the survey; the action decides whether it is due (never twice,
        never during a handoff)."""
        try:
            await self.rasa.trigger_intent(conversation_id, SURVEY_INTENT,
                                           {"survey_trigger": trigger}, channel)
        except RasaError as exc:
            log.warning("survey for %s (%s) not triggered: %s", conversation_id, trigger, exc)

    async def survey_sweep(self) -> int:
        """Conversations quiet for SURVEY_QUIET_SECONDS get the survey, once per silence."""
        quiet = self.settings.survey_quiet_seconds
        if self.metrics is None or quiet <= 0:
            return 0
        before = utcnow() - timedelta(seconds=quiet)
        open_now = await self.store.open_conversations()
        nudged = 0
        for conversation_id, last_at, channel in await self.metrics.quiet_conversations(
                before - SURVEY_WINDOW, before):
            if conversation_id in open_now or not channel:
                continue  # never in the middle of a handoff
            if await self.metrics.has(mt.SURVEY_NUDGED, conversation_id, last_at):
                continue
            await self.metrics.record(f"nudge:{conversation_id}:{last_at.timestamp()}",
                                      conversation_id, mt.SURVEY_NUDGED, channel=channel)
            await self.trigger_survey(conversation_id, channel, "quiet")
            nudged += 1
        return nudged

    # Background loops --------------------------------------------------------------------

    async def _loop(self, name: str, work: Any, pause: float,
                    event: asyncio.Event | None = None) -> None:
        while True:
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; carrying on", name)
            if event is None:
                await asyncio.sleep(pause)
                continue
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), timeout=pause)
            except TimeoutError:
                pass

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._loop("event feed", self.feed_once,
                                        self.settings.feed_poll_seconds)),
            loop.create_task(self._loop("delivery", self.deliver_once, 1.0, self._deliver)),
            loop.create_task(self._loop("sweep", self.sweep, SWEEP_SECONDS)),
            loop.create_task(self._loop("pickup alerts", self.check_pickup,
                                        self.settings.alert_poll_seconds)),
            loop.create_task(self.alerts.run(self.settings.alert_poll_seconds)),
        ]
        if self.collector is not None:
            self._tasks += [
                loop.create_task(self._loop("metrics", self.collector.collect_once,
                                            max(0.5, self.settings.feed_poll_seconds))),
                loop.create_task(self._loop("surveys", self.survey_sweep,
                                            min(30.0, max(1.0, self.settings.survey_quiet_seconds
                                                          / 4)))),
            ]
        self._deliver.set()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []
        await self.alerts.close()
        await self.rasa.close()
        await self.events_engine.dispose()
        if self.collector is not None and self.collector.actions_engine is not None:
            await self.collector.actions_engine.dispose()


# JSON for the console -------------------------------------------------------------------

def message_json(message: Message) -> dict[str, Any]:
    return {"id": message.id, "kind": message.kind, "author": message.author,
            "text": message.text, "at": iso(message.created_at),
            "delivered": (not message.to_customer) or message.delivered_at is not None}


def ticket_json(ticket: Ticket, agents: dict[int, Agent], position: int | None,
                now: datetime, detail: bool = False,
                target_seconds: int = 240) -> dict[str, Any]:
    created = aware(ticket.created_at) or now
    agent = agents.get(ticket.agent_id) if ticket.agent_id is not None else None
    order = json.loads(ticket.order_json or "null")
    data: dict[str, Any] = {
        "id": ticket.id, "conversation_id": ticket.conversation_id, "channel": ticket.channel,
        "language": ticket.language, "reason": ticket.reason,
        "reason_text": REASON_TEXT.get(ticket.reason, ticket.reason),
        "status": ticket.status, "priority": ticket.priority, "position": position,
        "created_at": iso(created), "claimed_at": iso(ticket.claimed_at),
        "waiting_seconds": int(((aware(ticket.first_claimed_at) or now) - created)
                               .total_seconds()),
        "agent": {"id": agent.id, "display_name": agent.display_name} if agent else None,
        "last_customer_text": ticket.last_customer_text,
        "customer_left": ticket.customer_left_at is not None,
        "outside_hours": ticket.outside_hours, "agents_back_text": ticket.agents_back_text,
        "customer_email": ticket.customer_email,
        "order_id": order.get("order_id") if isinstance(order, dict) else None,
        "alerted": ticket.alerted_at is not None,
    }
    clock = pickup_clock(ticket)
    data["pickup_clock_at"] = iso(clock)
    data["over_target"] = (ticket.status == "queued" and clock is not None
                           and ticket.first_claimed_at is None
                           and (now - clock).total_seconds() >= target_seconds)
    if detail:
        data.update({"detail": ticket.detail,
                     "sentiment_trail": json.loads(ticket.sentiment_json or "[]"),
                     "order": order, "resolved_at": iso(ticket.resolved_at), "events": []})
    return data


def positions(queued: Iterable[Ticket]) -> dict[int, int]:
    return {ticket.id: index for index, ticket in enumerate(queued, start=1)}
