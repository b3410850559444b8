"""The scaled stack (bot/scaled.py): two Rasa processes and two action servers sharing a
throwaway PostgreSQL and Redis, one handoff service, nginx in front (bot/balancer.py).

The tests talk to each Rasa process directly by port, so they decide which process takes
which turn; Rasa's action calls go through the balancer, round robin over both action
servers, as in ``make run-scaled``. One conversation alternates between the processes,
then one Rasa process and one action server are killed (SIGKILL) and it carries on with
the survivors: the tracker must hold every message once, in order, each followed by
exactly the answer its request got. Concurrent messages of one conversation sent to both
processes at once must be handled one after the other (Rasa's Redis lock store).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot import engines, scaled
from bot import processes as p
from tests import servers
from tests.e2e.conftest import PINNED_NOW, new_sender
from tests.e2e.http_json import exchange
from tests.e2e.widget_socket import Visitor

pytestmark = pytest.mark.e2e


@dataclass
class Scaled:
    stack: scaled.ScaledStack
    database: engines.Database
    access_log: Path
    logs: list[str]

    def rasa_url(self, index: int) -> str:
        return self.stack.layout.rasa_urls[index]

    def send(self, index: int, sender: str, message: str) -> list[dict[str, Any]]:
        """One turn, sent to Rasa process ``index`` itself; its replies."""
        request = urllib.request.Request(
            f"{self.rasa_url(index)}/webhooks/rest/webhook",
            data=json.dumps({"sender": sender, "message": message}).encode(),
            headers={"Content-Type": "application/json"})
        status, replies = exchange(request, timeout=120)
        assert status == 200, replies
        assert isinstance(replies, list)
        return replies

    def tracker(self, index: int, sender: str) -> dict[str, Any]:
        url = f"{self.rasa_url(index)}/conversations/{sender}/tracker?token={self.stack.token}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return dict(json.loads(response.read()))

    def rows(self, database: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
        async def fetch() -> list[tuple[Any, ...]]:
            engine = create_async_engine(self.database.url(database))
            try:
                async with engine.connect() as conn:
                    return [tuple(row) for row in await conn.execute(text(query), params)]
            finally:
                await engine.dispose()

        return asyncio.run(fetch())

    def kill(self, name: str) -> None:
        """SIGKILL one process: no shutdown of any kind, as when a machine loses it."""
        managed = self.stack.children[name]
        os.killpg(managed.process.pid, signal.SIGKILL)
        managed.process.wait(10)


@contextlib.contextmanager
def two_of_each_stack(folder: Path, **extra_env: str) -> Iterator[Scaled]:
    """Two Rasa and two action-server processes behind nginx, one handoff service, on a
    throwaway PostgreSQL and Redis; ``extra_env`` is added to every process's settings.
    Afterwards no server may have logged a traceback."""
    logs: list[str] = []
    postgres = servers.start_postgres("rasa_tracker")
    redis: servers.RedisServer | None = None
    stack: scaled.ScaledStack | None = None
    try:
        database = engines.Database("127.0.0.1", postgres.port, "postgres", "")
        engines.create_databases(database, scaled.DATABASES, postgres.bin_dir)
        redis = servers.start_redis()
        layout = scaled.Layout.for_replicas(2)
        token = "scaled-" + os.urandom(12).hex()
        env = p.base_env({
            **scaled.scaled_env(layout, database, redis.port, token,
                                "test-" + os.urandom(16).hex(), "test-" + os.urandom(16).hex()),
            "ASSISTANT_FIXED_NOW": PINNED_NOW, "LOG_LEVEL": "WARNING", **extra_env})
        try:
            model = p.newest_model()
        except p.StartError:
            model = p.train(env, sink=logs.append)
        p.build_knowledge(env, sink=logs.append)
        access_log = folder / "access.log"
        stack = scaled.ScaledStack(layout, env, model, token, folder / "nginx",
                                   sink=logs.append, access_log=access_log)
        started = time.monotonic()
        stack.start()
        logs.append(f"[test] scaled stack ready in {time.monotonic() - started:.1f} s")
        yield Scaled(stack, database, access_log, logs)
    finally:
        if stack is not None:
            stack.stop()
        if redis is not None:
            redis.stop()
        postgres.stop()
    tracebacks = [line for line in logs if "Traceback" in line]
    assert not tracebacks, "a server logged a traceback:\n" + "\n".join(logs[-80:])


@pytest.fixture(scope="module")
def two_of_each(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scaled]:
    with two_of_each_stack(tmp_path_factory.mktemp("scaled")) as stack:
        yield stack


def texts(replies: list[dict[str, Any]]) -> list[str]:
    return [r["text"] for r in replies if r.get("text")]


def turns(tracker: dict[str, Any]) -> list[tuple[str, list[str], list[str]]]:
    """(user text, bot texts, action names) for each user message, in tracker order."""
    found: list[tuple[str, list[str], list[str]]] = []
    for event in tracker["events"]:
        if event["event"] == "user":
            found.append((event.get("text") or "", [], []))
        elif found and event["event"] == "bot" and event.get("text"):
            found[-1][1].append(event["text"])
        elif found and event["event"] == "action":
            found[-1][2].append(event["name"])
    return found


def assert_answered_once(tracker: dict[str, Any],
                         sent: list[tuple[str, list[dict[str, Any]]]]) -> None:
    """Every message once, in order, each followed by exactly the answer it got, then the
    assistant listening: nothing lost, reordered, interleaved or answered twice."""
    recorded = turns(tracker)
    assert [user for user, _, _ in recorded] == [message for message, _ in sent]
    for (user, bot, actions), (_, replies) in zip(recorded, sent, strict=True):
        assert bot == texts(replies), user
        assert bot, f"no answer to {user!r}"
        assert actions.count("action_listen") == 1 and actions[-1] == "action_listen", \
            (user, actions)


def action_log(access_log: Path) -> list[tuple[str, str]]:
    """(upstream addresses, status) of every action call that went through the balancer."""
    calls = []
    for line in access_log.read_text().splitlines():
        match = re.search(r" POST /webhook (\d+) upstream=(.*) upstream_status=", line)
        if match:
            calls.append((match.group(2), match.group(1)))
    return calls


def test_concurrent_messages_of_one_conversation_are_taken_in_turn(two_of_each: Scaled) -> None:
    s = two_of_each
    sender = new_sender("scaled-burst")
    messages = ["hi", "thanks", "are you a bot?", "hello", "thank you", "good morning"]
    # All at once, half to each process: each turn must wait for the conversation's lock.
    with ThreadPoolExecutor(len(messages)) as pool:
        futures = [pool.submit(s.send, i % 2, sender, message)
                   for i, message in enumerate(messages)]
        replies = {message: future.result()
                   for message, future in zip(messages, futures, strict=True)}
    tracker = s.tracker(0, sender)
    order = [user for user, _, _ in turns(tracker)]
    assert sorted(order) == sorted(messages)  # each once, in whatever order the lock gave
    assert_answered_once(tracker, [(message, replies[message]) for message in order])
    assert s.tracker(1, sender)["events"] == tracker["events"]


def test_turns_alternate_between_processes_and_survive_a_kill(two_of_each: Scaled) -> None:
    s = two_of_each
    sender = new_sender("scaled")
    sent: list[tuple[str, list[dict[str, Any]]]] = []

    def turn(index: int, message: str) -> str:
        replies = s.send(index, sender, message)
        sent.append((message, replies))
        return "\n".join(texts(replies))

    assert turn(0, "hi there")
    assert "ORB-104217" in turn(1, "where is my order? it should have arrived by now")
    assert turn(0, "ORB 104388")
    assert "PN987654321DE" in turn(1, "ivan.petrov@example.ru")
    asked = turn(0, "I want to return the screen protector from order ORB-104444, "
                    "andriy.sh@example.ua, I don't need it")
    assert "4.95" in asked, asked
    ports = [str(port) for port in s.stack.layout.action_ports]
    before = action_log(s.access_log)
    # Both action servers took calls, each answered by the one it was sent to.
    assert {addresses for addresses, _ in before} == {f"127.0.0.1:{port}" for port in ports}
    assert {status for _, status in before} == {"200"}

    s.kill("rasa-1")
    s.kill("actions-2")
    answer = turn(1, "/affirm")
    assert "Your return number is" in answer, answer
    rma = re.search(r"RMA-\d{6}", answer)
    assert rma is not None
    assert turn(1, "thanks")

    assert_answered_once(s.tracker(1, sender), sent)
    assert s.tracker(1, sender)["slots"]["verified_order_id"] == "ORB-104444"
    # The shop is shared: one return, created once.
    assert s.rows("shop", "SELECT order_id, sku FROM returns WHERE rma = :rma",
                  rma=rma.group(0)) == [("ORB-104444", "AC-GLASS-N7")]
    # The broker's table (what the handoff service relays) has each message once, in order.
    events = s.rows("rasa_events", "SELECT data FROM events WHERE sender_id = :sender "
                    "ORDER BY id", sender=sender)
    users = [json.loads(data)["text"] for (data,) in events
             if json.loads(data)["event"] == "user"]
    assert users == [message for message, _ in sent]
    # After the kill every action call was answered: a call that found the dead server
    # refusing went on to the survivor before anything was sent.
    after = action_log(s.access_log)[len(before):]
    assert after and {status for _, status in after} == {"200"}
    assert all(addresses.endswith(f"127.0.0.1:{ports[0]}") for addresses, _ in after)
    assert any(f"127.0.0.1:{ports[1]}" in addresses for addresses, _ in after)


def test_an_escalation_reaches_the_shared_handoff_queue(two_of_each: Scaled) -> None:
    s = two_of_each
    alive = next(i for i, name in enumerate(s.stack.rasa_names)
                 if s.stack.children[name].alive())
    sender = new_sender("scaled-person")
    s.send(alive, sender, "I want to talk to a person")
    deadline = time.monotonic() + 20
    while not (rows := s.rows("handoff", "SELECT status FROM tickets WHERE "
                              "conversation_id = :sender", sender=sender)):
        assert time.monotonic() < deadline, "no ticket within 20 s"
        time.sleep(0.3)
    assert rows == [("queued",)]
    assert s.tracker(alive, sender)["paused"]


async def test_the_widget_talks_through_the_balancer(two_of_each: Scaled) -> None:
    visitor = Visitor(two_of_each.stack.url)  # nginx: the socket.io upgrade, then a process
    await visitor.open()
    try:
        answer = await visitor.turn("hi")
        assert answer and answer[0]["text"]
    finally:
        await visitor.close()
