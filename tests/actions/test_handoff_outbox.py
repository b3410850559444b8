"""The escalation outbox: stored first, signed, retried with back-off, sent once."""

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

from actions.handoff_outbox import HandoffOutbox, backoff
from actions.shop.sql import make_engine
from contract.signing import SignatureError, verify

SECRET = "outbox-test-secret-0123456789"  # noqa: S105 - a test value


class Receiver:
    """A real HTTP receiver that checks signatures and can be told to fail."""

    def __init__(self) -> None:
        self.fail_next = 0
        self.received: list[dict[str, Any]] = []
        self.refused = 0

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            verify(SECRET, request.headers, raw)
        except SignatureError:
            self.refused += 1
            return web.json_response({"error": "bad signature"}, status=401)
        if self.fail_next:
            self.fail_next -= 1
            return web.json_response({"error": "down for maintenance"}, status=503)
        self.received.append(json.loads(raw))
        return web.json_response({"ticket_id": len(self.received)}, status=201)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, TestServer]]:
    state = Receiver()
    app = web.Application()
    app.router.add_post("/webhooks/escalations", state.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield state, server
    await server.close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def escalation(n: int) -> Any:
    return {"escalation_id": f"esc-{n}", "conversation_id": f"conv-{n}", "reason": "unresolved"}


async def make_outbox(tmp_path: Path, url: str, clock: Clock,
                      secret: str = SECRET) -> HandoffOutbox:
    outbox = HandoffOutbox(make_engine(f"sqlite+aiosqlite:///{tmp_path / 'actions.db'}"), url,
                           secret, now=clock)
    await outbox.create_schema()
    return outbox


def test_backoff_doubles_up_to_a_minute() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4, 7, 20)] == [1, 2, 4, 8, 60, 60]


async def test_nothing_is_lost_while_the_receiver_fails(
        tmp_path: Path, receiver: tuple[Receiver, TestServer]) -> None:
    state, server = receiver
    clock = Clock()
    outbox = await make_outbox(tmp_path, str(server.make_url("/webhooks/escalations")), clock)
    state.fail_next = 2
    await outbox.enqueue(escalation(1))
    await outbox.enqueue(escalation(1))  # the same escalation twice is stored once
    assert await outbox.deliver_due() == 0
    [row] = await outbox.pending()
    assert row.attempts == 1 and "503" in (row.last_error or "")
    assert await outbox.deliver_due() == 0  # not due yet: 1 s back-off
    clock.now += timedelta(seconds=1)
    assert await outbox.deliver_due() == 0
    clock.now += timedelta(seconds=1)
    assert await outbox.deliver_due() == 0  # second back-off is 2 s
    clock.now += timedelta(seconds=2)
    assert await outbox.deliver_due() == 1
    assert await outbox.pending() == []
    assert [r["escalation_id"] for r in state.received] == ["esc-1"]
    await outbox.close()


async def test_an_unreachable_receiver_keeps_the_rows(tmp_path: Path) -> None:
    clock = Clock()
    outbox = await make_outbox(tmp_path, "http://127.0.0.1:9/nothing-listens-here", clock)
    await outbox.enqueue(escalation(1))
    await outbox.enqueue(escalation(2))
    assert await outbox.deliver_due() == 0
    rows = await outbox.pending()
    assert [r.id for r in rows] == ["esc-1", "esc-2"]
    assert all(r.last_error and "Connect" in r.last_error for r in rows)
    await outbox.close()
    # A new process (a restarted action server) finds them and sends them.
    again = await make_outbox(tmp_path, "http://127.0.0.1:9/nothing-listens-here", clock)
    assert len(await again.pending()) == 2
    await again.close()


async def test_a_wrong_secret_is_refused_and_retried(
        tmp_path: Path, receiver: tuple[Receiver, TestServer]) -> None:
    state, server = receiver
    outbox = await make_outbox(tmp_path, str(server.make_url("/webhooks/escalations")),
                               Clock(), secret="not-the-shared-secret")  # noqa: S106
    await outbox.enqueue(escalation(1))
    assert await outbox.deliver_due() == 0
    assert state.refused == 1 and state.received == []
    [row] = await outbox.pending()
    assert "401" in (row.last_error or "")
    await outbox.close()


async def test_two_senders_never_send_one_row_at_once(
        tmp_path: Path, receiver: tuple[Receiver, TestServer]) -> None:
    """Several action-server processes share the table: leases keep them apart."""
    state, server = receiver
    clock = Clock()
    url = str(server.make_url("/webhooks/escalations"))
    first, second = await make_outbox(tmp_path, url, clock), await make_outbox(tmp_path, url,
                                                                               clock)
    for n in range(5):
        await first.enqueue(escalation(n))
    sent = await asyncio.gather(first.deliver_due(), second.deliver_due())
    assert sum(sent) == 5
    assert sorted(r["escalation_id"] for r in state.received) == [f"esc-{n}" for n in range(5)]
    await first.close()
    await second.close()


async def test_the_sender_loop_delivers_on_its_own(
        tmp_path: Path, receiver: tuple[Receiver, TestServer]) -> None:
    state, server = receiver
    outbox = HandoffOutbox(make_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"),
                           str(server.make_url("/webhooks/escalations")), SECRET)
    await outbox.create_schema()
    outbox.start()
    await outbox.enqueue(escalation(7))
    for _ in range(100):
        if state.received:
            break
        await asyncio.sleep(0.05)
    assert [r["escalation_id"] for r in state.received] == ["esc-7"]
    await outbox.close()
