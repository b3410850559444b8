"""The end-of-conversation survey: one 1-5 question, sometimes 0-10, an optional comment.

Offered when the customer says goodbye or thanks (rules), and when the handoff service
triggers ``EXTERNAL_survey`` after an agent resolved the chat or it went quiet. It is
offered once per conversation session (the ``surveys`` row is the guard), never while a
person has or is about to take the chat, and only after a real request (not after a
bare "hi" and "bye").

The flow: ``action_offer_survey`` asks the satisfaction question (buttons). The answer
(``survey_answer``, a button or a typed digit) goes to ``action_survey_answer``; then
``survey_form`` asks the recommendation question when this survey has it, and the
comment (free text, or Skip); ``action_survey_finish`` stores the comment and thanks.
Every answer is written as it comes, so a customer who stops half-way keeps what they gave.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation import (
    is_button_payload,
    language,
    latest_entity,
    latest_intent,
    latest_text,
    say,
)
from actions.escalation import REASON_SLOT
from actions.runtime import Runtime, get_runtime
from actions.survey_store import SurveyOffer, aware
from contract.session_marker import continues_handoff

STEP_SLOT = "survey_step"        # "csat" | "nps" | "comment" | None: what is pending
ID_SLOT = "survey_id"
NPS_SLOT = "survey_nps"
COMMENT_SLOT = "survey_comment"
SCORE_ENTITY = "survey_score"
TRIGGER_ENTITY = "survey_trigger"
SURVEY_SLOTS = (STEP_SLOT, ID_SLOT, NPS_SLOT, COMMENT_SLOT)

TRIGGERS = {"goodbye": "goodbye", "thank": "thanks"}
EXTERNAL_TRIGGERS = frozenset({"agent_resolved", "quiet"})
# Messages that are not a request: a session with only these is not surveyed.
NOT_A_REQUEST = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "stop",
                           "bot_challenge", "survey_answer", "survey_skip", "EXTERNAL_survey",
                           None})
MAX_SCORE_WORDS = 8
# At the comment question any words are a comment, unless the customer clearly asks for
# something else: then the survey ends and the request is served (data/rules/survey.yml).
LEAVE_INTENTS = frozenset({"request_human", "stop", "goodbye", "request_status", "case_status",
                           "track_order", "cancel_order", "change_address",
                           "report_lost_parcel", "return_item", "warranty_claim"})
LEAVE_CONFIDENCE = 0.9


def wall_clock() -> datetime:
    """Survey times line up with Rasa's events in the metrics: the real clock, not the
    rules' (pinnable) one."""
    return datetime.now(UTC)


def _is_external(event: dict[str, Any]) -> bool:
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
    return bool((event.get("metadata") or {}).get("is_external")) \
        or str(intent).startswith("EXTERNAL_")


def _intent_of(event: dict[str, Any]) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def session_of(tracker: Tracker) -> tuple[datetime, list[dict[str, Any]]]:
    """The current session's start (its ``session_started`` event, UTC) and its events.
    A session start that kept a person's chat (actions/session.py) continues the session
    it follows: the escalation, the agent and the hand-back are one conversation."""
    events = list(tracker.events)
    starts = [i for i, e in enumerate(events)
              if e.get("event") == "session_started" and not continues_handoff(e)]
    if starts:
        index = starts[-1]
        return _moment(events[index].get("timestamp")), events[index + 1:]
    first = next((e.get("timestamp") for e in events if e.get("timestamp")), None)
    return _moment(first), events


def _moment(timestamp: float | None) -> datetime:
    if not timestamp:
        return wall_clock()
    return datetime.fromtimestamp(float(timestamp), UTC)


def customer_messages(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event") == "user" and not _is_external(e)]


def had_request(events: list[dict[str, Any]]) -> bool:
    return any(_intent_of(e) not in NOT_A_REQUEST for e in customer_messages(events))


def human_involved(events: list[dict[str, Any]]) -> bool:
    return any(e.get("event") == "bot" and (e.get("metadata") or {}).get("from") == "agent"
               for e in events)


def escalation_reason(events: list[dict[str, Any]]) -> str | None:
    """The session's first escalation reason (the slot is reset at hand-over)."""
    intent: str | None = None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            intent = _intent_of(event)
        elif kind == "slot" and event.get("name") == REASON_SLOT and event.get("value"):
            return str(event["value"])
        elif kind == "action" and event.get("name") == "action_human_handoff":
            # Asking for a person sets no slot: the handoff derives the reason.
            return "customer_request" if intent == "request_human" else None
    return None


def articles_shown(events: list[dict[str, Any]]) -> list[str]:
    shown: list[str] = []
    for event in events:
        if event.get("event") == "slot" and event.get("name") == "faq_article":
            value = event.get("value")
            if value and value not in shown:
                shown.append(str(value))
    return shown


def channel_of(tracker: Tracker, events: list[dict[str, Any]]) -> str:
    for event in reversed(customer_messages(events)):
        if event.get("input_channel"):
            return str(event["input_channel"])
    return tracker.get_latest_input_channel() or "rest"


def handoff_in_progress(tracker: Tracker) -> bool:
    """A person has the chat, or is about to: never survey then."""
    if tracker.is_paused() or tracker.get_slot(REASON_SLOT):
        return True
    for event in reversed(tracker.events):
        if event.get("event") == "resume":
            return False
        if event.get("event") == "pause":
            return True
    return False


def score_of(tracker: Tracker, low: int, high: int) -> int | None:
    """The score of a button, or a number typed alone or in a short phrase ("4/5")."""
    raw = latest_entity(tracker, SCORE_ENTITY)
    if raw is None:
        text = latest_text(tracker)
        if is_button_payload(tracker) or len(text.split()) > MAX_SCORE_WORDS:
            return None
        numbers = re.findall(r"(?<!\d)\d{1,2}(?!\d)", text)
        if not numbers or re.search(r"\d{3,}", text):
            return None
        raw = numbers[0]
    try:
        score = int(str(raw).strip())
    except ValueError:
        return None
    return score if low <= score <= high else None


def clear() -> list[EventType]:
    return [SlotSet(slot, None) for slot in SURVEY_SLOTS]


async def current_survey_id(rt: Runtime, tracker: Tracker) -> int | None:
    """The survey of this session that is waiting for answers, if any."""
    raw = tracker.get_slot(ID_SLOT)
    if raw is None:
        return None
    row = await rt.require_surveys().get(int(float(raw)))
    if row is None:
        return None
    started, _ = session_of(tracker)
    if abs((aware(row.session_started_at) - started).total_seconds()) > 1:
        return None  # left over from an earlier session (slots carry over)
    return row.id


class ActionOfferSurvey(Action):
    def name(self) -> str:
        return "action_offer_survey"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        intent, _ = latest_intent(tracker)
        if intent == "EXTERNAL_survey":
            trigger = str(latest_entity(tracker, TRIGGER_ENTITY) or "quiet")
            trigger = trigger if trigger in EXTERNAL_TRIGGERS else "quiet"
        else:
            trigger = TRIGGERS.get(intent or "", "goodbye")
        offered = await self._offer(tracker, trigger)
        if offered is None:
            if trigger == "thanks":
                say(dispatcher, "utter_welcome")
            return []
        survey_id, _nps = offered
        say(dispatcher, "utter_survey_csat_thanks" if trigger == "thanks" else "utter_survey_csat")
        return [SlotSet(STEP_SLOT, "csat"), SlotSet(ID_SLOT, str(survey_id)),
                SlotSet(NPS_SLOT, None), SlotSet(COMMENT_SLOT, None)]

    @staticmethod
    async def _offer(tracker: Tracker, trigger: str) -> tuple[int, bool] | None:
        if handoff_in_progress(tracker) or (tracker.active_loop or {}).get("name"):
            return None
        started, events = session_of(tracker)
        if not had_request(events):
            return None
        rt = await get_runtime()
        offered = await rt.require_surveys().offer(SurveyOffer(
            conversation_id=tracker.sender_id, session_started_at=started, trigger=trigger,
            asked_at=wall_clock(), channel=channel_of(tracker, events),
            language=language(tracker), human_involved=human_involved(events),
            escalation_reason=escalation_reason(events), articles=articles_shown(events)))
        return (offered.id, offered.nps_asked) if offered else None


class ActionSurveyAnswer(Action):
    """The 1-5 answer; ``survey_form`` runs next and asks what else this survey has."""

    def name(self) -> str:
        return "action_survey_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        rt = await get_runtime()
        survey_id = await current_survey_id(rt, tracker)
        if tracker.get_slot(STEP_SLOT) != "csat" or survey_id is None:
            # Not answering a question (a stray "5", a button pressed twice): harmless.
            say(dispatcher, "utter_how_can_i_help")
            return clear()
        score = score_of(tracker, 1, 5)
        if score is None:
            say(dispatcher, "utter_survey_csat_again")
            return []
        await rt.require_surveys().answer_csat(survey_id, score, wall_clock())
        row = await rt.require_surveys().get(survey_id)
        return [SlotSet(STEP_SLOT, "nps" if row is not None and row.nps_asked else "comment")]


class ValidateSurveyForm(FormValidationAction):
    """Asks the 0-10 question when this survey has it, then for a comment (or Skip)."""

    def name(self) -> str:
        return "validate_survey_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        intent, confidence = latest_intent(tracker)
        requested = tracker.get_slot("requested_slot")
        if requested == COMMENT_SLOT and intent in LEAVE_INTENTS \
                and confidence >= LEAVE_CONFIDENCE:
            # Not a comment: the form lets the rules serve the request instead.
            return [SlotSet(COMMENT_SLOT, None), ActionExecutionRejected("survey_form")]
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> list[str]:
        step = tracker.get_slot(STEP_SLOT)
        if step == "nps":
            return [NPS_SLOT, COMMENT_SLOT]
        if step == "comment":
            return [COMMENT_SLOT]
        return []

    async def validate_survey_nps(self, value: Any, dispatcher: CollectingDispatcher,
                                  tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        intent, _ = latest_intent(tracker)
        if intent in ("survey_skip", "deny"):
            return {NPS_SLOT: ""}
        score = score_of(tracker, 0, 10)
        if score is None:
            return {NPS_SLOT: None}  # the form asks again
        rt = await get_runtime()
        survey_id = await current_survey_id(rt, tracker)
        if survey_id is not None:
            await rt.require_surveys().answer_nps(survey_id, score, wall_clock())
        return {NPS_SLOT: str(score)}

    async def validate_survey_comment(self, value: Any, dispatcher: CollectingDispatcher,
                                      tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        intent, _ = latest_intent(tracker)
        text = latest_text(tracker)
        if intent == "survey_skip" or (intent in ("deny", "thank") and len(text.split()) <= 4):
            return {COMMENT_SLOT: ""}
        if is_button_payload(tracker) or not text:
            return {COMMENT_SLOT: None}  # another button: the form asks again
        return {COMMENT_SLOT: text}


class ActionSurveyFinish(Action):
    """After the form: store the comment and thank the customer (silent if no survey)."""

    def name(self) -> str:
        return "action_survey_finish"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        if tracker.get_slot(STEP_SLOT) not in ("nps", "comment"):
            return clear()
        rt = await get_runtime()
        survey_id = await current_survey_id(rt, tracker)
        comment = tracker.get_slot(COMMENT_SLOT)
        if survey_id is not None and comment:
            await rt.require_surveys().answer_comment(survey_id, str(comment), wall_clock())
        say(dispatcher, "utter_survey_thanks")
        return clear()
