"""Each trigger kind, in a real conversation over REST, ends with a person: the assistant
is paused and the handoff service has a ticket with that reason."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Assistant, Console, hand_back_all, new_sender

pytestmark = pytest.mark.e2e

# (reason, what the customer says, in order)
CONVERSATIONS = [
    ("customer_request", ["hello", "I want to talk to a real person please"]),
    ("customer_request", ["соедините меня с оператором"]),
    ("negative_sentiment",
     ["This is the third time I'm asking, you people are completely useless!!!"]),
    ("unresolved", ["how long is the warranty on a phone?", "/faq_not_helped",
                    "do you accept paypal?", "/faq_not_helped"]),
    ("form_failed", ["where is my order?", "12", "345", "6789"]),
    # an order no other test looks up: its own throttle must not lock the others out
    ("lookup_locked", ["where is my parcel", "ORB-104420", "nobody@example.com",
                       "ORB-999999", "tom.baker@example.com", "ORB-104420",
                       "+49 170 0000000"]),
    ("lost_parcel", ["my parcel ORB-104150 never arrived", "peter.novak@example.cz"]),
]


@pytest.fixture(scope="module")
def agent(assistant: Assistant) -> Iterator[Console]:
    console = assistant.console("triggers", "Tess")
    yield console
    hand_back_all(console, "trigger-")


@pytest.mark.parametrize(("reason", "messages"), CONVERSATIONS,
                         ids=[f"{r}-{i}" for i, (r, _) in enumerate(CONVERSATIONS)])
def test_each_trigger_hands_the_conversation_to_a_person(
        assistant: Assistant, agent: Console, reason: str, messages: list[str]) -> None:
    sender = new_sender("trigger")
    for text in messages[:-1]:
        assistant.send(sender, text)
        assert not assistant.tracker(sender)["paused"], (reason, text)  # not too early
    last = assistant.texts(sender, messages[-1])
    assert "passing you to a person" in last or "Передаю вас сотруднику" in last, last
    assert assistant.tracker(sender)["paused"]
    ticket = agent.ticket_of(sender)
    assert ticket["reason"] == reason
    assert ticket["status"] == "queued"
    # Paused: the next message gets no answer from the assistant and reaches the ticket.
    assert assistant.send(sender, "hello? anyone there?") == []
    deadline = time.monotonic() + 10
    customer: list[str] = []
    while time.monotonic() < deadline and "hello? anyone there?" not in customer:
        time.sleep(0.2)
        detail = agent.ticket(ticket["id"])
        customer = [m["text"] for m in detail["messages"] if m["kind"] == "customer"]
    assert customer[-1] == "hello? anyone there?"
    assert len(customer) == len(messages) + 1  # every message, buttons included
