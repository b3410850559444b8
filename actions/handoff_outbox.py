"""A durable outbox for escalations: nothing is lost while the handoff service is down.

``action_human_handoff`` writes the escalation to the ``handoff_outbox`` table in the
same database as the rest of the action server's state, then wakes the sender. The sender
POSTs it, signed (``contract/signing.py``), to ``HANDOFF_WEBHOOK_URL`` and retries with
exponential back-off (1 s doubling to 60 s) until the receiver answers 2xx. The receiver is
idempotent on ``escalation_id``, so a retry after a lost response creates no second
ticket. Rows are leased before sending, so several action-server processes can share the
table without sending one row twice at the same time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import DateTime, Integer, String, Text, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contract.payload import Escalation, SecurityEvent
from contract.signing import sign

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0
LEASE_SECONDS = 30.0
REQUEST_TIMEOUT_SECONDS = 10.0
IDLE_POLL_SECONDS = 5.0


class _Base(DeclarativeBase):
    pass


class OutboxRow(_Base):
    __tablename__ = "handoff_outbox"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


def backoff(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: 1, 2, 4 ... 60."""
    return float(min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1)))


def _utc() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class HandoffOutbox:
    def __init__(self, engine: AsyncEngine, url: str, secret: str,
                 now: Callable[[], datetime] = _utc) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.url = url
        self.secret = secret
        self.now = now
        self._wake = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_Base.metadata.create_all)

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    async def enqueue(self, escalation: Escalation | SecurityEvent) -> None:
        """Store the escalation or security event (durably, before the customer is told)
        and wake the sender; the same webhook takes both (a security event names its
        ``kind``)."""
        now = self.now()
        row_id = str(escalation.get("event_id") or escalation.get("escalation_id"))
        async with self.sessions.begin() as session:
            if await session.get(OutboxRow, row_id) is None:
                session.add(OutboxRow(
                    id=row_id, conversation_id=escalation["conversation_id"],
                    body=json.dumps(escalation, ensure_ascii=False), created_at=now, attempts=0,
                    next_attempt_at=now))
        self._wake.set()

    async def pending(self) -> list[OutboxRow]:
        async with self.sessions() as session:
            rows = await session.scalars(select(OutboxRow).where(OutboxRow.delivered_at.is_(None))
                                         .order_by(OutboxRow.created_at))
            return list(rows)

    async def _lease_due(self, limit: int = 20) -> list[OutboxRow]:
        now = self.now()
        async with self.sessions.begin() as session:
            candidates = list(await session.scalars(
                select(OutboxRow.id).where(OutboxRow.delivered_at.is_(None),
                                           OutboxRow.next_attempt_at <= now,
                                           or_(OutboxRow.leased_until.is_(None),
                                               OutboxRow.leased_until < now))
                .order_by(OutboxRow.created_at).limit(limit)))
        leased = []
        for row_id in candidates:
            async with self.sessions.begin() as session:
                # A conditional update: only one process wins the lease on a row.
                result = await session.execute(
                    update(OutboxRow).where(OutboxRow.id == row_id,
                                            OutboxRow.delivered_at.is_(None),
                                            or_(OutboxRow.leased_until.is_(None),
                                                OutboxRow.leased_until < now))
                    .values(leased_until=now + timedelta(seconds=LEASE_SECONDS)))
                if getattr(result, "rowcount", 0) == 1:
                    row = await session.get(OutboxRow, row_id)
                    if row is not None:
                        leased.append(row)
        return leased

    async def deliver_due(self) -> int:
        """Send every row that is due; return how many were delivered."""
        delivered = 0
        for row in await self._lease_due():
            error = await self._post(row.body)
            now = self.now()
            async with self.sessions.begin() as session:
                current = await session.get(OutboxRow, row.id)
                if current is None:
                    continue
                current.attempts += 1
                current.leased_until = None
                if error is None:
                    current.delivered_at = now
                    current.last_error = None
                    delivered += 1
                    log.info("escalation %s of %s delivered after %d attempt(s)", row.id,
                             row.conversation_id, current.attempts)
                else:
                    wait = backoff(current.attempts)
                    current.next_attempt_at = now + timedelta(seconds=wait)
                    current.last_error = error
                    log.warning("escalation %s not delivered (%s); retry %d in %.0f s", row.id,
                                error, current.attempts, wait)
        return delivered

    async def next_due_in(self) -> float:
        async with self.sessions() as session:
            due = await session.scalar(select(OutboxRow.next_attempt_at)
                                       .where(OutboxRow.delivered_at.is_(None))
                                       .order_by(OutboxRow.next_attempt_at).limit(1))
        if due is None:
            return IDLE_POLL_SECONDS
        return max(0.05, min(IDLE_POLL_SECONDS, (_aware(due) - self.now()).total_seconds()))

    async def _post(self, body: str) -> str | None:
        """None when the receiver took it, else what went wrong."""
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS))
        raw = body.encode()
        headers = {"Content-Type": "application/json", **sign(self.secret, raw)}
        try:
            async with self._http.post(self.url, data=raw, headers=headers) as response:
                if 200 <= response.status < 300:
                    return None
                detail = (await response.text())[:200]
                return f"HTTP {response.status}: {detail}"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"[:300]

    async def run(self) -> None:
        """The sender loop: runs for the life of the action server."""
        while True:
            try:
                await self.deliver_due()
                wait = await self.next_due_in()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must survive a database hiccup
                log.exception("handoff outbox: sending failed; retrying in %.0f s",
                              IDLE_POLL_SECONDS)
                wait = IDLE_POLL_SECONDS
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except TimeoutError:
                pass

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        await self.engine.dispose()
