"""The handoff service's database: its tables (agents, sessions, tickets, messages, the
feed cursor, pending alerts, login throttling), the connection and the schema, with the
columns added since a table first shipped. ``store.TicketStore`` is what changes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    inspect,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

OPEN = ("queued", "assigned")
# Priority by reason: each level counts as HANDOFF_PRIORITY_STEP_SECONDS of waiting.
PRIORITIES = {"negative_sentiment": 3, "lost_parcel": 2, "lookup_locked": 2, "form_failed": 2,
              "unresolved": 1, "needs_person": 1, "customer_request": 1}
REASON_TEXT = {
    "customer_request": "Asked for a person",
    "negative_sentiment": "Upset customer",
    "unresolved": "Assistant could not answer",
    "form_failed": "Stuck in the order questions",
    "lookup_locked": "Order look-up locked",
    "lost_parcel": "Lost parcel: replacement or refund",
    "needs_person": "Needs a person (policy)",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes for timezone-aware columns; they are UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    moment = aware(moment)
    return moment.isoformat(timespec="seconds") if moment else None


class Base(DeclarativeBase):
    pass


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    max_chats: Mapped[int] = mapped_column(Integer, default=3)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # "agent" or "supervisor": supervisors also see the service-quality dashboard.
    role: Mapped[str] = mapped_column(String(16), default="agent", server_default="agent")


class AgentSession(Base):
    __tablename__ = "agent_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    escalation_id: Mapped[str] = mapped_column(String(64), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    channel: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[int] = mapped_column(Integer)
    # Queue order: created (epoch s) minus priority x step; smaller goes first. Static, so
    # a released ticket gets its old place back.
    queue_key: Mapped[float] = mapped_column(Float, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    first_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), nullable=True,
                                                 index=True)
    outside_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    agents_back_text: Mapped[str | None] = mapped_column(String(120), nullable=True)
    customer_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    customer_left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)
    last_customer_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_customer_text: Mapped[str] = mapped_column(Text, default="")
    order_json: Mapped[str] = mapped_column(Text, default="null")
    sentiment_json: Mapped[str] = mapped_column(Text, default="[]")
    # Rasa event time up to which the transcript is known (later feed events are new).
    synced_ts: Mapped[float] = mapped_column(Float, default=0.0)
    last_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # When the wait passed the pickup target and consoles and supervisors were alerted.
    alerted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Queued outside agent hours: when agents are back (from the escalation), and when
    # agent hours did start for this chat, the start of its pickup clock (handoff/hours.py).
    agents_back_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                            nullable=True)
    hours_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                              nullable=True)


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))      # customer/assistant/agent/system/note
    author: Mapped[str | None] = mapped_column(String(120), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_ts: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    # Outbound to the customer's channel (agent replies, queue notices, the hand-back).
    to_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    command: Mapped[str | None] = mapped_column(String(16), nullable=True)  # "resume"
    # Where the customer's request stands after this message (JSON: state, position,
    # minutes, agent_name); channels that can show it (the widget) do.
    status_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                          nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                             nullable=True, index=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class FeedCursor(Base):
    __tablename__ = "feed_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class PendingAlert(Base):
    """A pickup alert not yet acknowledged by the supervisors' webhook (handoff/alert_queue.py).

    Only the ticket's id: the body is written from the ticket at each attempt, so an erased
    conversation leaves nothing here, and the row goes once the alert is acknowledged or moot.
    """

    __tablename__ = "pending_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(Integer, unique=True)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # A process posting it holds it until then (several handoff processes share the table).
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class LoginThrottleRow(Base):
    """Failed console logins under one key (handoff/throttle.py); the key is a hash."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)


class ClaimError(Exception):
    """Why a claim failed, in words for the agent."""


@dataclass
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"


def open_database(url: str) -> Database:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    engine = create_async_engine(url, **kwargs)
    return Database(engine, async_sessionmaker(engine, expire_on_commit=False))


def _column_names(sync: Any, table: str) -> set[str]:
    return {column["name"] for column in inspect(sync).get_columns(table)}


# Columns added after a table first shipped: (table, column, SQL type). create_all makes
# missing tables only, so these are added to older databases here.
ADDED_COLUMNS = (("messages", "status_json", "TEXT"),
                 ("agents", "role", "VARCHAR(16) NOT NULL DEFAULT 'agent'"),
                 ("tickets", "alerted_at", "TIMESTAMP WITH TIME ZONE"),
                 ("tickets", "agents_back_at", "TIMESTAMP WITH TIME ZONE"),
                 ("tickets", "hours_started_at", "TIMESTAMP WITH TIME ZONE"))
ROLES = ("agent", "supervisor")


async def create_schema(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        for table, column, sql_type in ADDED_COLUMNS:
            present = await conn.run_sync(_column_names, table)
            if column not in present:
                await conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))
