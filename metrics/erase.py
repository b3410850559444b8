"""Erasing a conversation on request, and the retention job, across every store.

The product keeps a conversation in five databases:

* ``tracker``: Rasa's SQL tracker store, table ``events`` (``sender_id``, ``timestamp``
  epoch seconds); ``TRACKER_DB_DIALECT`` / ``TRACKER_DB`` as in ``endpoints.yml``, or
  ``TRACKER_DB_URL`` (an async SQLAlchemy URL) for a server database;
* ``broker``: Rasa's SQL event broker, table ``events`` (``sender_id``, ``data``: the event
  as JSON with its ``timestamp``); ``RASA_EVENTS_DB_URL``;
* ``actions``: the action server's records (``knowledge_turns``, ``handoff_outbox``,
  ``lookup_failures``); ``ACTIONS_DB_URL``;
* ``handoff``: the queue (``tickets``, their ``messages`` and pending pickup alerts) and
  the security events of failed verifications; ``HANDOFF_DB_URL``;
* ``metrics``: ``metric_events`` and ``surveys``, and the ``erasure_log`` written here;
  ``METRICS_DB_URL``.

Every table is listed once, with its conversation column and age rule, in the registry
``contract/tables.py``; erasure and retention are loops over it.

Stores are written upstream first (Rasa, then the action server, then the handoff
service, then the metrics), so a record folded downstream while an erasure runs cannot
outlive its source. Every delete is idempotent: a run that fails halfway is simply run
again. The ``erasure_log`` keeps who erased what and how many rows, never the content: the
conversation is named by a SHA-256 of its id (an HMAC keyed with ``ERASURE_LOG_SALT`` when
that is set), so an operator holding an id can check it was erased without the log
revealing any id.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    cast,
    delete,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.expression import TableClause

from contract import tables
from contract.settings import SettingsError, database_url, integer, number

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
RETENTION_ACTOR = "retention job"
BROKER_BATCH = 1000

# A store: an async SQLAlchemy URL, an engine the caller owns, or None (not kept).
StoreRef = str | AsyncEngine | None
Counts = dict[str, int]

# The tables come from the registry (contract/tables.py); these names stay for callers.
TRACKER_EVENTS = tables.by_key("tracker.events").rows
BROKER_EVENTS = tables.by_key("broker.events").rows
TICKETS = tables.TICKETS.rows


@dataclass
class Stores:
    """Where each store lives; None means the product does not keep that store here."""

    tracker: StoreRef = None
    broker: StoreRef = None
    actions: StoreRef = None
    handoff: StoreRef = None
    metrics: StoreRef = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Stores:
        """The stores from the same variables and defaults the processes use."""
        env = dict(os.environ if env is None else env)
        return cls(
            tracker=tracker_url(env),
            broker=database_url(env, "RASA_EVENTS_DB_URL"),
            actions=database_url(env, "ACTIONS_DB_URL"),
            handoff=database_url(env, "HANDOFF_DB_URL"),
            metrics=database_url(env, "METRICS_DB_URL"),
        )


def tracker_url(env: Mapping[str, str]) -> str:
    """Rasa's tracker store as an async URL: ``TRACKER_DB_URL``, else built like Rasa does
    from ``TRACKER_DB_DIALECT`` [sqlite] and ``TRACKER_DB`` [var/tracker.db]."""
    explicit = env.get("TRACKER_DB_URL", "")
    if explicit:
        return explicit
    dialect = env.get("TRACKER_DB_DIALECT") or "sqlite"
    if dialect != "sqlite":
        raise SettingsError(
            f"TRACKER_DB_URL must be set (an async SQLAlchemy URL such as "
            f"postgresql+asyncpg://user:password@host/db) when TRACKER_DB_DIALECT is "
            f"{dialect!r}: erasure and retention must reach the tracker store")
    path = Path(env.get("TRACKER_DB") or ROOT / "var" / "tracker.db")
    if not path.is_absolute():
        path = ROOT / path  # Rasa runs from the repository (bot/processes.py)
    return f"sqlite+aiosqlite:///{path}"


@dataclass(frozen=True)
class RetentionSettings:
    days: int = 365                      # the policy's 12 months
    interval_seconds: float = 86400.0    # once a day
    first_run_seconds: float = 60.0      # shortly after the service starts
    log_salt: str = ""                   # ERASURE_LOG_SALT

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetentionSettings:
        env = dict(os.environ if env is None else env)
        days = integer(env, "RETENTION_DAYS", 365, 1, what="a whole number of days",
                       hint=" (365 = the policy's 12 months)")
        return cls(days=days,
                   interval_seconds=number(env, "RETENTION_INTERVAL_SECONDS", 86400.0, 1.0,
                                           what="a number of seconds"),
                   first_run_seconds=number(env, "RETENTION_FIRST_RUN_SECONDS", 60.0, 0.0,
                                            what="a number of seconds"),
                   log_salt=env.get("ERASURE_LOG_SALT", ""))


# Opening stores -------------------------------------------------------------------------

def _missing_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database or ""
    return database not in ("", ":memory:") and not Path(database).exists()


@contextlib.asynccontextmanager
async def store_engine(ref: StoreRef, create: bool = False) -> AsyncIterator[AsyncEngine | None]:
    """The store's engine; None when it is not kept, or is a SQLite file never created
    (unless ``create``). Engines made from a URL are disposed afterwards."""
    if ref is None:
        yield None
        return
    if isinstance(ref, AsyncEngine):
        yield ref
        return
    if not create and _missing_sqlite_file(ref):
        yield None
        return
    kwargs: dict[str, Any] = {}
    if ref.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}  # Rasa may be writing the same file
    engine = create_async_engine(ref, **kwargs)
    try:
        yield engine
    finally:
        await engine.dispose()


async def table_names(conn: AsyncConnection) -> set[str]:
    return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


def as_aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a timezone-aware datetime is needed")
    return moment.astimezone(UTC)


async def _delete(conn: AsyncConnection, statement: Any) -> int:
    result = await conn.execute(statement)
    return max(0, int(getattr(result, "rowcount", 0) or 0))


# Erasing one conversation ---------------------------------------------------------------

async def erase_conversation(stores: Stores, conversation_id: str) -> Counts:
    """Delete every row of ``conversation_id`` from every table of the registry
    (``contract.tables.CONVERSATION_TABLES``), store by store, upstream first.

    Returns the rows deleted per ``"store.table"``; a store not kept and a table not
    created yet are left out (they hold nothing). Tickets are deleted whatever their
    state: a caller erasing a conversation a person still has should resolve it first.
    """
    if not conversation_id:
        raise ValueError("conversation_id is empty")
    return await _each_table(stores, lambda entry, present: _of_conversation(
        entry, present, conversation_id))


def _of_conversation(entry: tables.ConversationTable, present: set[str],
                     conversation_id: str) -> Any:
    """The delete of ``entry``'s rows of one conversation, or None (nothing to reach)."""
    if entry.conversation is not None:
        return delete(entry.rows).where(entry.rows.c[entry.conversation] == conversation_id)
    parent = tables.by_key(f"{entry.store}.{entry.parent}")
    if parent.name not in present or parent.conversation is None:
        return None
    chosen = select(parent.rows.c.id).where(
        parent.rows.c[parent.conversation] == conversation_id).scalar_subquery()
    return delete(entry.rows).where(entry.rows.c[str(entry.parent_key)].in_(chosen))


async def _each_table(stores: Stores, statement: Callable[[tables.ConversationTable, set[str]],
                                                          Any]) -> Counts:
    """Run ``statement(entry, tables present)`` for every registered table a store has, one
    transaction per store, upstream stores first; the rows deleted per ``store.table``."""
    counts: Counts = {}
    for store in tables.STORES:
        async with store_engine(getattr(stores, store)) as engine:
            if engine is None:
                continue
            async with engine.begin() as conn:
                present = await table_names(conn)
                for entry in tables.in_store(store):
                    if entry.name not in present:
                        continue
                    deleted = await _run(conn, statement(entry, present))
                    if deleted is not None:
                        counts[entry.key] = deleted
    return counts


async def _run(conn: AsyncConnection, made: Any) -> int | None:
    """Rows deleted by ``made`` (a delete, a broker purge), or None when it is None."""
    if made is None:
        return None
    if isinstance(made, _BrokerPurge):
        return await _purge_broker(conn, made.epoch)
    return await _delete(conn, made)


@dataclass(frozen=True)
class _BrokerPurge:
    """Old broker events: their time is inside the JSON (see ``_purge_broker``)."""

    epoch: float


# Retention ------------------------------------------------------------------------------

async def purge_older_than(stores: Stores, cutoff: datetime) -> Counts:
    """The retention rule: delete what is older than ``cutoff``, row by row, in every table
    of the registry, by its age rule (``contract.tables.AgeRule``):

    * tracker store and event broker: events whose ``timestamp`` is before the cutoff (a
      conversation that went on past it keeps its newer events);
    * handoff: tickets resolved or abandoned (any state but queued/assigned) before the
      cutoff, with all their messages and alerts; an open ticket is never touched, however
      old; security events received before the cutoff;
    * actions: knowledge turns created, escalation outbox rows *delivered* (an undelivered
      escalation is kept until it is delivered) and look-up failure counts last updated
      before the cutoff;
    * metrics: metric events (``at``) and surveys (``asked_at``) before the cutoff.

    The erasure log itself is kept: it holds no content.
    """
    cutoff = as_utc(cutoff)
    return await _each_table(stores, lambda entry, present: _older_than(entry, present,
                                                                         cutoff))


def _closed_before(rows: TableClause, cutoff: datetime) -> Any:
    closed = ~rows.c.status.in_(tables.OPEN_TICKETS)
    return closed & (func.coalesce(rows.c.resolved_at, rows.c.created_at) < cutoff)


def _older_than(entry: tables.ConversationTable, present: set[str], cutoff: datetime) -> Any:
    rows = entry.rows
    if entry.age == "epoch":
        return delete(rows).where(rows.c[str(entry.age_column)] < cutoff.timestamp())
    if entry.age == "json-timestamp":
        return _BrokerPurge(cutoff.timestamp())
    if entry.age == "datetime":
        return delete(rows).where(rows.c[str(entry.age_column)] < cutoff)
    if entry.age == "closed-ticket":
        return delete(rows).where(_closed_before(rows, cutoff))
    parent = tables.by_key(f"{entry.store}.{entry.parent}")
    if parent.name not in present:
        return None
    chosen = select(parent.rows.c.id).where(_closed_before(parent.rows, cutoff))
    return delete(rows).where(rows.c[str(entry.parent_key)].in_(chosen.scalar_subquery()))


async def _purge_broker(conn: AsyncConnection, epoch: float) -> int:
    """Broker events whose JSON ``timestamp`` is before ``epoch``: in SQL on SQLite and
    PostgreSQL, else by reading the rows in batches."""
    data = BROKER_EVENTS.c.data
    dialect = conn.dialect.name
    if dialect == "sqlite":
        stamp: Any = cast(func.json_extract(data, "$.timestamp"), Float)
        return await _delete(conn, delete(BROKER_EVENTS).where(stamp < epoch))
    if dialect == "postgresql":
        stamp = cast(cast(data, JSON)["timestamp"].as_string(), Float)
        return await _delete(conn, delete(BROKER_EVENTS).where(stamp < epoch))
    deleted, after = 0, -1
    while True:
        rows = (await conn.execute(select(BROKER_EVENTS.c.id, data)
                                   .where(BROKER_EVENTS.c.id > after)
                                   .order_by(BROKER_EVENTS.c.id).limit(BROKER_BATCH))).all()
        if not rows:
            return deleted
        after = rows[-1][0]
        old = [row_id for row_id, raw in rows if _event_time(raw) < epoch]
        if old:
            deleted += await _delete(conn, delete(BROKER_EVENTS)
                                     .where(BROKER_EVENTS.c.id.in_(old)))


def _event_time(raw: str | None) -> float:
    try:
        return float(json.loads(raw or "{}").get("timestamp"))
    except (TypeError, ValueError, AttributeError):
        return float("inf")  # unreadable: never counted as old
