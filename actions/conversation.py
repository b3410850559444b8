"""Small readers over the tracker and one way to answer, shared by every action."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.formatting import SUPPORTED

# Intents that always break out of a question the assistant asked, even an open one.
# EXTERNAL_survey is the handoff service's "the chat went quiet": never an answer.
HARD_INTERRUPTS = frozenset({"request_human", "stop", "bot_challenge", "goodbye",
                             "EXTERNAL_survey"})
# Intents the rules answer in the middle of a form (data/rules): the form lets Rasa
# reject the turn for them, unless the message also carries the data that was asked for.
# A question for the knowledge base (`faq`) is answered by a rule too, then the job goes on.
RULED_INTERRUPTS = HARD_INTERRUPTS | {"greet", "thank", "faq"}
INTERRUPT_CONFIDENCE = 0.6


def language(tracker: Tracker) -> str:
    value = tracker.get_slot("language")
    return value if value in SUPPORTED else "en"


def latest_intent(tracker: Tracker) -> tuple[str | None, float]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    name = intent.get("name")
    if str(name).startswith("EXTERNAL_"):
        return name, 1.0  # sent by a service (trigger_intent), which carries no confidence
    return name, float(intent.get("confidence") or 0.0)


def latest_text(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("text") or "").strip()


def latest_entity(tracker: Tracker, entity: str) -> Any:
    return next(tracker.get_latest_entity_values(entity), None)


def is_button_payload(tracker: Tracker) -> bool:
    return latest_text(tracker).startswith("/")


def breaks_out(tracker: Tracker) -> bool:
    """True if the customer wants out of the current question whatever they typed."""
    intent, confidence = latest_intent(tracker)
    return intent in HARD_INTERRUPTS and confidence >= INTERRUPT_CONFIDENCE


def say(dispatcher: CollectingDispatcher, response: str, **kwargs: Any) -> None:
    """Send a response from the domain; every language lives there, none in code."""
    dispatcher.utter_message(response=response, **kwargs)
