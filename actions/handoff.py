"""A customer who asks for a person: never refused, told how and when to reach one."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import formatting as fmt
from actions.conversation import language, say
from actions.runtime import get_runtime


class ActionHumanHandoff(Action):
    def name(self) -> str:
        return "action_human_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        rt = await get_runtime()
        lang, now, policy = language(tracker), rt.now(), rt.policy
        details = {
            "hours": fmt.opening_hours(policy, lang),
            "timezone": rt.calendar.local(now).tzname() or policy.timezone,
            "phone": policy.support_phone,
            "email": policy.support_email,
            "email_hours": policy.email_answer_hours,
        }
        opening = rt.hours.next_opening(now)
        if opening is None:
            say(dispatcher, "utter_human_open", **details)
        else:
            say(dispatcher, "utter_human_closed", next_opening=fmt.moment(opening, lang),
                **details)
        return []
