"""A person's chat outlives Rasa's session expiry, on every channel, against a real stack.

The stack of this module runs with ``SESSION_EXPIRATION_MINUTES`` set to seconds (the
session-wide one keeps the model's 60 minutes). On REST, the widget's socket.io and
Telegram (the Bot API emulator) a customer asks for a person, an agent claims the chat in
the console API, the customer stays silent past the expiry and writes again: Rasa starts a
new session (its ``session_started`` marked as kept), the assistant stays quiet, the agent
reads the message, the agent's reply reaches the customer, and after the hand-back the
assistant answers again. Also: a chat still queued stays queued, a chat handed back while
the customer was away starts unpaused, and "/restart" still ends the wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from contract.session_marker import continues_handoff
from tests.e2e.conftest import (
    Assistant,
    Console,
    customer_texts,
    new_sender,
    serve_assistant,
    wait_for,
)
from tests.e2e.widget_socket import Visitor

pytestmark = pytest.mark.e2e

EXPIRY_SECONDS = 6.0
PAST_EXPIRY = EXPIRY_SECONDS + 2.5
QUIET = 2.0  # how long the assistant has to stay quiet to count as not answering


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """The whole stack with sessions that expire after EXPIRY_SECONDS of silence."""
    yield from serve_assistant(
        tmp_path_factory.mktemp("short-sessions"),
        {"SESSION_EXPIRATION_MINUTES": str(EXPIRY_SECONDS / 60)})


@pytest.fixture(scope="module")
def agent(short: Assistant) -> Console:
    return short.console("sara", "Sara", max_chats=10)


def sessions(assistant: Assistant, sender: str) -> list[dict[str, Any]]:
    """The conversation's session starts, oldest first."""
    events = assistant.tracker(sender)["events"] or []
    return [e for e in events if e["event"] == "session_started"]


def kept_after_expiry(assistant: Assistant, sender: str, before: int) -> None:
    """A new session started since ``before`` sessions, kept for the handoff, paused."""
    starts = sessions(assistant, sender)
    assert len(starts) == before + 1, starts
    assert continues_handoff(starts[-1]), starts[-1]
    assert assistant.tracker(sender)["paused"] is True


def status_of(agent: Console, ticket_id: int) -> str:
    return str(agent.ticket(ticket_id)["ticket"]["status"])


def test_rest_an_agents_chat_survives_the_expiry(short: Assistant, agent: Console) -> None:
    sender = new_sender("exp-rest")
    assert short.send(sender, "hello")
    assert "passing you to a person" in short.texts(sender, "I want to talk to a person")
    ticket = agent.ticket_of(sender)
    assert agent.act(ticket["id"], "claim")[0] == 200
    short.wait_pushed(sender, lambda m: "has joined the chat" in m["text"])
    before = len(sessions(short, sender))

    time.sleep(PAST_EXPIRY)
    assert short.send(sender, "sorry, I was away. Still there?") == []  # no assistant answer
    kept_after_expiry(short, sender, before)
    wait_for(lambda: "sorry, I was away. Still there?" in customer_texts(agent, ticket["id"]),
             what="the customer's message in the agent's transcript")
    assert status_of(agent, ticket["id"]) == "assigned"

    assert agent.act(ticket["id"], "messages", {"text": "Yes, I'm here: what's up?"})[0] == 201
    reply = short.wait_pushed(sender, lambda m: m["text"] == "Yes, I'm here: what's up?")
    assert reply["from"] == "agent" and reply["agent_name"] == "Sara"

    assert agent.act(ticket["id"], "resolve")[0] == 200
    short.wait_pushed(sender, lambda m: "handed you back" in m["text"])
    wait_for(lambda: short.tracker(sender)["paused"] is False, what="the hand-back in Rasa")
    answer = short.send(sender, "where is my order?")
    assert answer and all(r.get("text") or r.get("buttons") for r in answer)
    assert status_of(agent, ticket["id"]) == "resolved"


def test_rest_a_queued_chat_stays_queued(short: Assistant, agent: Console) -> None:
    sender = new_sender("exp-queue")
    assert "passing you to a person" in short.texts(sender, "I want to talk to a person")
    ticket = agent.ticket_of(sender)
    short.wait_pushed(sender, lambda m: "in the queue" in m["text"])
    before = len(sessions(short, sender))

    time.sleep(PAST_EXPIRY)
    assert short.send(sender, "is anyone coming?") == []
    kept_after_expiry(short, sender, before)
    wait_for(lambda: "is anyone coming?" in customer_texts(agent, ticket["id"]),
             what="the queued customer's message in the transcript")
    assert status_of(agent, ticket["id"]) == "queued"

    # Picked up after the expiry: the usual chat, the usual hand-back.
    assert agent.act(ticket["id"], "claim")[0] == 200
    short.wait_pushed(sender, lambda m: "has joined the chat" in m["text"])
    assert agent.act(ticket["id"], "messages", {"text": "Sorry for the wait!"})[0] == 201
    short.wait_pushed(sender, lambda m: m["text"] == "Sorry for the wait!")
    assert agent.act(ticket["id"], "resolve")[0] == 200
    short.wait_pushed(sender, lambda m: "handed you back" in m["text"])
    wait_for(lambda: short.tracker(sender)["paused"] is False, what="the hand-back in Rasa")
    assert short.send(sender, "hello")


def test_rest_handed_back_while_away_starts_unpaused(short: Assistant,
                                                     agent: Console) -> None:
    sender = new_sender("exp-back")
    assert "passing you to a person" in short.texts(sender, "I want to talk to a person")
    ticket = agent.ticket_of(sender)
    assert agent.act(ticket["id"], "claim")[0] == 200
    assert agent.act(ticket["id"], "resolve")[0] == 200
    short.wait_pushed(sender, lambda m: "handed you back" in m["text"])
    before = len(sessions(short, sender))

    time.sleep(PAST_EXPIRY)
    assert short.send(sender, "hello")  # the assistant answers
    starts = sessions(short, sender)
    assert len(starts) == before + 1 and not continues_handoff(starts[-1])
    assert short.tracker(sender)["paused"] is False


def test_rest_a_restart_after_the_expiry_still_ends_the_wait(short: Assistant,
                                                             agent: Console) -> None:
    sender = new_sender("exp-restart")
    assert "passing you to a person" in short.texts(sender, "I want to talk to a person")
    ticket = agent.ticket_of(sender)
    time.sleep(PAST_EXPIRY)
    short.send(sender, "/restart")
    wait_for(lambda: status_of(agent, ticket["id"]) == "abandoned",
             what="the ticket closed by the restart")
    assert short.tracker(sender)["paused"] is False
    assert short.send(sender, "hello")


async def test_widget_an_agents_chat_survives_the_expiry(short: Assistant,
                                                         agent: Console) -> None:
    tab = Visitor(short.url)
    await tab.open(language="en")
    try:
        await tab.turn("I want to talk to a person")
        await tab.wait_bot(lambda m: (m.get("status") or {}).get("state") == "queued")
        ticket = await asyncio.to_thread(agent.ticket_of, tab.conversation)
        assert ticket["channel"] == "widget"
        assert agent.act(ticket["id"], "claim")[0] == 200
        await tab.wait_bot(lambda m: (m.get("status") or {}).get("state") == "with_agent")
        before = len(sessions(short, tab.conversation))

        await asyncio.sleep(PAST_EXPIRY)
        start = len(tab.bot)
        ack = await tab.send("back now, my parcel is still missing")
        assert ack["ok"], ack
        await asyncio.sleep(QUIET)
        assert [m for m in tab.bot[start:] if m["from"] == "assistant"] == []
        kept_after_expiry(short, tab.conversation, before)
        await asyncio.to_thread(
            wait_for, lambda: "back now, my parcel is still missing" in customer_texts(
                agent, ticket["id"]), 30, "the visitor's message in the transcript")

        assert agent.act(ticket["id"], "messages", {"text": "Let me check the parcel."})[0] \
            == 201
        reply = await tab.wait_bot(lambda m: m["from"] == "agent", start=start)
        assert reply["text"] == "Let me check the parcel." and reply["agent_name"] == "Sara"

        assert agent.act(ticket["id"], "resolve")[0] == 200
        await tab.wait_bot(lambda m: (m.get("status") or {}).get("state") == "assistant",
                           start=start)
        answer = await tab.turn("where is my order?")
        assert answer and {m["from"] for m in answer} == {"assistant"}
    finally:
        await tab.close()


def test_telegram_an_agents_chat_survives_the_expiry(short: Assistant,
                                                     agent: Console) -> None:
    assert short.telegram is not None
    short.telegram.wait_webhook()
    user = short.telegram.user("Petra", "en")
    assert user.say("hello")
    assert "passing you to a person" in user.texts("I want to talk to a person")
    ticket = agent.ticket_of(user.conversation_id)
    assert ticket["channel"] == "telegram"
    seen = len(user.messages())
    assert agent.act(ticket["id"], "claim")[0] == 200
    user.wait_for(lambda m: "has joined the chat" in m.shown, after=seen)
    before = len(sessions(short, user.conversation_id))

    time.sleep(PAST_EXPIRY)
    seen = len(user.messages())
    assert user.say("I'm back: did you find it?") == []
    kept_after_expiry(short, user.conversation_id, before)
    wait_for(lambda: "I'm back: did you find it?" in customer_texts(agent, ticket["id"]),
             what="the Telegram message in the transcript")
    time.sleep(QUIET)
    assert user.messages()[seen:] == []  # nothing from the assistant meanwhile

    assert agent.act(ticket["id"], "messages", {"text": "Yes, it ships today."})[0] == 201
    got = user.wait_for(lambda m: "ships today" in m.shown, after=seen)
    assert got.text.startswith("<b>Sara · support</b>\n")

    assert agent.act(ticket["id"], "resolve")[0] == 200
    user.wait_for(lambda m: "handed you back" in m.shown, after=seen)
    wait_for(lambda: short.tracker(user.conversation_id)["paused"] is False,
             what="the hand-back in Rasa")
    assert user.say("where is my order?")
