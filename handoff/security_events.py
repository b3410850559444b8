"""Security events from the action server: an order or a client locked after failed
verifications, and each conversation such a lock refused.

They arrive on the escalation webhook (signed, retried by the action server's outbox, told
apart by ``kind: "security_event"``, see ``contract/payload.py``), are stored once per
``event_id``, and the console lists the latest (``GET /api/security-events``). A lock that
hits a conversation which never asks for a person is still seen by an agent this way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from handoff.store import Base, Database, utcnow

EVENTS = ("order_locked", "client_locked", "lookup_refused")
SCOPES = ("order", "client")
LISTED = 100
_TEXT_FIELDS = {"event_id": 64, "subject": 255, "until": 40, "conversation_id": 255,
                "channel": 64, "created_at": 40, "detail": 2000}


class SecurityEventRow(Base):
    __tablename__ = "security_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    event: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(255))
    until: Mapped[str] = mapped_column(String(40))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    conversation_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def problem_of(body: dict[str, Any]) -> str | None:
    """What is wrong with a security event's body, or None."""
    if body.get("event") not in EVENTS:
        return f"'event' must be one of {', '.join(EVENTS)}"
    if body.get("scope") not in SCOPES:
        return "'scope' must be 'order' or 'client'"
    for name, limit in _TEXT_FIELDS.items():
        value = body.get(name)
        if not isinstance(value, str) or not value or len(value) > limit:
            return f"'{name}' must be a non-empty string of at most {limit} characters"
    failures = body.get("failures")
    if not isinstance(failures, int) or isinstance(failures, bool) or not 0 <= failures <= 10**6:
        return "'failures' must be a whole number from 0"
    return None


async def record(db: Database, body: dict[str, Any]) -> tuple[int, bool]:
    """Store the event once; returns its row id and whether it is new."""
    async with db.sessions() as session:
        existing = await session.scalar(select(SecurityEventRow.id)
                                        .where(SecurityEventRow.event_id == body["event_id"]))
        if existing is not None:
            return existing, False
        row = SecurityEventRow(
            event_id=body["event_id"], event=body["event"], scope=body["scope"],
            subject=body["subject"], until=body["until"], failures=body["failures"],
            conversation_id=body["conversation_id"], channel=body["channel"],
            detail=body["detail"], received_at=utcnow())
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:  # the same event from a retry that raced this one
            await session.rollback()
            found = await session.scalar(select(SecurityEventRow.id)
                                         .where(SecurityEventRow.event_id == body["event_id"]))
            return int(found or 0), False
        return row.id, True


async def recent(db: Database, limit: int = LISTED) -> list[dict[str, Any]]:
    async with db.sessions() as session:
        rows = await session.scalars(select(SecurityEventRow)
                                     .order_by(SecurityEventRow.id.desc()).limit(limit))
        return [{"id": row.id, "event": row.event, "scope": row.scope, "subject": row.subject,
                 "until": row.until, "failures": row.failures,
                 "conversation_id": row.conversation_id, "channel": row.channel,
                 "detail": row.detail,
                 "received_at": row.received_at.replace(
                     tzinfo=row.received_at.tzinfo or UTC).isoformat(timespec="seconds")}
                for row in rows]
