"""Writing and reading the service-quality record (``contract.metrics_tables``).

``MetricsStore`` is the database; ``Collector`` folds Rasa's event broker table and the
knowledge log into it, each from a stored cursor, so nothing is lost or counted twice
when the handoff service (which runs the collector) restarts. The handoff service writes
its own rows (escalated, claimed, agent messages, ...) with ``MetricsStore.add`` as they
happen.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from contract.metrics_tables import (
    AGENT_MESSAGE,
    BOT_MESSAGE,
    CUSTOMER_MESSAGE,
    FAQ_ANSWERED,
    FAQ_HELPED,
    FAQ_NOT_HELPED,
    FAQ_UNANSWERED,
    RESTARTED,
    SESSION_STARTED,
    MetricCursor,
    MetricEvent,
    MetricsBase,
    Survey,
)
from contract.session_marker import continues_handoff
from metrics.rasa_events import RasaEventTable

log = logging.getLogger(__name__)

BATCH = 1000
LANGUAGES_KEPT = 20_000
OPTIONAL_COLUMNS = ("channel", "language", "intent", "reason", "article", "agent", "ticket_id",
                    "value", "text")
MAX_TEXT_CHARS = 2000
# Triggered intents (EXTERNAL_survey) are the product talking, not the customer.
EXTERNAL_PREFIX = "EXTERNAL"
# A channel asking for a new session (the widget, "/session_start"), not the customer.
CHANNEL_SIGNALS = frozenset({"session_start"})
KNOWLEDGE_KINDS = {"answered": FAQ_ANSWERED, "helped": FAQ_HELPED,
                   "not_helped": FAQ_NOT_HELPED, "low_confidence": FAQ_UNANSWERED,
                   "out_of_scope": FAQ_UNANSWERED}


def open_engine(url: str) -> AsyncEngine:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    return create_async_engine(url, **kwargs)


def utc(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back for timezone-aware columns; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class MetricsStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> MetricsStore:
        return cls(open_engine(url))

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(MetricsBase.metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    async def add(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows (dicts of MetricEvent columns); a source_key already there is skipped."""
        if not rows:
            return 0
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(MetricEvent).on_conflict_do_nothing(
            index_elements=["source_key"])
        # One executemany: every row needs every column.
        filled = [{**dict.fromkeys(OPTIONAL_COLUMNS), **row} for row in rows]
        async with self.engine.begin() as conn:
            result = await conn.execute(statement, filled)
        return max(0, getattr(result, "rowcount", 0) or 0)

    async def record(self, source_key: str, conversation_id: str, kind: str,
                     at: datetime | None = None, **values: Any) -> None:
        await self.add([{"source_key": source_key, "conversation_id": conversation_id,
                         "kind": kind, "at": at or datetime.now(UTC), **values}])

    async def events(self, start: datetime, end: datetime) -> list[MetricEvent]:
        async with self.sessions() as session:
            rows = await session.scalars(select(MetricEvent).where(
                MetricEvent.at >= start, MetricEvent.at < end)
                .order_by(MetricEvent.at, MetricEvent.id))
            return list(rows)

    async def surveys(self, start: datetime, end: datetime) -> list[Survey]:
        async with self.sessions() as session:
            rows = await session.scalars(select(Survey).where(
                Survey.asked_at >= start, Survey.asked_at < end).order_by(Survey.id))
            return list(rows)

    async def has(self, kind: str, conversation_id: str, since: datetime) -> bool:
        async with self.sessions() as session:
            found = await session.scalar(select(MetricEvent.id).where(
                MetricEvent.kind == kind, MetricEvent.conversation_id == conversation_id,
                MetricEvent.at >= since).limit(1))
            return found is not None

    async def quiet_conversations(self, after: datetime, before: datetime
                                  ) -> list[tuple[str, datetime, str | None]]:
        """Conversations whose last message (either side) is in [after, before): their id,
        that moment, and the channel of their latest customer message."""
        talk = (CUSTOMER_MESSAGE, BOT_MESSAGE, AGENT_MESSAGE)
        async with self.sessions() as session:
            last = (await session.execute(
                select(MetricEvent.conversation_id, func.max(MetricEvent.at))
                .where(MetricEvent.kind.in_(talk), MetricEvent.at >= after)
                .group_by(MetricEvent.conversation_id)
                .having(func.max(MetricEvent.at) < before))).all()
            out = []
            for conversation_id, at in last:
                channel = await session.scalar(
                    select(MetricEvent.channel).where(
                        MetricEvent.conversation_id == conversation_id,
                        MetricEvent.kind == CUSTOMER_MESSAGE,
                        MetricEvent.channel.is_not(None))
                    .order_by(MetricEvent.at.desc()).limit(1))
                out.append((conversation_id, utc(at), channel))
            return out

    async def last_language(self, conversation_id: str) -> str | None:
        async with self.sessions() as session:
            return await session.scalar(select(MetricEvent.language).where(
                MetricEvent.conversation_id == conversation_id,
                MetricEvent.language.is_not(None))
                .order_by(MetricEvent.id.desc()).limit(1))

    async def cursor(self, name: str) -> int:
        async with self.sessions() as session:
            row = await session.get(MetricCursor, name)
            return row.position if row else 0

    async def set_cursor(self, name: str, position: int) -> None:
        async with self.sessions.begin() as session:
            row = await session.get(MetricCursor, name)
            if row is None:
                session.add(MetricCursor(name=name, position=position))
            else:
                row.position = position


# Several Rasa processes write the broker table at once (make run-scaled): on PostgreSQL
# a row with a lower id can commit after a higher one was already read, and a reader that
# moved its cursor past the gap would never see it. A gap is waited for this long (the
# writers' transactions last milliseconds); a gap older than that is an id nobody will
# commit (a rolled-back insert).
GAP_GRACE_SECONDS = 5.0


def settled(rows: Sequence[Any], cursor: int, now: float,
            grace: float = GAP_GRACE_SECONDS) -> list[Any]:
    """The rows (id, sender, data) that can be handled now: all of them, except that
    reading stops at a gap in the ids until the row after it is ``grace`` seconds old."""
    out: list[Any] = []
    previous = cursor
    for row in rows:
        row_id = int(row[0])
        if previous > 0 and row_id != previous + 1:
            try:
                at = float(json.loads(row[2]).get("timestamp") or 0)
            except (ValueError, TypeError, AttributeError):
                at = 0.0
            if now - at < grace:
                break
        out.append(row)
        previous = row_id
    return out


def rasa_rows(row_id: int, sender: str, event: dict[str, Any],
              language: str | None) -> list[dict[str, Any]]:
    """The metric_events rows for one Rasa event (most events make none)."""
    kind = event.get("event")
    at = datetime.fromtimestamp(float(event.get("timestamp") or 0), UTC)
    base = {"source_key": f"rasa:{row_id}", "conversation_id": sender, "at": at,
            "language": language}
    if kind == "session_started":
        # One that kept a person's chat (actions/session.py) continues the conversation.
        return [] if continues_handoff(event) else [{**base, "kind": SESSION_STARTED}]
    if kind == "restart":
        return [{**base, "kind": RESTARTED}]
    if kind == "user":
        intent = (event.get("parse_data") or {}).get("intent") or {}
        name = intent.get("name")
        if str(event.get("text") or "").startswith(EXTERNAL_PREFIX) or \
                str(name or "").startswith(EXTERNAL_PREFIX) or name in CHANNEL_SIGNALS:
            return []
        return [{**base, "kind": CUSTOMER_MESSAGE, "channel": event.get("input_channel"),
                 "intent": name, "value": float(intent.get("confidence") or 0.0)}]
    if kind == "bot":
        meta = event.get("metadata") or {}
        if meta.get("handoff_message_id") or meta.get("from") in ("agent", "system"):
            return []  # the handoff service records what it sends when it sends it
        return [{**base, "kind": BOT_MESSAGE}]
    return []


def knowledge_row(row: Any) -> dict[str, Any] | None:
    kind = KNOWLEDGE_KINDS.get(str(row.outcome))
    if kind is None:
        return None
    values: dict[str, Any] = {
        "source_key": f"kl:{row.id}", "conversation_id": row.conversation_id,
        "at": utc(row.created_at), "kind": kind, "language": row.language,
        "article": row.article_id}
    if kind == FAQ_UNANSWERED:
        values.update(reason=row.outcome, value=row.score,
                      text=(row.question or "")[:MAX_TEXT_CHARS] or None)
    return values


class Collector:
    """Reads new rows of Rasa's broker table and the knowledge log into the record."""

    def __init__(self, store: MetricsStore, events: RasaEventTable,
                 actions_engine: AsyncEngine | None) -> None:
        self.store = store
        self.events = events
        self.actions_engine = actions_engine
        # The language of each conversation seen lately (None: looked up, none known yet).
        # Every later change passes through this collector, so one look-up per
        # conversation is enough; without the None a new conversation cost a query per
        # event until its language was set.
        self._languages: OrderedDict[str, str | None] = OrderedDict()

    async def collect_once(self) -> int:
        return await self._rasa() + await self._knowledge()

    async def _language(self, sender: str) -> str | None:
        if sender not in self._languages:
            self._remember(sender, await self.store.last_language(sender))
        return self._languages.get(sender)

    def _remember(self, sender: str, language: str | None) -> None:
        self._languages[sender] = language
        self._languages.move_to_end(sender)
        while len(self._languages) > LANGUAGES_KEPT:
            self._languages.popitem(last=False)

    async def _rasa(self) -> int:
        cursor = await self.store.cursor("rasa")
        read = await self.events.after(cursor, BATCH)
        if read is None:
            return 0
        rows = settled(read, cursor, time.time())
        out: list[dict[str, Any]] = []
        for row_id, sender, data in rows:
            event = json.loads(data)
            if event.get("event") == "slot" and event.get("name") == "language" \
                    and event.get("value"):
                self._remember(sender, str(event["value"]))
            out += rasa_rows(int(row_id), sender, event, await self._language(sender))
        await self.store.add(out)
        if rows:
            await self.store.set_cursor("rasa", int(rows[-1][0]))
        return len(rows)

    async def _knowledge(self) -> int:
        if self.actions_engine is None:
            return 0
        cursor = await self.store.cursor("knowledge")
        try:
            async with self.actions_engine.connect() as conn:
                rows = (await conn.execute(text(
                    "SELECT id, conversation_id, created_at, language, outcome, question, "
                    "article_id, score FROM knowledge_turns WHERE id > :cursor "
                    "ORDER BY id LIMIT :limit"), {"cursor": cursor, "limit": BATCH})).all()
        except Exception as exc:
            log.debug("knowledge log not readable yet: %s", exc)
            return 0
        out = [r for r in (knowledge_row(_KnowledgeRow(*row)) for row in rows) if r]
        await self.store.add(out)
        if rows:
            await self.store.set_cursor("knowledge", int(rows[-1][0]))
        return len(rows)


class _KnowledgeRow:
    def __init__(self, row_id: int, conversation_id: str, created_at: Any, language: str,
                 outcome: str, question: str | None, article_id: str | None,
                 score: float | None) -> None:
        self.id = row_id
        self.conversation_id = conversation_id
        self.created_at = (created_at if isinstance(created_at, datetime)
                           else datetime.fromisoformat(str(created_at)))
        self.language = language
        self.outcome = outcome
        self.question = question
        self.article_id = article_id
        self.score = score
