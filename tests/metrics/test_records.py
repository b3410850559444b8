"""The collector over a real broker table and a real knowledge log, into a real metrics DB."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from actions.knowledge_log import KnowledgeLog, Outcome
from contract import metrics_tables as mt
from metrics.rasa_events import RasaEventTable
from metrics.records import Collector, MetricsStore
from tests.factories import EventsTable


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[Collector, EventsTable, KnowledgeLog]]:
    broker = EventsTable(tmp_path / "events.db")
    store = MetricsStore.from_url(f"sqlite+aiosqlite:///{tmp_path / 'metrics.db'}")
    await store.create_schema()
    knowledge = KnowledgeLog(create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"))
    await knowledge.create_schema()
    collector = Collector(store, RasaEventTable(create_async_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")), knowledge.engine)
    yield collector, broker, knowledge
    await collector.events.engine.dispose()
    await knowledge.engine.dispose()
    await store.close()


async def rows(collector: Collector) -> list[mt.MetricEvent]:
    now = datetime.now(UTC)
    return await collector.store.events(now - timedelta(days=1), now + timedelta(days=1))


async def test_rasa_events_become_rows(parts: tuple[Collector, EventsTable, KnowledgeLog]) -> None:
    collector, broker, _ = parts
    broker.publish("c1", event="session_started")
    broker.publish("c1", event="slot", name="language", value="ru")
    broker.publish("c1", event="user", text="где заказ", input_channel="widget",
                   parse_data={"intent": {"name": "track_order", "confidence": 0.97}})
    broker.publish("c1", event="bot", text="Назовите номер заказа", metadata={})
    broker.publish("c1", event="bot", text="Anna here", metadata={"from": "agent",
                                                                   "handoff_message_id": 3})
    broker.publish("c1", event="user", text="EXTERNAL: EXTERNAL_survey",
                   metadata={"is_external": True},
                   parse_data={"intent": {"name": "EXTERNAL_survey"}})
    broker.publish("c1", event="user", text="/session_start",
                   parse_data={"intent": {"name": "session_start", "confidence": 1.0}})
    broker.publish("c1", event="action", name="action_listen")
    await collector.collect_once()
    found = await rows(collector)
    assert [r.kind for r in found] == [mt.SESSION_STARTED, mt.CUSTOMER_MESSAGE, mt.BOT_MESSAGE]
    message = found[1]
    assert (message.channel, message.intent, message.language) == ("widget", "track_order", "ru")
    assert message.value == pytest.approx(0.97)


async def test_a_second_read_records_nothing_twice(
        parts: tuple[Collector, EventsTable, KnowledgeLog]) -> None:
    collector, broker, knowledge = parts
    broker.publish("c2", event="user", text="hi", input_channel="rest",
                   parse_data={"intent": {"name": "greet", "confidence": 0.9}})
    await knowledge.record("c2", datetime.now(UTC), "en", Outcome.LOW_CONFIDENCE,
                           "do you sell gift cards", "non-returnable-items", 0.5)
    await knowledge.record("c2", datetime.now(UTC), "en", Outcome.HELPED, None, "return-window",
                           None)
    assert await collector.collect_once() == 3
    await collector.store.set_cursor("rasa", 0)       # as after a crash before the cursor
    await collector.store.set_cursor("knowledge", 0)
    await collector.collect_once()
    found = await rows(collector)
    assert sorted(r.kind for r in found) == sorted(
        [mt.CUSTOMER_MESSAGE, mt.FAQ_UNANSWERED, mt.FAQ_HELPED])
    unanswered = next(r for r in found if r.kind == mt.FAQ_UNANSWERED)
    assert (unanswered.text, unanswered.reason) == ("do you sell gift cards", "low_confidence")


async def test_the_language_survives_a_restart(
        parts: tuple[Collector, EventsTable, KnowledgeLog]) -> None:
    collector, broker, _ = parts
    broker.publish("c3", event="slot", name="language", value="uk")
    broker.publish("c3", event="user", text="привіт", input_channel="telegram",
                   parse_data={"intent": {"name": "greet", "confidence": 0.9}})
    await collector.collect_once()
    fresh = Collector(collector.store, collector.events, None)  # a restarted service
    broker.publish("c3", event="bot", text="Вітаю!")
    await fresh.collect_once()
    assert [r.language for r in await rows(collector)] == ["uk", "uk"]


async def test_quiet_conversations(parts: tuple[Collector, EventsTable, KnowledgeLog]) -> None:
    collector, broker, _ = parts
    long_ago = time.time() - 1200
    broker.publish("quiet", event="user", text="hi", input_channel="telegram",
                   timestamp=long_ago, parse_data={"intent": {"name": "greet"}})
    broker.publish("quiet", event="bot", text="hello", timestamp=long_ago + 1)
    broker.publish("busy", event="user", text="hi", input_channel="rest",
                   parse_data={"intent": {"name": "greet"}})
    await collector.collect_once()
    now = datetime.now(UTC)
    found = await collector.store.quiet_conversations(now - timedelta(hours=6),
                                                      now - timedelta(minutes=15))
    assert [(c, channel) for c, _, channel in found] == [("quiet", "telegram")]
    assert found[0][1] == datetime.fromtimestamp(long_ago + 1, UTC)
