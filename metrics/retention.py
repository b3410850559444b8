"""The erasure log and the retention job: every erasure (a customer's request) and every
retention run is logged in ``erasure_log`` (metrics database) with who, when and how many
rows, never the content (the conversation id only as a salted hash); ``RetentionJob``
deletes what is older than the retention period, shortly after start, then daily.
What is deleted, and where, is ``erase.py``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Text,
    insert,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from metrics.erase import (
    RETENTION_ACTOR,
    Counts,
    RetentionSettings,
    StoreRef,
    Stores,
    as_aware,
    as_utc,
    erase_conversation,
    purge_older_than,
    store_engine,
    table_names,
)

log = logging.getLogger(__name__)


class _Base(DeclarativeBase):
    pass


class ErasureLogRow(_Base):
    """One erasure or retention run: who, when, how many rows; never the content."""

    __tablename__ = "erasure_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(16))             # conversation | retention
    actor: Mapped[str] = mapped_column(String(120))           # agent username | retention job
    # SHA-256 (hex) of the conversation id, salted; None for a retention run.
    conversation_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    counts_json: Mapped[str] = mapped_column(Text)


# The erasure log ------------------------------------------------------------------------

def conversation_ref(conversation_id: str, salt: str = "") -> str:
    """What the log keeps instead of the id: SHA-256 hex, an HMAC keyed with the salt."""
    raw = conversation_id.encode()
    if salt:
        return hmac.new(salt.encode(), raw, hashlib.sha256).hexdigest()
    return hashlib.sha256(raw).hexdigest()


async def create_log_schema(metrics: StoreRef) -> None:
    async with store_engine(metrics, create=True) as engine:
        if engine is not None:
            async with engine.begin() as conn:
                await conn.run_sync(_Base.metadata.create_all)


async def record_erasure(metrics: StoreRef, *, kind: Literal["conversation", "retention"],
                         actor: str, counts: Counts, now: datetime,
                         conversation_id: str | None = None, salt: str = "") -> None:
    """Log an erasure in ``erasure_log`` (metrics database): the id only as a salted hash."""
    row = {"at": as_utc(now), "kind": kind, "actor": actor[:120],
           "conversation_ref": (conversation_ref(conversation_id, salt)
                                if conversation_id is not None else None),
           "counts_json": json.dumps(counts, sort_keys=True)}
    if metrics is None:
        log.warning("erasure not logged: METRICS_DB_URL is not configured (%s)", row)
        return
    async with store_engine(metrics, create=True) as engine:
        assert engine is not None
        async with engine.begin() as conn:
            await conn.run_sync(_Base.metadata.create_all)
            await conn.execute(insert(ErasureLogRow).values(**row))


async def erasures(metrics: StoreRef, limit: int = 100) -> list[dict[str, Any]]:
    """The latest log entries, newest first (for an audit view)."""
    async with store_engine(metrics) as engine:
        if engine is None:
            return []
        async with engine.connect() as conn:
            if "erasure_log" not in await table_names(conn):
                return []
            rows = await conn.execute(select(ErasureLogRow.__table__)
                                      .order_by(ErasureLogRow.id.desc()).limit(limit))
            return [{**row._asdict(), "at": as_aware(row.at),
                     "counts": json.loads(row.counts_json)} for row in rows]


async def erase_and_log(stores: Stores, conversation_id: str, actor: str,
                        now: datetime, salt: str = "") -> Counts:
    """A customer's request: erase the conversation everywhere, then log it."""
    counts = await erase_conversation(stores, conversation_id)
    await record_erasure(stores.metrics, kind="conversation", actor=actor, counts=counts,
                         now=now, conversation_id=conversation_id, salt=salt)
    log.info("conversation %s… erased by %s: %s", conversation_ref(conversation_id, salt)[:12],
             actor, counts)
    return counts


async def purge_and_log(stores: Stores, cutoff: datetime, now: datetime,
                        actor: str = RETENTION_ACTOR) -> Counts:
    """The retention rule (``purge_older_than``), then its log entry."""
    counts = await purge_older_than(stores, cutoff)
    await record_erasure(stores.metrics, kind="retention", actor=actor, counts=counts, now=now)
    return counts


# The scheduled job ----------------------------------------------------------------------

def _utcnow() -> datetime:
    return datetime.now(UTC)


class RetentionJob:
    """Deletes what is older than the retention period: shortly after start, then daily."""

    def __init__(self, stores: Stores, settings: RetentionSettings,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.stores = stores
        self.settings = settings
        self.clock = clock
        self.last_run: datetime | None = None
        self.last_counts: Counts = {}
        self._task: asyncio.Task[None] | None = None

    def cutoff(self, now: datetime) -> datetime:
        return as_utc(now) - timedelta(days=self.settings.days)

    async def run_once(self, now: datetime | None = None) -> Counts:
        now = as_utc(now or self.clock())
        cutoff = self.cutoff(now)
        counts = await purge_and_log(self.stores, cutoff, now)
        self.last_run, self.last_counts = now, counts
        log.info("retention: deleted what is older than %s (%d days): %s",
                 cutoff.isoformat(timespec="seconds"), self.settings.days,
                 {key: value for key, value in counts.items() if value} or "nothing")
        return counts

    async def _loop(self) -> None:
        await asyncio.sleep(self.settings.first_run_seconds)
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the job must survive a database hiccup
                log.exception("retention run failed; next try in %.0f s",
                              self.settings.interval_seconds)
            await asyncio.sleep(self.settings.interval_seconds)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
