"""Pickup alerts are retried with back-off until the webhook acknowledges them or the chat
is picked up, and carry on after a restart: a real receiver on loopback that fails N times,
a pinned clock where the code has one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from contract.signing import SignatureError, verify
from handoff.accounts import Accounts
from handoff.alert_queue import AlertQueue
from handoff.store import Agent, Database, TicketStore, aware, create_schema, open_database
from metrics.erase import Stores, erase_conversation
from tests import factories
from tests.handoff.clocks import T0, Clock
from tests.handoff.conftest import make_agent

SECRET = "s" * 32


class Receiver:
    """The supervisors' chat: answers 503 to the first ``failures`` posts, then 204."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.posts: list[dict[str, Any]] = []
        self.acknowledged: list[dict[str, Any]] = []
        self.server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            verify(SECRET, request.headers, raw)
        except SignatureError:
            return web.Response(status=401)
        body = json.loads(raw)
        self.posts.append(body)
        if len(self.posts) <= self.failures:
            return web.Response(status=503)
        self.acknowledged.append(body)
        return web.Response(status=204)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/alerts", self.handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("/alerts"))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = Receiver(failures=0)
    yield made
    if made.server is not None:
        await made.server.close()


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = open_database(f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}")
    await create_schema(database)
    yield database
    await database.engine.dispose()


async def queued_ticket(db: Database, n: int = 1) -> int:
    ticket, _ = await TicketStore(db, 120).create(
        factories.escalation(f"c{n}", at=T0, channel="widget", transcript=[]), T0)
    return ticket.id


def queue(db: Database, url: str, clock: Clock, **options: Any) -> AlertQueue:
    return AlertQueue(db, url, SECRET, 240, clock=clock, **options)


async def test_an_alert_is_retried_with_back_off_until_acknowledged(
        db: Database, receiver: Receiver) -> None:
    receiver.failures = 9   # down for longer than the old give-up (about 4 minutes)
    url = await receiver.start()
    clock = Clock(T0 + timedelta(seconds=250))
    alerts = queue(db, url, clock, first_retry_seconds=2, max_retry_seconds=300)
    ticket_id = await queued_ticket(db)
    try:
        assert await alerts.raise_alert(ticket_id, clock())
        assert not await alerts.raise_alert(ticket_id, clock())  # once per ticket
        delays = []
        while not receiver.acknowledged:
            posted = len(receiver.posts)
            await alerts.deliver_due()
            assert len(receiver.posts) == posted + 1
            if receiver.acknowledged:
                break
            [row] = await alerts.pending()
            delay = ((aware(row.next_attempt_at) or clock()) - clock()).total_seconds()
            delays.append(delay)
            clock.advance(delay - 0.5)
            await alerts.deliver_due()           # not due yet: nothing is posted
            assert len(receiver.posts) == posted + 1
            clock.advance(0.5)
        assert delays == [2, 4, 8, 16, 32, 64, 128, 256, 300]
        assert await alerts.pending() == []
        assert [p["attempt"] for p in receiver.posts] == list(range(1, 11))
        assert {p["alert_id"] for p in receiver.posts} == {f"pickup-{ticket_id}"}
        # Each attempt says how long the chat has waited by then.
        waited = receiver.acknowledged[0]["waiting_seconds"]
        assert waited == int((clock() - T0).total_seconds()) > 1000
        await alerts.deliver_due()
        assert len(receiver.posts) == 10          # acknowledged: never posted again
    finally:
        await alerts.close()


async def test_a_picked_up_chat_stops_the_retries(sqlite_db: Database,
                                                  receiver: Receiver) -> None:
    receiver.failures = 100
    url = await receiver.start()
    clock = Clock(T0 + timedelta(seconds=250))
    alerts = queue(sqlite_db, url, clock, first_retry_seconds=1)
    ticket_id = await queued_ticket(sqlite_db)
    agent: Agent = await make_agent(Accounts(sqlite_db, 12), "anna")
    try:
        await alerts.raise_alert(ticket_id, clock())
        await alerts.deliver_due()
        assert len(receiver.posts) == 1
        await TicketStore(sqlite_db, 120).claim(ticket_id, agent, clock())
        clock.advance(60)
        await alerts.deliver_due()
        assert len(receiver.posts) == 1 and await alerts.pending() == []
    finally:
        await alerts.close()


async def test_an_erased_ticket_leaves_no_alert_for_the_next_one(sqlite_db: Database,
                                                                 receiver: Receiver) -> None:
    receiver.failures = 100
    url = await receiver.start()
    clock = Clock(T0 + timedelta(seconds=250))
    alerts = queue(sqlite_db, url, clock, first_retry_seconds=1)
    first = await queued_ticket(sqlite_db)
    try:
        await alerts.raise_alert(first, clock())
        await alerts.deliver_due()
        await erase_conversation(Stores(handoff=sqlite_db.engine), "c1")
        second = await queued_ticket(sqlite_db, 2)
        assert second == first                   # SQLite gives the id out again
        clock.advance(5)
        await alerts.deliver_due()               # the new chat is not late: nothing posted
        assert len(receiver.posts) == 1 and await alerts.pending() == []
        assert await alerts.raise_alert(second, clock())  # and can raise its own alert later
        assert len(await alerts.pending()) == 1
    finally:
        await alerts.close()


async def test_pending_alerts_carry_on_after_a_restart(tmp_path: Path,
                                                       receiver: Receiver) -> None:
    receiver.failures = 2
    url = await receiver.start()
    clock = Clock(T0 + timedelta(seconds=250))
    path = f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}"
    db = open_database(path)
    await create_schema(db)
    ticket_id = await queued_ticket(db)
    before = queue(db, url, clock, first_retry_seconds=5)
    await before.raise_alert(ticket_id, clock())
    await before.deliver_due()
    await before.close()
    await db.engine.dispose()                 # the process stops with the alert unsent

    db = open_database(path)
    after = queue(db, url, clock, first_retry_seconds=5)
    try:
        await after.deliver_due()
        assert len(receiver.posts) == 1       # not due yet: the back-off was kept
        clock.advance(5)
        await after.deliver_due()
        clock.advance(10)
        await after.deliver_due()
        assert len(receiver.acknowledged) == 1 and receiver.posts[-1]["attempt"] == 3
        assert await after.pending() == []
    finally:
        await after.close()
        await db.engine.dispose()


async def test_a_crashed_process_lease_expires_and_another_one_posts(
        sqlite_db: Database, receiver: Receiver) -> None:
    url = await receiver.start()
    clock = Clock(T0 + timedelta(seconds=250))
    ticket_id = await queued_ticket(sqlite_db)
    crashed = queue(sqlite_db, url, clock, timeout_seconds=10)
    await crashed.raise_alert(ticket_id, clock())
    [row] = await crashed.pending()
    assert await crashed._lease(row.id, clock())   # it took the alert, then was killed
    other = queue(sqlite_db, url, clock, timeout_seconds=10)
    try:
        await other.deliver_due()
        assert receiver.posts == []               # leased by the other process
        clock.advance(16)
        assert await other.deliver_due() == 1
        assert len(receiver.acknowledged) == 1
    finally:
        await other.close()


async def test_the_delivery_loop_posts_at_once_and_retries_by_itself(
        sqlite_db: Database, receiver: Receiver) -> None:
    receiver.failures = 3
    url = await receiver.start()
    alerts = AlertQueue(sqlite_db, url, SECRET, 240, first_retry_seconds=0.05,
                        max_retry_seconds=0.2)
    ticket_id = await queued_ticket(sqlite_db)
    task = asyncio.get_running_loop().create_task(alerts.run(poll=30))
    try:
        await asyncio.sleep(0.1)
        await alerts.raise_alert(ticket_id, datetime.now(UTC))   # wakes the loop
        for _ in range(100):
            if receiver.acknowledged:
                break
            await asyncio.sleep(0.05)
        assert len(receiver.acknowledged) == 1 and len(receiver.posts) == 4
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await alerts.close()


async def test_without_a_webhook_only_the_ticket_is_marked(sqlite_db: Database) -> None:
    alerts = AlertQueue(sqlite_db, "", SECRET, 240)
    ticket_id = await queued_ticket(sqlite_db)
    assert await alerts.raise_alert(ticket_id, T0)
    assert await alerts.pending() == []
    ticket = await TicketStore(sqlite_db, 120).get(ticket_id)
    assert ticket is not None and ticket.alerted_at is not None
    await alerts.close()
