"""Erasure and retention over real stores, each written by the code that owns it.

Rasa's tracker store and event broker are written by Rasa itself (``SQLTrackerStore`` with
``rasa_plugins.brokers.sql.WalSQLEventBroker``, in ``.venv-rasa``), and read back by Rasa after the
erasure; the action server's, handoff service's and metrics tables by their own modules.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from actions.handoff_outbox import HandoffOutbox, OutboxRow
from actions.knowledge_log import KnowledgeLog, Outcome
from actions.lookup_guard import LookupGuard
from contract.metrics_tables import CUSTOMER_MESSAGE, MetricEvent, MetricsBase, Survey
from contract.payload import Escalation
from handoff.security_events import SecurityEventRow
from handoff.settings import SettingsError
from handoff.store import PendingAlert, TicketStore, create_schema, open_database
from metrics import erase, retention
from metrics.erase import RetentionSettings, Stores
from metrics.retention import RetentionJob
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)      # past the 365-day retention period
RECENT = NOW - timedelta(days=10)
CUTOFF = NOW - timedelta(days=365)

# Conversations: "gone" is all old; "kept" all recent; "mixed" has an old and a recent
# session; "waiting" has an old ticket that is still queued.
CONVERSATIONS = {"gone": [OLD], "kept": [RECENT], "mixed": [OLD, RECENT], "waiting": [OLD]}
EVENTS_PER_SESSION = 5

RASA_SCRIPT = '''
import asyncio, json, sys
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa_plugins.brokers.sql import WalSQLEventBroker

async def main(spec):
    broker = WalSQLEventBroker(dialect="sqlite", db=spec["broker"])
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=spec["tracker"],
                            event_broker=broker)
    for sender, starts in spec["write"].items():
        tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
        for ts in starts:
            for event in (ActionExecuted("action_session_start", timestamp=ts),
                          SessionStarted(timestamp=ts),
                          ActionExecuted("action_listen", timestamp=ts),
                          UserUttered("my email is a@example.com",
                                      {"name": "inform", "confidence": 1.0}, timestamp=ts + 1),
                          BotUttered("Thanks!", timestamp=ts + 2)):
                tracker.update(event)
            await store.save(tracker)
    found = {}
    for sender in spec["read"]:
        tracker = await store.retrieve_full_tracker(sender)
        found[sender] = [] if tracker is None else [e.timestamp for e in tracker.events]
    print(json.dumps(found))

asyncio.run(main(json.loads(sys.argv[1])))
'''


def rasa(folder: Path, write: dict[str, list[float]], read: list[str]) -> dict[str, list[float]]:
    """Write conversations with Rasa's own tracker store and broker; read trackers back."""
    script = folder / "rasa_store.py"
    script.write_text(RASA_SCRIPT)
    spec = {"tracker": str(folder / "tracker.db"), "broker": str(folder / "events.db"),
            "write": write, "read": read}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false",
           "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([str(RASA_PYTHON), str(script), json.dumps(spec)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return cast(dict[str, list[float]], json.loads(done.stdout.strip().splitlines()[-1]))


def escalation(conversation_id: str, escalation_id: str) -> Escalation:
    return cast(Escalation, factories.escalation(
        conversation_id, escalation_id=escalation_id, at=OLD, detail="asked for a person",
        transcript=[{"role": "customer", "text": "my email is a@example.com"}]))


@dataclass
class World:
    folder: Path
    stores: Stores
    engines: dict[str, AsyncEngine]

    async def count(self, store: str, table: str, where: str = "",
                    **params: Any) -> int:
        query = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")  # noqa: S608
        async with self.engines[store].connect() as conn:
            return int((await conn.execute(text(query), params)).scalar_one())

    async def per_conversation(self) -> dict[str, dict[str, int]]:
        """Rows per conversation in every table of every store."""
        columns = {("tracker", "events"): "sender_id", ("broker", "events"): "sender_id",
                   ("actions", "knowledge_turns"): "conversation_id",
                   ("actions", "handoff_outbox"): "conversation_id",
                   ("actions", "lookup_failures"): "conversation_id",
                   ("handoff", "tickets"): "conversation_id",
                   ("handoff", "security_events"): "conversation_id",
                   ("metrics", "metric_events"): "conversation_id",
                   ("metrics", "surveys"): "conversation_id"}
        found: dict[str, dict[str, int]] = {}
        for cid in CONVERSATIONS:
            rows = {f"{store}.{table}": await self.count(store, table, f"{col} = :cid", cid=cid)
                    for (store, table), col in columns.items()}
            for child in ("messages", "pending_alerts"):
                rows[f"handoff.{child}"] = await self.count(
                    "handoff", child,
                    "ticket_id IN (SELECT id FROM tickets WHERE conversation_id = :cid)",
                    cid=cid)
            found[cid] = rows
        return found


async def fill_actions(engine: AsyncEngine) -> None:
    knowledge, guard = KnowledgeLog(engine), LookupGuard(engine, max_failures=3)
    outbox = HandoffOutbox(engine, "http://127.0.0.1:9/unused", "x" * 32, now=lambda: OLD)
    for part in (knowledge, guard, outbox):
        await part.create_schema()
    for cid, starts in CONVERSATIONS.items():
        for start in starts:
            await knowledge.record(cid, start, "en", Outcome.OUT_OF_SCOPE, question="gift cards?")
        await guard.record_failure(cid, starts[-1])
        outbox.now = lambda moment=starts[-1]: moment  # type: ignore[misc]
        await outbox.enqueue(escalation(cid, f"esc-{cid}"))
        if cid != "waiting":  # the waiting conversation's escalation was never delivered
            async with outbox.sessions.begin() as session:
                await session.execute(update(OutboxRow).where(OutboxRow.id == f"esc-{cid}")
                                      .values(delivered_at=starts[-1]))


async def fill_handoff(url: str) -> None:
    db = open_database(url)
    await create_schema(db)
    store = TicketStore(db, priority_step=120)
    for cid, starts in CONVERSATIONS.items():
        for number, start in enumerate(starts):
            ticket, created = await store.create(escalation(cid, f"t-{cid}-{number}"), start)
            assert created
            await store.add_message(ticket.id, "customer", "my email is a@example.com", at=start)
            await store.add_message(ticket.id, "agent", "Hello", author="anna",
                                    at=start + timedelta(minutes=1), to_customer=True)
            if cid != "waiting":
                await store.resolve(ticket.id, None, start + timedelta(minutes=5))
            async with db.sessions.begin() as session:
                # an alert still to post (left when a ticket is closed in a race) and the
                # security event of a lock that refused this conversation
                session.add(PendingAlert(ticket_id=ticket.id, raised_at=start, attempts=1,
                                         next_attempt_at=start))
                session.add(SecurityEventRow(
                    event_id=f"sec-{cid}-{number}", event="lookup_refused", scope="order",
                    subject="ORB-104217", until=start.isoformat(), failures=5,
                    conversation_id=cid, channel="rest", detail="", received_at=start))
    await db.engine.dispose()


async def fill_metrics(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(MetricsBase.metadata.create_all)
    sessions = async_sessionmaker(engine)
    async with sessions.begin() as session:
        for cid, starts in CONVERSATIONS.items():
            for number, start in enumerate(starts):
                session.add(MetricEvent(source_key=f"{cid}-{number}", conversation_id=cid,
                                        at=start, kind=CUSTOMER_MESSAGE, text="gift cards?"))
                session.add(Survey(conversation_id=cid, session_started_at=start,
                                   trigger="goodbye", asked_at=start, channel="rest",
                                   language="en", csat=5, comment="great"))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    if not RASA_PYTHON.exists():
        pytest.skip(".venv-rasa is missing: run `make setup`")
    rasa(tmp_path, {cid: [s.timestamp() for s in starts]
                    for cid, starts in CONVERSATIONS.items()}, [])
    urls = {name: f"sqlite+aiosqlite:///{tmp_path / (name + '.db')}"
            for name in ("tracker", "actions", "handoff", "metrics")}
    urls["broker"] = f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
    engines = {name: create_async_engine(url) for name, url in urls.items()}
    await fill_actions(engines["actions"])
    await fill_handoff(urls["handoff"])
    await fill_metrics(engines["metrics"])
    yield World(tmp_path, Stores(**urls), engines)
    for engine in engines.values():
        await engine.dispose()


def expected_rows(sessions: int, ticket_open: bool = False) -> dict[str, int]:
    return {"tracker.events": EVENTS_PER_SESSION * sessions,
            "broker.events": EVENTS_PER_SESSION * sessions,
            "actions.knowledge_turns": sessions, "actions.handoff_outbox": 1,
            "actions.lookup_failures": 1, "handoff.tickets": 1 if ticket_open else sessions,
            "handoff.messages": 2 if ticket_open else 2 * sessions,
            "handoff.pending_alerts": 1 if ticket_open else sessions,
            "handoff.security_events": sessions,
            "metrics.metric_events": sessions, "metrics.surveys": sessions}


async def test_the_stores_hold_what_the_fixture_wrote(world: World) -> None:
    before = await world.per_conversation()
    # "mixed" has two sessions but one ticket: its second escalation found the first resolved.
    assert before["gone"] == expected_rows(1)
    assert before["mixed"] == expected_rows(2)
    assert before["waiting"] == expected_rows(1, ticket_open=True)


async def test_erasing_a_conversation_removes_it_from_every_store(world: World) -> None:
    before = await world.per_conversation()

    counts = await erase.erase_conversation(world.stores, "mixed")

    assert counts == before["mixed"]
    after = await world.per_conversation()
    assert set(after["mixed"].values()) == {0}
    for other in ("gone", "kept", "waiting"):
        assert after[other] == before[other]
    # Rasa reads the other conversations as before, and this one as never seen.
    trackers = rasa(world.folder, {}, ["mixed", "kept"])
    assert trackers["mixed"] == []
    assert len(trackers["kept"]) == EVENTS_PER_SESSION
    # Erasing again finds nothing: a request that failed halfway is simply repeated.
    again = await erase.erase_conversation(world.stores, "mixed")
    assert set(again) == set(counts) and set(again.values()) == {0}


async def test_an_erasure_is_logged_without_the_content(world: World) -> None:
    counts = await retention.erase_and_log(world.stores, "gone", actor="anna", now=NOW,
                                       salt="pepper")

    entries = await retention.erasures(world.stores.metrics)
    assert len(entries) == 1
    entry = entries[0]
    assert entry["kind"] == "conversation" and entry["actor"] == "anna"
    assert entry["at"] == NOW and entry["counts"] == counts
    assert entry["conversation_ref"] == retention.conversation_ref("gone", "pepper")
    assert entry["conversation_ref"] != hashlib.sha256(b"gone").hexdigest()  # salted
    assert "gone" not in json.dumps(entry, default=str)
    assert retention.conversation_ref("gone") == hashlib.sha256(b"gone").hexdigest()


async def test_retention_deletes_old_rows_and_keeps_recent_ones_and_open_tickets(
        world: World) -> None:
    before = await world.per_conversation()

    counts = await erase.purge_older_than(world.stores, CUTOFF)

    after = await world.per_conversation()
    assert set(after["gone"].values()) == {0}
    assert after["kept"] == before["kept"]
    # The old session of "mixed" is gone, the recent one stays, in every store.
    assert after["mixed"] == expected_rows(1)
    # The queued ticket is old but open: kept with its messages, and so is the escalation
    # still waiting in the outbox; everything else of that conversation is old.
    assert after["waiting"] == {**{key: 0 for key in expected_rows(1)},
                                "handoff.tickets": 1, "handoff.messages": 2,
                                "handoff.pending_alerts": 1,
                                "actions.handoff_outbox": 1}
    removed = {key: sum(before[cid][key] - after[cid][key] for cid in CONVERSATIONS)
               for key in expected_rows(1)}
    assert counts == removed
    left = rasa(world.folder, {}, ["mixed"])["mixed"]   # Rasa still reads what is left
    assert len(left) == EVENTS_PER_SESSION
    assert min(left) >= RECENT.timestamp()


async def test_the_retention_job_runs_soon_after_start_and_logs_its_run(world: World) -> None:
    job = RetentionJob(world.stores, RetentionSettings(days=365, first_run_seconds=0.0,
                                                       interval_seconds=3600),
                       clock=lambda: NOW)
    job.start()
    try:
        for _ in range(200):
            if job.last_run is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        await job.close()
    assert job.last_run == NOW
    assert job.last_counts["metrics.surveys"] == 3   # gone, waiting and mixed's old session
    entries = await retention.erasures(world.stores.metrics)
    assert [(e["kind"], e["actor"], e["conversation_ref"]) for e in entries] == [
        ("retention", "retention job", None)]
    assert entries[0]["counts"] == job.last_counts
    assert job.cutoff(NOW) == CUTOFF


async def test_stores_not_kept_or_never_created_are_skipped(tmp_path: Path) -> None:
    missing = tmp_path / "never.db"
    actions = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'actions.db'}")
    await KnowledgeLog(actions).create_schema()   # only one of the action server's tables
    stores = Stores(tracker=f"sqlite+aiosqlite:///{missing}", actions=actions)

    assert await erase.erase_conversation(stores, "c1") == {"actions.knowledge_turns": 0}
    assert await erase.purge_older_than(stores, CUTOFF) == {"actions.knowledge_turns": 0}
    assert not missing.exists()
    await actions.dispose()   # a caller's engine is left open for the caller
    with pytest.raises(ValueError, match="empty"):
        await erase.erase_conversation(stores, "")


async def test_retention_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """The broker's JSON timestamp and the ticket rule in PostgreSQL's SQL dialect."""
    engine = create_async_engine(postgres_url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    broker = Table("events", MetaData(), Column("id", Integer, primary_key=True),
                   Column("sender_id", String(255)), Column("data", Text))  # Rasa's schema
    async with engine.begin() as conn:
        await conn.run_sync(broker.metadata.create_all)
        for cid, starts in CONVERSATIONS.items():
            for start in starts:
                await conn.execute(broker.insert().values(sender_id=cid, data=json.dumps(
                    {"sender_id": cid, "event": "user", "timestamp": start.timestamp()})))
    await fill_actions(engine)
    await fill_handoff(postgres_url)
    await fill_metrics(engine)
    stores = Stores(broker=engine, actions=engine, handoff=engine, metrics=engine)

    counts = await erase.purge_older_than(stores, CUTOFF)

    assert counts["broker.events"] == 3 and counts["handoff.tickets"] == 2
    assert counts["metrics.surveys"] == 3 and counts["actions.handoff_outbox"] == 1
    async with engine.connect() as conn:
        left = (await conn.execute(text("SELECT sender_id FROM events ORDER BY 1"))).scalars()
        assert list(left) == ["kept", "mixed"]
        tickets = await conn.execute(text("SELECT conversation_id, status FROM tickets "
                                          "ORDER BY 1"))
        assert list(tickets) == [("kept", "resolved"), ("mixed", "resolved"),
                                 ("waiting", "queued")]
    erased = await retention.erase_and_log(stores, "waiting", actor="anna", now=NOW)
    assert erased["handoff.tickets"] == 1 and erased["handoff.messages"] == 2
    assert (await retention.erasures(engine))[0]["counts"] == erased
    await engine.dispose()


def test_retention_settings() -> None:
    assert RetentionSettings.from_env({}) == RetentionSettings(
        days=365, interval_seconds=86400, first_run_seconds=60, log_salt="")
    tuned = RetentionSettings.from_env({"RETENTION_DAYS": "30", "ERASURE_LOG_SALT": "s",
                                        "RETENTION_INTERVAL_SECONDS": "600",
                                        "RETENTION_FIRST_RUN_SECONDS": "0"})
    assert (tuned.days, tuned.interval_seconds, tuned.first_run_seconds, tuned.log_salt) == (
        30, 600, 0, "s")
    for bad in ("0", "-5", "twelve months", "1.5"):
        with pytest.raises(SettingsError, match="RETENTION_DAYS"):
            RetentionSettings.from_env({"RETENTION_DAYS": bad})
    with pytest.raises(SettingsError, match="RETENTION_INTERVAL_SECONDS"):
        RetentionSettings.from_env({"RETENTION_INTERVAL_SECONDS": "0"})


def test_stores_from_the_processes_variables(tmp_path: Path) -> None:
    defaults = Stores.from_env({})
    var = ROOT / "var"
    assert defaults == Stores(tracker=f"sqlite+aiosqlite:///{var / 'tracker.db'}",
                              broker=f"sqlite+aiosqlite:///{var / 'events.db'}",
                              actions=f"sqlite+aiosqlite:///{var / 'actions.db'}",
                              handoff=f"sqlite+aiosqlite:///{var / 'handoff.db'}",
                              metrics=f"sqlite+aiosqlite:///{var / 'metrics.db'}")
    env = {"TRACKER_DB_DIALECT": "sqlite", "TRACKER_DB": str(tmp_path / "t.db"),
           "RASA_EVENTS_DB_URL": "sqlite+aiosqlite:///e.db",
           "ACTIONS_DB_URL": "postgresql+asyncpg://u:p@db/actions",
           "HANDOFF_DB_URL": "postgresql+asyncpg://u:p@db/handoff",
           "METRICS_DB_URL": "postgresql+asyncpg://u:p@db/metrics"}
    stores = Stores.from_env(env)
    assert stores.tracker == f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    assert (stores.broker, stores.actions, stores.handoff, stores.metrics) == (
        "sqlite+aiosqlite:///e.db", env["ACTIONS_DB_URL"], env["HANDOFF_DB_URL"],
        env["METRICS_DB_URL"])
    assert Stores.from_env({"TRACKER_DB": "var/x.db"}).tracker == \
        f"sqlite+aiosqlite:///{ROOT / 'var' / 'x.db'}"
    with pytest.raises(SettingsError, match="TRACKER_DB_URL"):
        Stores.from_env({"TRACKER_DB_DIALECT": "postgresql", "TRACKER_DB": "rasa"})
    url = "postgresql+asyncpg://u:p@db/rasa"
    assert Stores.from_env({"TRACKER_DB_DIALECT": "postgresql",
                            "TRACKER_DB_URL": url}).tracker == url
