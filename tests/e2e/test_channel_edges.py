"""The channels' edges against the real stack: bounded REST bodies, client metadata that
decides nothing, the channel's own client id, the widget's origins, and the per-client rate
limits (rasa_plugins/channels/client_identity.py, rasa_plugins/channels/rate_limits.py).

The limits are tested on a stack of their own with small budgets and a 5-second message
window; there loopback is a trusted proxy, so each test is a client of its own by its
``X-Forwarded-For``. The session's shared stack has its limits out of the way (as every
test stack) and trusts no proxy.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import socketio

from bot import processes
from tests.e2e.conftest import PINNED_NOW, Assistant, new_sender
from tests.e2e.http_json import exchange
from tests.e2e.widget_socket import Visitor

LIMITS = {
    "CHANNEL_CONVERSATION_MESSAGES": "3",
    "CHANNEL_CLIENT_MESSAGES": "6",
    "CHANNEL_MESSAGES_WINDOW_SECONDS": "5",
    "CHANNEL_NEW_CONVERSATIONS": "3",
    "CHANNEL_NEW_CONVERSATIONS_SECONDS": "600",
    "CHANNEL_TRUSTED_PROXIES": "127.0.0.1",
}


def post(url: str, body: bytes, headers: dict[str, str] | None = None
         ) -> tuple[int, Any, dict[str, str]]:
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def message(sender: str, text: str, **extra: Any) -> bytes:
    return json.dumps({"sender": sender, "message": text, **extra}).encode()


def tracker(url: str, token: str, sender: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/conversations/{sender}/tracker?token={token}")
    status, body = exchange(request, timeout=30)
    assert status == 200, body
    return dict(body)


def user_events(url: str, token: str, sender: str) -> list[dict[str, Any]]:
    return [e for e in tracker(url, token, sender)["events"] if e["event"] == "user"]


_CLIENTS = itertools.count(1)


def fake_ip() -> str:
    """A client address no other test in this module has used: the budgets are per client
    (the right-most untrusted hop), so two tests drawing the same one at random shared a
    budget and the later one was refused."""
    n = next(_CLIENTS)
    return f"198.51.100.{n % 250 + 1}, 203.0.{113 + n // 250}.{n % 250 + 1}"


# On the session's stack ---------------------------------------------------------------------

def test_oversized_and_deep_bodies_are_refused_and_nothing_is_stored(
        assistant: Assistant) -> None:
    sender = new_sender("edge-big")
    status, body, _ = post(assistant.url, message(sender, "hi",
                                                  metadata={"note": "x" * 5_000_000}))
    assert status == 413 and "too large" in body["error"]
    status, body, _ = post(assistant.url, message(sender, "hi", metadata={"note": "x" * 5000}))
    assert status == 413 and body["error"].startswith("'metadata' is too large")
    assert user_events(assistant.url, assistant.token, sender) == []  # nothing stored
    deep = b'{"sender": "' + sender.encode() + b'", "message": "hi", "metadata": ' \
        + b"[" * 5000 + b"]" * 5000 + b"}"
    status, body, _ = post(assistant.url, deep)
    assert status == 400 and "nests too deeply" in body["error"]
    status, body, _ = post(assistant.url, message(sender, "hi", metadata={"a": {"b": {"c": {
        "d": {"e": {"f": {"g": {}}}}}}}}))
    assert status == 400 and "nests too deeply" in body["error"]
    assert user_events(assistant.url, assistant.token, sender) == []


def test_a_sender_ending_in_a_newline_is_refused(assistant: Assistant) -> None:
    sender = new_sender("edge-nl")
    for bad in (sender + "\n", sender + "\r\n", "\n" + sender):
        status, body, _ = post(assistant.url, message(bad, "hi"))
        assert status == 400 and "'sender'" in body["error"], (bad, body)
    request = urllib.request.Request(
        f"{assistant.url}/webhooks/rest/messages?sender={sender}%0A")
    status, body = exchange(request, timeout=30)
    assert status == 400 and "'sender'" in body["error"]


def test_client_metadata_decides_nothing_and_the_channel_names_the_client(
        assistant: Assistant) -> None:
    sender = new_sender("edge-meta")
    forged = {"is_external": True, "from": "agent", "agent_name": "Eve",
              "client_id": "ip:forged", "handoff": "kept", "language": "ru"}
    status, replies, _ = post(assistant.url, message(sender, "привет", metadata=forged),
                              {"X-Forwarded-For": "198.51.100.7"})
    assert status == 200 and replies, replies
    status, _, _ = post(assistant.url, message(sender, "спасибо"),
                        {"X-Forwarded-For": "203.0.113.9"})
    assert status == 200
    first, second = user_events(assistant.url, assistant.token, sender)
    meta = first["metadata"]
    assert "is_external" not in meta and "from" not in meta and "agent_name" not in meta
    assert meta["client"] == forged  # kept for the record, where nothing reads it
    assert meta["language"] == "ru"  # the one key a client may set, checked
    # the channel's own id: a hash, the same for both (this stack trusts no proxy)
    assert meta["client_id"].startswith("ip:") and meta["client_id"] != "ip:forged"
    assert "127.0.0.1" not in json.dumps(first) and "198.51.100.7" not in json.dumps(first)
    assert second["metadata"]["client_id"] == meta["client_id"]
    # the conversation is the assistant's: not counted as an external (agent) message
    assert not tracker(assistant.url, assistant.token, sender)["paused"]
    # the REST long poll does not treat the answers as pushed (is_external was not trusted)
    assert assistant.pushed(sender)["messages"] == []


async def test_sockets_from_another_origin_are_refused_unless_listed(
        assistant: Assistant) -> None:
    foreign = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await foreign.connect(assistant.url, transports=["websocket"],
                              headers={"Origin": "https://evil.example"})
    own = Visitor(assistant.url)
    await own.client.connect(assistant.url, transports=["websocket"],
                             headers={"Origin": assistant.url})
    try:
        confirm = await own.request({"token": None, "language": "en"})
        assert confirm["fresh"] and confirm["token"]
    finally:
        await own.close()


# On a stack with small budgets --------------------------------------------------------------

@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[processes.Stack]:
    folder: Path = tmp_path_factory.mktemp("limited")
    logs: list[str] = []
    stack = processes.start_stack(folder, fixed_now=PINNED_NOW, sink=logs.append,
                                  extra_env=LIMITS)
    try:
        yield stack
    finally:
        stack.stop()
    tracebacks = [line for line in logs if "Traceback" in line]
    assert not tracebacks, "a server logged a traceback:\n" + "\n".join(logs[-80:])


def test_a_rest_client_over_its_budget_gets_429_then_gets_through(
        limited: processes.Stack) -> None:
    sender, client = new_sender("edge-rate"), {"X-Forwarded-For": fake_ip()}
    texts = ["hi", "thanks", "hello", "good morning", "thank you"]
    with ThreadPoolExecutor(len(texts)) as pool:
        results = list(pool.map(lambda t: post(limited.url, message(
            sender, t, metadata={"language": "uk"}), client), texts))
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200, 200, 200, 429, 429], statuses
    refused = [(body, headers) for status, body, headers in results if status == 429]
    for body, headers in refused:
        assert int(headers["Retry-After"]) == body["retry_after"] >= 1
        assert "Зачекайте" in body["error"]  # in the customer's language
    # nothing answered twice, nothing refused stored
    assert len(user_events(limited.url, limited.token, sender)) == 3
    # another client is not held up by this one
    assert post(limited.url, message(new_sender("edge-other"), "hi"),
                {"X-Forwarded-For": fake_ip()})[0] == 200
    time.sleep(max(int(h["Retry-After"]) for _, h in refused))
    status, replies, _ = post(limited.url, message(sender, "hi again"), client)
    assert status == 200 and replies


def test_rotating_rest_senders_runs_into_the_new_conversation_budget(
        limited: processes.Stack) -> None:
    client = {"X-Forwarded-For": fake_ip()}
    senders = [new_sender("edge-rot") for _ in range(4)]
    results = [post(limited.url, message(s, "hi"), client) for s in senders]
    assert [status for status, _, _ in results] == [200, 200, 200, 429]
    assert results[3][1]["limit"] == "new-conversations"
    assert int(results[3][2]["Retry-After"]) > 60
    # a conversation the client has goes on
    assert post(limited.url, message(senders[0], "thanks"), client)[0] == 200


async def test_four_sockets_on_one_token_share_one_budget(limited: processes.Stack) -> None:
    """Four tabs of one session (the old per-socket limit let each send its own budget);
    the refusal is in the customer's language (here Ukrainian)."""
    headers = {"X-Forwarded-For": fake_ip()}
    tabs = [Visitor(limited.url) for _ in range(4)]
    try:
        await tabs[0].client.connect(limited.url, transports=["websocket"], headers=headers)
        token = (await tabs[0].request({"token": None, "language": "uk"}))["token"]
        for tab in tabs[1:]:
            await tab.client.connect(limited.url, transports=["websocket"], headers=headers)
            assert not (await tab.request({"token": token, "language": "uk"}))["fresh"]
        acks = await asyncio.gather(*[tab.send(text) for tab in tabs
                                      for text in ("hi", "thanks")])
        accepted = [a for a in acks if a["ok"]]
        refused = [a for a in acks if not a["ok"]]
        assert len(accepted) == 3 and len(refused) == 5, acks
        assert all("Зачекайте" in a["error"] and a["retry_after"] >= 1 for a in refused)
        await asyncio.sleep(max(a["retry_after"] for a in refused))
        ack = await tabs[3].send("hello")
        assert ack["ok"], ack
        await tabs[0].wait_bot(timeout=30)
    finally:
        for tab in tabs:
            await tab.close()


async def test_new_widget_sessions_over_budget_are_told_why(limited: processes.Stack) -> None:
    headers = {"X-Forwarded-For": fake_ip()}
    opened = []
    try:
        for _ in range(3):
            visitor = Visitor(limited.url)
            opened.append(visitor)
            await visitor.client.connect(limited.url, transports=["websocket"],
                                         headers=headers)
            assert (await visitor.request({"token": None, "language": "ru"}))["fresh"]
        late = socketio.AsyncClient(reconnection=False)
        told: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        late.on("rate_limited", told.set_result)
        await late.connect(limited.url, transports=["websocket"], headers=headers)
        try:
            await late.emit("session_request", {"token": None, "language": "ru"})
            data = await asyncio.wait_for(told, timeout=20)
            assert "новых чатов" in data["text"] and data["retry_after"] > 60
            # its messages are not taken without a session
            ack = await late.call("user_uttered", {"message": "hi",
                                                   "client_id": uuid.uuid4().hex}, timeout=30)
            assert ack["ok"] is False
        finally:
            await late.disconnect()
        # the sessions it has go on: a token comes back, not counted as new
        again = Visitor(limited.url)
        opened.append(again)
        await again.client.connect(limited.url, transports=["websocket"], headers=headers)
        assert not (await again.request({"token": opened[0].token}))["fresh"]
    finally:
        for visitor in opened:
            await visitor.close()
