"""The widget's socket.io channel against the real servers, with a Python socket.io client.

The browser tests (test_widget.py, test_widget_delivery.py, test_widget_access.py) drive
the widget itself; these check what the server
promises any client: sessions only it can give out, history once, messages taken once,
other tabs, agents' messages with names and the queue status, and clear refusals.
"""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import Assistant
from tests.e2e.widget_socket import Visitor

pytestmark = pytest.mark.e2e

STATIC = Path(__file__).resolve().parents[2] / "rasa_plugins" / "channels" / "widget_static"


async def visitor(assistant: Assistant, **session: object) -> Visitor:
    tab = Visitor(assistant.url)
    await tab.open(**session)  # type: ignore[arg-type]
    return tab


async def test_a_session_is_the_servers_to_give(assistant: Assistant) -> None:
    alice = await visitor(assistant)
    assert alice.confirm["fresh"] and alice.confirm["history"] == []
    assert alice.conversation.startswith("web-") and len(alice.conversation) == 36
    await alice.turn("hi")
    # Bob names Alice's conversation in every way a client could: none gets him in.
    mac = alice.token.split(".", 1)[1]
    for forged in (alice.conversation, f"{alice.conversation}.", f"{alice.conversation}.x" + mac,
                   "tg-12345", "default", {"session_id": alice.conversation}):
        bob = await visitor(assistant, token=forged)
        assert bob.confirm["fresh"] and bob.confirm["history"] == []
        assert bob.conversation != alice.conversation
        await bob.close()
    # Rasa's own protocol named the conversation in each message: that is ignored here.
    bob = await visitor(assistant)
    ack = await bob.client.call("user_uttered", {"message": "hello from bob",
                                                 "client_id": uuid.uuid4().hex,
                                                 "session_id": alice.conversation},
                                timeout=30)
    assert ack["ok"]
    await asyncio.sleep(2)
    texts = [e["text"] for e in assistant.tracker(alice.conversation)["events"]
             if e["event"] == "user"]
    assert texts == ["hi"]
    assert not any("bob" in m["text"] for m in alice.bot + alice.echoes)
    await alice.close()
    await bob.close()


async def test_history_after_a_reload_and_after_a_drop(assistant: Assistant) -> None:
    tab = await visitor(assistant)
    await tab.turn("hi")
    await tab.turn("where is my order?")
    token, seen = tab.token, [m["id"] for m in tab.bot]
    await tab.close()

    reloaded = await visitor(assistant, token=token)  # a reload: everything, in order
    history = reloaded.confirm["history"]
    assert not reloaded.confirm["fresh"] and reloaded.token == token
    assert [m["role"] for m in history] == ["user", "bot", "user", "bot"]
    assert [m["text"] for m in history if m["role"] == "user"] == ["hi", "where is my order?"]
    assert [m["id"] for m in history if m["role"] == "bot"] == seen  # the same ids as live
    await reloaded.close()

    # A drop after the first answer: only what came after it.
    dropped = await visitor(assistant, token=token, after=seen[0])
    assert dropped.confirm["history"][0]["text"] == "where is my order?"
    assert len(dropped.confirm["history"]) == 2
    await dropped.close()


async def test_a_resent_message_is_answered_once(assistant: Assistant) -> None:
    tab = await visitor(assistant)
    client_id = uuid.uuid4().hex
    first = await tab.send("hi", client_id=client_id)
    again = await tab.send("hi", client_id=client_id)  # the ack was lost: sent again
    assert first == {"ok": True, "id": client_id}
    assert again["ok"] and again.get("duplicate")
    await tab.wait_bot()
    await asyncio.sleep(1.5)
    # After a reconnection, on a new socket, the same message is still known.
    token = tab.token
    await tab.close()
    later = await visitor(assistant, token=token)
    assert (await later.send("hi", client_id=client_id)).get("duplicate")
    events = assistant.tracker(later.conversation)["events"]
    assert [e["message_id"] for e in events if e["event"] == "user"] == [client_id]
    assert len([e for e in events if e["event"] == "bot"]) == 1
    await later.close()


async def test_other_tabs_see_the_whole_conversation(assistant: Assistant) -> None:
    first = await visitor(assistant)
    second = await visitor(assistant, token=first.token)
    answer = await first.turn("hi")
    assert answer
    await second.wait_bot(lambda m: m["id"] == answer[0]["id"])
    assert [e["text"] for e in second.echoes] == ["hi"]
    assert first.echoes == []  # not echoed to the tab that sent it
    await first.close()
    await second.close()


async def test_an_agent_takes_over_and_hands_back(assistant: Assistant) -> None:
    tab = await visitor(assistant, language="ru")
    other_tab = await visitor(assistant, token=tab.token)
    await tab.turn("/request_human", display="Хочу поговорить с человеком")
    queued = await tab.wait_bot(lambda m: (m.get("status") or {}).get("state") == "queued")
    assert queued["from"] == "system" and queued["status"]["position"] >= 1
    assert "очеред" in queued["text"]  # the page's language, although a button came first

    console = assistant.console("wanda", "Wanda")
    ticket = await asyncio.to_thread(console.ticket_of, tab.conversation)
    assert ticket["channel"] == "widget" and ticket["language"] == "ru"
    assert console.act(ticket["id"], "claim")[0] == 200
    joined = await tab.wait_bot(lambda m: (m.get("status") or {}).get("state") == "with_agent")
    assert joined["status"]["agent_name"] == "Wanda"

    start = len(tab.bot)
    assert console.act(ticket["id"], "messages", {"text": "Здравствуйте! <b>Чем</b> помочь?"})[0] \
        == 201
    for socket in (tab, other_tab):
        reply = await socket.wait_bot(lambda m: m["from"] == "agent", start=0)
        assert reply["agent_name"] == "Wanda"
        assert reply["text"] == "Здравствуйте! <b>Чем</b> помочь?"

    ack = await tab.send("<img src=x onerror=alert(1)> заказ не пришёл")
    assert ack["ok"]
    await asyncio.sleep(1.5)
    assert len([m for m in tab.bot[start:] if m["from"] == "assistant"]) == 0  # paused
    transcript = await asyncio.to_thread(console.ticket, ticket["id"])
    assert any(m["text"] == "<img src=x onerror=alert(1)> заказ не пришёл"
               for m in transcript["messages"] if m["kind"] == "customer")

    assert console.act(ticket["id"], "resolve")[0] == 200
    back = await tab.wait_bot(lambda m: (m.get("status") or {}).get("state") == "assistant")
    assert back["from"] == "system"
    # The agent resolved it, so the survey follows (on its own, not as a reply).
    survey = await tab.wait_bot(lambda m: any(str(b.get("payload", "")).startswith(
        "/survey_answer") for b in m.get("buttons") or []))
    assert survey["from"] == "assistant"
    answer = await tab.turn("спасибо")
    assert [m["from"] for m in answer] == ["assistant"]
    await tab.close()
    await other_tab.close()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"message": "", "client_id": "abcdefgh12"}, "empty"),
        ({"message": "   ", "client_id": "abcdefgh13"}, "empty"),
        ({"message": 42, "client_id": "abcdefgh14"}, "empty"),
        ({"message": "x" * 4001, "client_id": "abcdefgh15"}, "too long"),
        ("just a string", "empty"),
    ],
)
async def test_bad_messages_get_a_clear_answer(assistant: Assistant, body: object,
                                               error: str) -> None:
    tab = await visitor(assistant)
    ack = await tab.client.call("user_uttered", body, timeout=30)
    assert ack["ok"] is False and error in ack["error"]
    assert (await tab.turn("hi"))  # the socket still works
    await tab.close()


async def test_messages_before_a_session_and_odd_session_requests(assistant: Assistant) -> None:
    tab = Visitor(assistant.url)
    await tab.client.connect(assistant.url, transports=["websocket"])
    ack = await tab.client.call("user_uttered", {"message": "hi", "client_id": "abcdefgh16"},
                                timeout=30)
    assert ack["ok"] is False and "reconnecting" in ack["error"]
    for odd in (None, "token", [1, 2], {"token": None, "after": {"x": 1}, "language": "xx"}):
        confirm = await tab.request(odd)
        assert confirm["fresh"] and confirm["history"] == []
    await tab.close()


def test_the_widget_files_and_the_demo_page_are_served(assistant: Assistant) -> None:
    # widget.js loads strings.js, its parts (widget-*.js) and socket.io.min.js as scripts:
    # every one of them must be served as JavaScript, and every part named in widget.js.
    scripts = sorted(p.name for p in STATIC.glob("*.js"))
    parts = [name for name in scripts if name.startswith("widget-")]
    assert {"widget.js", "strings.js", "socket.io.min.js"} <= set(scripts) and parts
    loader = (STATIC / "widget.js").read_text(encoding="utf-8")
    assert [name for name in parts if f'"{name}"' not in loader] == []
    for path, kind in [("/webhooks/widget/demo", "text/html"),
                       ("/webhooks/widget/static/widget.css", "text/css"),
                       *((f"/webhooks/widget/static/{name}", "javascript") for name in scripts)]:
        with urllib.request.urlopen(assistant.url + path, timeout=10) as response:
            assert response.status == 200
            assert kind in response.headers["Content-Type"]
            assert response.read()
