"""Keeps the `language` slot in step with the customer, message by message.

Run by Rasa's ``action_extract_slots`` after every user message, inside
``action_read_message`` (actions/reading.py), so responses chosen by Rasa itself are
already in the customer's language. Button payloads ("/affirm") carry no language and
change nothing. A channel may say which language the customer's page or app is in (message metadata
``language``: the widget's page language, Telegram's ``language_code``); until the
customer's words have decided (the slot's initial value is English), that language
stands in, so a conversation that starts with a button or an order number gets it.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions.conversation import is_button_payload, latest_text
from actions.language_rules import choose

LANGUAGES = ("en", "ru", "uk")


def channel_language(tracker: Tracker) -> str | None:
    """The language the customer's channel reports with this message, if one we speak."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    value = str(metadata.get("language") or "").lower()[:2]
    return value if value in LANGUAGES else None


def language_events(tracker: Tracker) -> list[EventType]:
    """The ``language`` slot for the latest message, if it changes."""
    current = tracker.get_slot("language")
    decided = any(event.get("event") == "slot" and event.get("name") == "language"
                  for event in tracker.events)
    hint = None if decided else channel_language(tracker)
    if is_button_payload(tracker):
        return [SlotSet("language", hint)] if hint else []
    chosen = choose(latest_text(tracker), hint or current)
    if chosen is None and hint:
        chosen = hint
    return [SlotSet("language", chosen)] if chosen else []
