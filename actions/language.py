"""Keeps the `language` slot in step with the customer, message by message.

Run by Rasa's ``action_extract_slots`` after every user message (the slot's custom
mapping names this action), so responses chosen by Rasa itself are already in the
customer's language. Button payloads ("/affirm") carry no language and change nothing.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import is_button_payload, latest_text
from bot.language import choose


class ActionDetectLanguage(Action):
    def name(self) -> str:
        return "action_detect_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        if is_button_payload(tracker):
            return []
        chosen = choose(latest_text(tracker), tracker.get_slot("language"))
        return [SlotSet("language", chosen)] if chosen else []
