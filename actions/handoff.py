"""Handing a conversation to a person: never refused, never argued with.

Runs for every trigger (the customer asks; the escalation policy after a trigger set
``escalation_reason``). It stores the escalation in the durable outbox (the handoff
service gets it even if it is down right now), tells the customer what happens next in
their language, ends any job in progress and pauses the assistant: from here until an
agent hands back, Rasa records the customer's messages without answering them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    EventType,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import formatting as fmt
from actions.conversation import language, latest_intent, say
from actions.escalation import (
    DETAILS,
    REASON_SLOT,
    order_info,
    sentiment_trail,
    transcript,
)
from actions.lookup_locks import THROTTLE_SLOT, lock_note
from actions.runtime import get_runtime
from contract.payload import Escalation, Reason

# What the customer hears first, for the reasons whose trigger said nothing yet.
LEAD_INS = {"negative_sentiment": "utter_handoff_sorry", "unresolved": "utter_handoff_unresolved"}


def reason_of(tracker: Tracker) -> Reason:
    intent, _ = latest_intent(tracker)
    slot = tracker.get_slot(REASON_SLOT)
    if intent == "request_human" or slot not in DETAILS:
        return "customer_request"
    return slot


class ActionHumanHandoff(Action):
    def name(self) -> str:
        return "action_human_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        rt = await get_runtime()
        lang, now, policy = language(tracker), rt.now(), rt.policy
        reason = reason_of(tracker)
        opening = rt.hours.next_opening(now)
        back_text = fmt.moment(opening, lang) if opening else None
        escalation: Escalation = {
            "escalation_id": rt.require_outbox().new_id(),
            "conversation_id": tracker.sender_id,
            "channel": tracker.get_latest_input_channel() or "rest",
            "language": lang,
            "reason": reason,
            # Which lock (order or client) refused look-ups here, and until when.
            "detail": " ".join(filter(None, (DETAILS[reason], lock_note(
                tracker.get_slot(THROTTLE_SLOT), rt.require_throttle().limits)))),
            # Real time, not the shop's (pinnable) clock: it is compared with Rasa's events.
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "outside_hours": opening is not None,
            "agents_back_at": opening.isoformat(timespec="minutes") if opening else None,
            "agents_back_text": back_text,
            "sentiment_trail": sentiment_trail(tracker),
            "order": await order_info(rt, tracker.get_slot("verified_order_id")),
            "transcript": transcript(tracker),
        }
        # Stored before the customer is told anything: a crash after this line loses nothing.
        await rt.require_outbox().enqueue(escalation)
        if reason in LEAD_INS:
            say(dispatcher, LEAD_INS[reason])
        if opening is None:
            say(dispatcher, "utter_handoff_queued")
        else:
            say(dispatcher, "utter_handoff_closed", next_opening=back_text,
                timezone=rt.calendar.local(now).tzname() or policy.timezone,
                email_hours=policy.email_answer_hours)
        events: list[EventType] = [SlotSet(REASON_SLOT, None), SlotSet("unresolved_turns", 0.0)]
        if (tracker.active_loop or {}).get("name"):
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        # Paused, Rasa stops predicting before its usual action_listen; logging it here
        # leaves the conversation waiting for the customer as usual, so Rasa's built-in
        # answers to /restart and the like still work during the handoff.
        return [*events, ConversationPaused(), ActionExecuted("action_listen")]
