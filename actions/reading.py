"""Reads every customer message once, before any other action: language and sentiment.

Both slots' custom mappings name this one action (domain.yml), so Rasa's
``action_extract_slots`` calls the action server once per message instead of once per
slot (Rasa runs each named action once per extraction). The language comes first: it is
what responses chosen by Rasa itself are written in.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.language import language_events
from actions.sentiment_watch import sentiment_events


class ActionReadMessage(Action):
    def name(self) -> str:
        return "action_read_message"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        return [*language_events(tracker), *await sentiment_events(tracker)]
