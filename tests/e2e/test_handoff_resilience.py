"""The handoff service as real processes: outages, the signed webhook, the console's
access rules and concurrent claims.

The outage test stops and restarts the handoff service, so it runs on a private stack of
its own; the other tests use the session's stack (tests/e2e/conftest.py).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest

from bot import processes
from contract.payload import Escalation
from contract.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests import factories
from tests.e2e.conftest import PINNED_NOW, Assistant, Console, customer_texts, new_sender, wait_for

pytestmark = pytest.mark.e2e


def tickets_of(console: Console, conversation_id: str) -> list[dict[str, Any]]:
    return [t for t in console.queue() if t["conversation_id"] == conversation_id]


def stored_tickets(folder: Path, conversation_id: str) -> int:
    """Every ticket of the conversation in the handoff database, open or not."""
    with sqlite3.connect(folder / "handoff.db") as conn:
        return int(conn.execute("SELECT count(*) FROM tickets WHERE conversation_id = ?",
                                (conversation_id,)).fetchone()[0])


# --- a) the handoff service goes down and comes back -----------------------------------

def test_an_outage_of_the_handoff_service_loses_and_doubles_nothing(tmp_path: Path) -> None:
    logs: list[str] = []
    stack = processes.start_stack(tmp_path, fixed_now=PINNED_NOW, sink=logs.append)
    try:
        assistant = Assistant(stack.url, stack.token, tmp_path / "shop.db", stack)
        agent = assistant.console("outage-agent", "Anna")
        sender = new_sender("outage")
        assistant.send(sender, "hello")

        stack.handoff.stop()
        assert not stack.handoff.alive()
        answer = assistant.texts(sender, "I want to talk to a person")
        assert "passing you to a person" in answer  # the outbox holds the escalation
        during = ["Is anybody there?", "My parcel never arrived, order ORB-104388."]
        for text in during:
            assert assistant.send(sender, text) == []  # paused: no bot answer

        def outbox() -> list[tuple[int, str | None]]:
            with sqlite3.connect(tmp_path / "actions.db") as conn:
                return conn.execute("SELECT attempts, delivered_at FROM handoff_outbox "
                                    "WHERE conversation_id = ?", (sender,)).fetchall()

        rows = outbox()
        assert len(rows) == 1
        assert rows[0][1] is None  # not delivered while the service is down
        stack.restart_handoff()

        ticket = wait_for(lambda: tickets_of(agent, sender), what="the ticket")[0]
        expected = ["hello", "I want to talk to a person", *during]
        wait_for(lambda: customer_texts(agent, ticket["id"]) == expected, timeout=10,
                 what=f"transcript {expected}")
        # The service shows the ticket before the action server has its answer and marks
        # the row delivered.
        attempts, _ = wait_for(lambda: (row := outbox()[0])[1] is not None and row,
                               timeout=10, what="the outbox row marked delivered")
        assert attempts >= 2  # refused while down, then retried
        assistant.wait_pushed(sender, lambda m: "in the queue" in m["text"])
        time.sleep(1.0)  # let the feed run over the same events a few more times
        assert len(tickets_of(agent, sender)) == 1
        assert stored_tickets(tmp_path, sender) == 1
        assert customer_texts(agent, ticket["id"]) == expected

        # Claimed, then down again: the message sent meanwhile comes through the feed once.
        assert agent.act(ticket["id"], "claim")[0] == 200
        assistant.wait_pushed(sender, lambda m: "has joined the chat" in m["text"])
        stack.handoff.stop()
        late = "Still waiting for the parcel, any news?"
        assert assistant.send(sender, late) == []
        stack.restart_handoff()
        wait_for(lambda: late in customer_texts(agent, ticket["id"]), timeout=15,
                 what="the message sent during the second outage")
        time.sleep(1.0)
        assert customer_texts(agent, ticket["id"]) == [*expected, late]
        # And the way back out still works after the restarts.
        status, _ = agent.act(ticket["id"], "messages", {"text": "Looking into it now."})
        assert status == 201
        pushed = assistant.wait_pushed(sender, lambda m: m["text"] == "Looking into it now.")
        assert pushed["agent_name"] == "Anna"
        assert stored_tickets(tmp_path, sender) == 1
    finally:
        stack.stop()
    assert not [line for line in logs if "Traceback" in line], "\n".join(logs[-80:])


# --- b) the escalation webhook -----------------------------------------------------------

def escalation(conversation_id: str) -> Escalation:
    """A valid webhook body (contract/payload.py), as the action server sends it."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return cast(Escalation, factories.escalation(
        conversation_id, escalation_id=uuid.uuid4().hex, at=now,
        transcript=[{"role": "customer", "text": "I want to talk to a person", "at": now,
                     "author": None}]))


def post_webhook(assistant: Assistant, body: bytes,
                 headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{assistant.handoff_url}/webhooks/escalations", data=body, method="POST",
        headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def secret_of(assistant: Assistant) -> str:
    assert assistant.stack is not None
    return assistant.stack.env["HANDOFF_WEBHOOK_SECRET"]


def signed_ticket(assistant: Assistant, conversation_id: str) -> int:
    body = json.dumps(escalation(conversation_id)).encode()
    status, answer = post_webhook(assistant, body, sign(secret_of(assistant), body))
    assert status == 201, answer
    return int(answer["ticket_id"])


def close(console: Console, ticket_id: int) -> None:
    """Leave nothing open in the shared queue."""
    status, body = console.act(ticket_id, "claim")
    assert status == 200, body
    status, body = console.act(ticket_id, "resolve")
    assert status == 200, body


def test_the_webhook_takes_only_fresh_signed_valid_escalations(assistant: Assistant) -> None:
    secret = secret_of(assistant)
    agent = assistant.console(f"hook-{uuid.uuid4().hex[:8]}", "Hook Checker")
    conversation = new_sender("hook")
    body = json.dumps(escalation(conversation)).encode()
    now = int(time.time())
    refused = {
        "unsigned": {},
        "bad signature": {TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: "sha256=" + "0" * 64},
        "signed with another secret": sign("another-secret-of-enough-length", body),
        "stale": sign(secret, body, now=now - 3600),
        "from the future": sign(secret, body, now=now + 3600),
        "body altered": sign(secret, body.replace(b"customer_request", b"lost_parcel")),
    }
    for case, headers in refused.items():
        status, answer = post_webhook(assistant, body, headers)
        assert status == 401, (case, status, answer)
    assert tickets_of(agent, conversation) == []

    headers = sign(secret, body)
    status, first = post_webhook(assistant, body, headers)
    assert status == 201, first
    assert first["created"] is True
    assert first["status"] == "queued"
    status, again = post_webhook(assistant, body, headers)  # the exact same request
    assert status == 200, again
    assert again == {**first, "created": False}
    assert [t["id"] for t in tickets_of(agent, conversation)] == [first["ticket_id"]]

    unknown: dict[str, Any] = {**escalation(new_sender("hook-reason")), "reason": "bored"}
    raw = json.dumps(unknown).encode()
    status, answer = post_webhook(assistant, raw, sign(secret, raw))
    assert status == 422, answer
    assert "reason" in answer["error"]
    assert tickets_of(agent, unknown["conversation_id"]) == []
    close(agent, first["ticket_id"])


# --- c) the console's access rules -------------------------------------------------------

API_GETS = ["/api/queue", "/api/me", "/api/agents", "/api/tickets/1"]
TICKET_ACTIONS = ["claim", "messages", "notes", "transfer", "release", "resolve"]
NO_SUCH_TICKET = 999_999  # a write that slipped through would change nothing


def api_posts(ticket_id: int) -> list[str]:
    return [f"/api/tickets/{ticket_id}/{action}" for action in TICKET_ACTIONS] + ["/api/logout"]


def raw_call(console: Console, method: str, path: str, headers: dict[str, str],
             body: Any = None) -> int:
    """A request with exactly these headers (Console.call always sends its CSRF token)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(console.base_url + path, data=data, method=method,
                                     headers=headers)
    try:
        with console.opener.open(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def login_status(console: Console, username: str, password: str) -> int:
    if not console.csrf:
        console.opener.open(console.base_url + "/console/login", timeout=30).read()
        console.csrf = cookie(console, "handoff_csrf")
    status, _ = console.call("POST", "/api/login", {"username": username, "password": password})
    return status


def cookie(console: Console, name: str) -> str:
    return next(c.value or "" for c in console.jar if c.name == name)


def test_the_console_api_refuses_strangers(assistant: Assistant) -> None:
    stranger = Console(assistant.handoff_url)
    for path in API_GETS:
        assert stranger.call("GET", path)[0] == 401, path
    for path in api_posts(1):
        assert stranger.call("POST", path, {"text": "hi", "agent_id": 1})[0] == 401, path
    # A forged session cookie is no session.
    forged = {"Cookie": "handoff_session=forged", "Content-Type": "application/json"}
    assert raw_call(stranger, "GET", "/api/queue", forged) == 401

    agent = assistant.console(f"csrf-{uuid.uuid4().hex[:8]}", "Csrf Checker")
    origin = assistant.handoff_url
    json_type = {"Content-Type": "application/json"}
    for path in api_posts(NO_SUCH_TICKET):
        body = {"text": "hi", "agent_id": 1}
        assert raw_call(agent, "POST", path, json_type, body) == 403, path
        wrong = {**json_type, "X-CSRF-Token": "wrong-" + agent.csrf}
        assert raw_call(agent, "POST", path, wrong, body) == 403, path
        foreign = {**json_type, "X-CSRF-Token": agent.csrf, "Origin": "http://evil.example"}
        assert raw_call(agent, "POST", path, foreign, body) == 403, path
        same = {**json_type, "X-CSRF-Token": agent.csrf, "Origin": origin}
        if not path.endswith("/logout"):
            assert raw_call(agent, "POST", path, same, body) == 409, path  # no such chat
    # The CSRF token of one session is no good with another.
    other = assistant.console(f"csrf-{uuid.uuid4().hex[:8]}", "Other Agent")
    assert other.csrf != agent.csrf
    swapped = {**json_type, "X-CSRF-Token": other.csrf}
    assert raw_call(agent, "POST", f"/api/tickets/{NO_SUCH_TICKET}/claim", swapped, {}) == 403
    # The session still works: none of the above logged it out or did anything.
    assert agent.call("GET", "/api/me")[0] == 200
    assert agent.call("POST", "/api/logout", {})[0] == 200
    assert agent.call("GET", "/api/me")[0] == 401


def test_login_is_refused_with_a_wrong_password_and_then_locked(assistant: Assistant) -> None:
    username, password = assistant.add_agent(f"lock-{uuid.uuid4().hex[:8]}", "Locked Agent")
    console = Console(assistant.handoff_url)
    assert [login_status(console, username, "wrong password") for _ in range(5)] == [401] * 5
    assert login_status(console, username, "wrong password") == 429
    assert login_status(console, username, password) == 429  # locked, even when right
    # Another account is not affected.
    other, other_password = assistant.add_agent(f"free-{uuid.uuid4().hex[:8]}", "Free Agent")
    assert login_status(Console(assistant.handoff_url), other, other_password) == 200
    # Without the login page's CSRF cookie, even the right password is refused.
    bare = Console(assistant.handoff_url)
    status, _ = bare.call("POST", "/api/login", {"username": other, "password": other_password})
    assert status == 403


async def test_the_websocket_needs_a_session_and_the_same_origin(assistant: Assistant) -> None:
    url = assistant.handoff_url.replace("http://", "ws://") + "/api/ws"
    agent = assistant.console(f"ws-{uuid.uuid4().hex[:8]}", "Ws Checker")
    session = {"Cookie": "handoff_session=" + cookie(agent, "handoff_session")}
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Cookie": "handoff_session=forged"}):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url, headers=headers)
            assert refused.value.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
            await http.ws_connect(url, headers=session, origin="http://evil.example")
        assert foreign.value.status == 403
        # With the session and its own origin it connects and answers.
        async with http.ws_connect(url, headers=session, origin=assistant.handoff_url) as ws:
            await ws.send_str(json.dumps({"type": "ping"}))
            frames = []
            while True:
                frame = json.loads(await ws.receive_str(timeout=10))
                frames.append(frame["type"])
                if frame["type"] == "pong":
                    break
            assert "pong" in frames


# --- d) two agents click "claim" at the same moment ---------------------------------------

def test_two_agents_claiming_at_once_one_wins(assistant: Assistant) -> None:
    agents = [assistant.console(f"race-{i}-{uuid.uuid4().hex[:6]}", f"Racer {i}", max_chats=50)
              for i in (1, 2)]
    wins = {0: 0, 1: 0}
    for _ in range(10):
        ticket_id = signed_ticket(assistant, new_sender("race"))
        barrier = threading.Barrier(2)
        results: dict[int, tuple[int, Any]] = {}

        def claim(index: int, ticket: int = ticket_id,
                  start: threading.Barrier = barrier,
                  out: dict[int, tuple[int, Any]] = results) -> None:
            start.wait(timeout=10)
            out[index] = agents[index].act(ticket, "claim")

        threads = [threading.Thread(target=claim, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        statuses = sorted(status for status, _ in results.values())
        assert statuses == [200, 409], results
        winner = next(i for i, (status, _) in results.items() if status == 200)
        loser_answer = results[1 - winner][1]
        assert "Already taken by" in loser_answer["error"], loser_answer
        wins[winner] += 1
        detail = agents[winner].ticket(ticket_id)
        assert detail["ticket"]["agent"]["display_name"] == f"Racer {winner + 1}"
        took = [m for m in detail["messages"] if m["kind"] == "system" and "took the chat"
                in m["text"]]
        assert len(took) == 1, took
        status, body = agents[winner].act(ticket_id, "resolve")
        assert status == 200, body
    assert sum(wins.values()) == 10
