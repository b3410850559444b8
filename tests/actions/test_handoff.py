"""The handoff action and the sentiment trigger, driven like Rasa drives them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.clock import FixedClock
from actions.handoff import ActionHumanHandoff
from actions.reading import ActionReadMessage
from actions.runtime import Runtime
from actions.sentiment_watch import sentiment_events, should_escalate
from contract.payload import SentimentEntry
from sentiment.model import SentimentModel

DOMAIN = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())
SENDER = "handoff-test"
SENTIMENT_FILE = Path(__file__).parents[2] / "models" / "sentiment" / "classifier.json"


def tracker(text: str, intent: str, events: list[dict[str, Any]] | None = None,
            in_form: bool = False, paused: bool = False, **slots: Any) -> Tracker:
    values = {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}
    values |= slots
    return Tracker(
        sender_id=SENDER, slots=values,
        latest_message={"text": text, "intent": {"name": intent, "confidence": 0.97},
                        "entities": []},
        events=events or [], paused=paused, followup_action=None,
        active_loop={"name": "order_form"} if in_form else {},
        latest_action_name="action_listen")


async def run(action: Any, track: Tracker) -> tuple[list[dict[str, Any]],
                                                    list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, track, DOMAIN)
    return dispatcher.messages, events


HISTORY = [
    {"event": "user", "text": "where is my order", "timestamp": 1795000000.0,
     "parse_data": {"intent": {"name": "track_order"}}},
    {"event": "bot", "text": "What's your order number?", "timestamp": 1795000001.0},
    {"event": "user", "text": "/affirm", "timestamp": 1795000002.0,
     "parse_data": {"intent": {"name": "affirm"}}},
    {"event": "bot", "text": "Hello again", "timestamp": 1795000003.0,
     "metadata": {"from": "agent", "agent_name": "Anna"}},
    {"event": "slot", "name": "language", "value": "en", "timestamp": 1795000003.5},
    {"event": "user", "text": "I want a human now", "timestamp": 1795000004.0},
]


async def test_asking_for_a_person_escalates_with_the_whole_context(runtime: Runtime) -> None:
    trail: list[SentimentEntry] = [{"text": "where is my order", "label": "neutral",
                                    "score": 0.9, "strong": False, "at": "2026-11-23T10:00:00",
                                    "message_id": "m1"}]
    messages, events = await run(ActionHumanHandoff(), tracker(
        "I want a human now", "request_human", HISTORY, verified_order_id="ORB-104217",
        sentiment_trail=trail))
    assert [m["response"] for m in messages] == ["utter_handoff_queued"]
    assert [e["event"] for e in events[-2:]] == ["pause", "action"]
    assert events[-1]["name"] == "action_listen"
    [row] = await runtime.require_outbox().pending()
    sent = json.loads(row.body)
    assert sent["reason"] == "customer_request" and sent["conversation_id"] == SENDER
    assert sent["outside_hours"] is False and sent["sentiment_trail"] == trail
    assert [(e["role"], e["text"]) for e in sent["transcript"]] == [
        ("customer", "where is my order"), ("assistant", "What's your order number?"),
        ("customer", "[pressed a button: affirm]"), ("agent", "Hello again"),
        ("customer", "I want a human now")]
    assert sent["transcript"][3]["author"] == "Anna"
    order = sent["order"]
    assert order["order_id"] == "ORB-104217" and order["items"]
    assert {"sku", "name", "quantity", "unit_price"} <= set(order["items"][0])
    assert order["currency"] == "EUR"


async def test_a_trigger_mid_form_ends_the_job_and_says_sorry(runtime: Runtime) -> None:
    messages, events = await run(ActionHumanHandoff(), tracker(
        "this is useless", "inform", in_form=True, escalation_reason="negative_sentiment"))
    assert [m["response"] for m in messages] == ["utter_handoff_sorry", "utter_handoff_queued"]
    kinds = [e["event"] for e in events]
    assert "active_loop" in kinds and kinds[-2:] == ["pause", "action"]
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["escalation_reason"] is None
    [row] = await runtime.require_outbox().pending()
    assert json.loads(row.body)["reason"] == "negative_sentiment"


async def test_outside_agent_hours_the_customer_is_told_when_and_may_leave_an_email(
        runtime: Runtime) -> None:
    runtime.clock = FixedClock(datetime(2026, 11, 22, 12, 0, tzinfo=UTC))  # Sunday
    messages, _ = await run(ActionHumanHandoff(), tracker("a person please", "request_human",
                                                          language="ru"))
    assert [m["response"] for m in messages] == ["utter_handoff_closed"]
    assert messages[0]["next_opening"] and messages[0]["email_hours"] == 24
    [row] = await runtime.require_outbox().pending()
    sent = json.loads(row.body)
    assert sent["outside_hours"] is True and sent["language"] == "ru"
    assert sent["agents_back_at"].startswith("2026-11-23T09:00")
    assert sent["agents_back_text"] == messages[0]["next_opening"]


def entry(label: str, score: float, strong: bool = False) -> SentimentEntry:
    return {"text": "x", "label": label, "score": score, "strong": strong, "at": "",
            "message_id": ""}


@pytest.mark.parametrize(("trail", "expected"), [
    ([], False),
    ([entry("negative", 0.95, strong=True)], True),
    ([entry("negative", 0.9)], False),
    ([entry("negative", 0.9), entry("negative", 0.7)], True),
    ([entry("negative", 0.9), entry("neutral", 0.8), entry("negative", 0.9)], False),
    ([entry("negative", 0.9), entry("negative", 0.5)], False),  # the second is unsure
])
def test_one_strong_or_two_negative_in_a_row(runtime: Runtime, trail: list[SentimentEntry],
                                              expected: bool) -> None:
    assert should_escalate(trail, runtime.settings) is expected


def test_the_thresholds_are_settings(runtime: Runtime) -> None:
    three = replace(runtime.settings, negative_in_a_row=3)
    assert not should_escalate([entry("negative", 0.9), entry("negative", 0.9)], three)


@pytest.fixture
async def mood_runtime(knowledge_runtime: Runtime) -> Runtime:
    knowledge_runtime.sentiment = SentimentModel.load(SENTIMENT_FILE)
    return knowledge_runtime


@pytest.mark.parametrize(("text", "language"), [
    ("This is the third time I'm asking, you people are completely useless!!!", "en"),
    ("Вы издеваетесь?! Третий раз пишу, верните деньги немедленно, это просто позор!", "ru"),
])
async def test_a_furious_message_escalates_at_once(mood_runtime: Runtime, text: str,
                                                   language: str) -> None:
    events = await sentiment_events(tracker(text, "inform", language=language))
    slots = {e["name"]: e["value"] for e in events}
    assert slots["sentiment_trail"][-1]["label"] == "negative"
    assert slots["escalation_reason"] == "negative_sentiment"


async def test_calm_messages_grow_the_trail_without_escalating(mood_runtime: Runtime) -> None:
    trail: list[SentimentEntry] = []
    for text in ("hi there", "thanks, that was really helpful!", "where is my order?"):
        events = await sentiment_events(tracker(text, "inform", sentiment_trail=trail))
        slots = {e["name"]: e["value"] for e in events}
        assert "escalation_reason" not in slots, text
        trail = slots["sentiment_trail"]
    assert [e["label"] for e in trail][:2] == ["neutral", "positive"]
    # Rasa may run the slot mappings twice for one message: it is scored once.
    again = tracker("where is my order?", "inform", sentiment_trail=trail)
    again.latest_message["message_id"] = trail[-1]["message_id"] = "m-3"
    events = await sentiment_events(again)
    assert events == []
    # Buttons carry no mood; and while a person has the chat nothing escalates.
    events = await sentiment_events(tracker("/affirm", "affirm"))
    assert events == []
    events = await sentiment_events(tracker(
        "You are all useless thieves!!!", "inform", paused=True))
    assert [e["name"] for e in events] == ["sentiment_trail"]


async def test_one_call_reads_the_language_and_the_mood(mood_runtime: Runtime) -> None:
    """Both slot mappings name action_read_message: one action-server call a message."""
    messages, events = await run(ActionReadMessage(), tracker(
        "Вы издеваетесь?! Третий раз пишу, это просто позор!", "inform"))
    assert messages == []
    assert [e["name"] for e in events] == ["language", "sentiment_trail", "escalation_reason"]
    assert events[0]["value"] == "ru"
    assert events[1]["value"][-1]["label"] == "negative"
    mappings = {slot: spec["mappings"][0].get("action")
                for slot, spec in DOMAIN["slots"].items()}
    assert mappings["language"] == mappings["sentiment_trail"] == "action_read_message"
