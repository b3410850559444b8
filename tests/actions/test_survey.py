"""The end-of-conversation survey, driven like Rasa drives it, against a real metrics DB."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.runtime import Runtime
from actions.survey import (
    ActionOfferSurvey,
    ActionSurveyAnswer,
    ActionSurveyFinish,
    ValidateSurveyForm,
    score_of,
)
from actions.survey_store import SurveyOffer, aware
from tests.actions.form_driver import FormDriver

DOMAIN = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())
SENDER = "survey-test"
START = 1795000000.0


def user(text: str, intent: str, at: float, channel: str = "widget",
         **extra: Any) -> dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": at, "input_channel": channel,
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}}, **extra}


def session(start: float = START) -> list[dict[str, Any]]:
    return [{"event": "action", "name": "action_session_start", "timestamp": start},
            {"event": "session_started", "timestamp": start}]


REQUEST = [
    *session(),
    user("hi", "greet", START + 1),
    user("can i pay in instalments?", "faq", START + 2),
    {"event": "slot", "name": "faq_article", "value": "instalments", "timestamp": START + 3},
    user("and returns?", "faq", START + 4),
    {"event": "slot", "name": "faq_article", "value": "returns-window", "timestamp": START + 5},
    {"event": "slot", "name": "faq_article", "value": "instalments", "timestamp": START + 6},
]


def tracker(text: str, intent: str, events: list[dict[str, Any]],
            entities: dict[str, str] | None = None, paused: bool = False,
            in_form: bool = False, extracted: dict[str, Any] | None = None,
            **slots: Any) -> Tracker:
    """The tracker as the action sees it; ``extracted``: slots Rasa's form mapping just
    filled from this message (the form's validation checks those)."""
    values = {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}
    values |= slots | (extracted or {})
    message = user(text, intent, START + 100)
    filled = [{"event": "slot", "name": k, "value": v, "timestamp": START + 100}
              for k, v in (extracted or {}).items()]
    return Tracker(
        sender_id=SENDER, slots=values,
        latest_message={"text": text, "intent": {"name": intent, "confidence": 0.97},
                        "entities": [{"entity": k, "value": v}
                                     for k, v in (entities or {}).items()]},
        events=[*events, message, *filled], paused=paused, followup_action=None,
        active_loop={"name": "survey_form"} if in_form else {},
        latest_action_name="action_listen")


async def run(action: Any, track: Tracker) -> tuple[list[str], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, track, DOMAIN)
    return ([m.get("response") for m in dispatcher.messages],
            {e["name"]: e["value"] for e in events if e["event"] == "slot"})


async def test_goodbye_asks_once_and_records_the_conversation(runtime: Runtime) -> None:
    events = [*REQUEST,
              {"event": "slot", "name": "escalation_reason", "value": "unresolved",
               "timestamp": START + 7},
              {"event": "action", "name": "action_human_handoff", "timestamp": START + 8},
              {"event": "pause", "timestamp": START + 8},
              {"event": "bot", "text": "Hello, Anna here", "timestamp": START + 9,
               "metadata": {"from": "agent", "agent_name": "Anna"}},
              {"event": "resume", "timestamp": START + 10}]
    said, slots = await run(ActionOfferSurvey(), tracker("bye", "goodbye", events,
                                                         language="ru"))
    assert said == ["utter_survey_csat"]
    assert slots["survey_step"] == "csat" and slots["survey_id"]
    row = await runtime.require_surveys().get(int(slots["survey_id"]))
    assert row is not None
    assert row.conversation_id == SENDER and row.trigger == "goodbye"
    assert aware(row.session_started_at) == datetime.fromtimestamp(START, UTC)
    assert row.channel == "widget" and row.language == "ru"
    assert row.human_involved is True and row.escalation_reason == "unresolved"
    assert json.loads(row.articles_json) == ["instalments", "returns-window"]
    assert row.csat is None and row.nps_asked is False
    # The same session again, by any trigger: nothing is asked, nothing is said.
    said, slots = await run(ActionOfferSurvey(), tracker("bye", "goodbye", events))
    assert said == [] and slots == {}
    said, slots = await run(ActionOfferSurvey(), tracker(
        "", "EXTERNAL_survey", events, entities={"survey_trigger": "quiet"}))
    assert said == [] and slots == {}
    # Thanks without a survey is still "you're welcome".
    said, _ = await run(ActionOfferSurvey(), tracker("thanks", "thank", events))
    assert said == ["utter_welcome"]


async def test_a_new_session_gets_its_own_survey(runtime: Runtime) -> None:
    _, first = await run(ActionOfferSurvey(), tracker("bye", "goodbye", REQUEST))
    later = [*REQUEST, *session(START + 7200), user("where is my order", "track_order",
                                                       START + 7201)]
    said, second = await run(ActionOfferSurvey(), tracker(
        "", "EXTERNAL_survey", later, entities={"survey_trigger": "agent_resolved"}))
    assert said == ["utter_survey_csat"] and second["survey_id"] != first["survey_id"]
    row = await runtime.require_surveys().get(int(second["survey_id"]))
    assert row is not None and row.trigger == "agent_resolved"
    assert json.loads(row.articles_json) == [] and row.human_involved is False


async def test_asking_for_a_person_is_the_escalation_reason(runtime: Runtime) -> None:
    events = [*session(), user("a human please", "request_human", START + 1),
              {"event": "action", "name": "action_human_handoff", "timestamp": START + 2},
              {"event": "slot", "name": "escalation_reason", "value": None,
               "timestamp": START + 2},
              {"event": "pause", "timestamp": START + 2},
              {"event": "resume", "timestamp": START + 60}]
    _, slots = await run(ActionOfferSurvey(), tracker("", "EXTERNAL_survey", events,
                                                      entities={"survey_trigger": "x"}))
    row = await runtime.require_surveys().get(int(slots["survey_id"]))
    assert row is not None and row.escalation_reason == "customer_request"
    assert row.trigger == "quiet" and row.human_involved is False


@pytest.mark.parametrize(("events", "kwargs"), [
    (REQUEST + [{"event": "pause", "timestamp": START + 9}], {}),       # with a person
    (REQUEST, {"paused": True}),
    (REQUEST, {"escalation_reason": "negative_sentiment"}),             # handoff is next
    (REQUEST, {"in_form": True}),
    ([*session(), user("hi", "greet", START + 1), user("thanks", "thank", START + 2)], {}),
    ([*REQUEST, *session(START + 9000)], {}),        # nothing asked in this new session
])
async def test_not_asked_mid_handoff_mid_job_or_without_a_request(
        runtime: Runtime, events: list[dict[str, Any]], kwargs: dict[str, Any]) -> None:
    said, slots = await run(ActionOfferSurvey(), tracker("thanks", "thank", events, **kwargs))
    assert said == ["utter_welcome"] and slots == {}
    said, slots = await run(ActionOfferSurvey(), tracker("bye", "goodbye", events, **kwargs))
    assert said == [] and slots == {}


async def answer_flow(runtime: Runtime, nps: bool) -> tuple[int, dict[str, Any]]:
    if nps:  # ids 1-9 go to other conversations: this one is the tenth
        for n in range(9):
            await runtime.require_surveys().offer(SurveyOffer(
                f"other-{n}", datetime(2026, 11, 1, tzinfo=UTC), "quiet",
                datetime(2026, 11, 1, tzinfo=UTC), "rest", "en"))
    said, slots = await run(ActionOfferSurvey(), tracker("thank you!", "thank", REQUEST))
    assert said == ["utter_survey_csat_thanks"]
    return int(slots["survey_id"]), slots


async def test_csat_comment_and_thanks(runtime: Runtime) -> None:
    survey_id, slots = await answer_flow(runtime, nps=False)
    said, update = await run(ActionSurveyAnswer(), tracker(
        '/survey_answer{"survey_score":"4"}', "survey_answer", REQUEST,
        entities={"survey_score": "4"}, **slots))
    assert said == [] and update == {"survey_step": "comment"}
    slots |= update
    form = ValidateSurveyForm()
    assert await form.required_slots([], CollectingDispatcher(), tracker("", "x", REQUEST, **slots),
                                     DOMAIN) == ["survey_comment"]
    comment = "The delivery could be faster"
    _, update = await run(form, tracker(comment, "faq", REQUEST, in_form=True,
                                        extracted={"survey_comment": comment},
                                        **(slots | {"requested_slot": "survey_comment"})))
    assert update["survey_comment"] == comment and update["requested_slot"] is None
    slots |= update
    said, update = await run(ActionSurveyFinish(), tracker(comment, "faq", REQUEST, **slots))
    assert slots["survey_comment"] == comment
    assert said == ["utter_survey_thanks"]
    assert update == {"survey_step": None, "survey_id": None, "survey_nps": None,
                      "survey_comment": None}
    row = await runtime.require_surveys().get(survey_id)
    assert row is not None and (row.csat, row.nps, row.comment) == (4, None, comment)
    assert row.answered_at is not None


async def test_every_tenth_survey_asks_the_0_to_10_question(runtime: Runtime) -> None:
    survey_id, slots = await answer_flow(runtime, nps=True)
    assert survey_id == 10
    _, update = await run(ActionSurveyAnswer(), tracker("5", "survey_answer", REQUEST, **slots))
    assert update == {"survey_step": "nps"}
    slots |= update
    form = ValidateSurveyForm()
    assert await form.required_slots([], CollectingDispatcher(), tracker("", "x", REQUEST, **slots),
                                     DOMAIN) == ["survey_nps", "survey_comment"]
    # Not a number: asked again; then a button.
    asking_nps = slots | {"requested_slot": "survey_nps"}
    _, update = await run(form, tracker("hmm", "faq", REQUEST, in_form=True,
                                        extracted={"survey_nps": "hmm"}, **asking_nps))
    assert update["survey_nps"] is None
    _, update = await run(form, tracker(
        '/survey_answer{"survey_score":"9"}', "survey_answer", REQUEST, in_form=True,
        entities={"survey_score": "9"},
        extracted={"survey_nps": '/survey_answer{"survey_score":"9"}'}, **asking_nps))
    # These are the domain's slots: Rasa's form asks the next one (the comment) itself.
    assert update["survey_nps"] == "9" and "requested_slot" not in update
    slots |= {"survey_nps": "9"}  # (the form's own events would set it)
    _, update = await run(form, tracker("/survey_skip", "survey_skip", REQUEST, in_form=True,
                                        extracted={"survey_comment": "/survey_skip"},
                                        **(slots | {"requested_slot": "survey_comment"})))
    assert update["survey_comment"] == "" and update.get("requested_slot") is None
    slots |= {"survey_comment": ""}
    said, _ = await run(ActionSurveyFinish(), tracker("/survey_skip", "survey_skip", REQUEST,
                                                      **slots))
    assert said == ["utter_survey_thanks"]
    row = await runtime.require_surveys().get(survey_id)
    assert row is not None and (row.nps_asked, row.csat, row.nps, row.comment) == \
        (True, 5, 9, None)


async def test_answers_outside_a_survey_are_harmless(runtime: Runtime) -> None:
    said, update = await run(ActionSurveyAnswer(), tracker("5", "survey_answer", REQUEST))
    assert said == ["utter_how_can_i_help"] and update["survey_step"] is None
    said, _ = await run(ActionSurveyFinish(), tracker("/survey_skip", "survey_skip", REQUEST))
    assert said == []
    # A survey of an earlier session (slots carry over) takes no late answers.
    _, slots = await run(ActionOfferSurvey(), tracker("bye", "goodbye", REQUEST))
    later = [*REQUEST, *session(START + 9000)]
    said, _ = await run(ActionSurveyAnswer(), tracker("5", "survey_answer", later, **slots))
    assert said == ["utter_how_can_i_help"]
    row = await runtime.require_surveys().get(int(slots["survey_id"]))
    assert row is not None and row.csat is None
    # An unreadable answer to a pending question is asked again, nothing stored.
    said, update = await run(ActionSurveyAnswer(), tracker("good", "survey_answer", REQUEST,
                                                           **slots))
    assert said == ["utter_survey_csat_again"] and update == {}


@pytest.mark.parametrize(("text", "entity", "low", "high", "expected"), [
    ("4", None, 1, 5, 4),
    ("4/5", None, 1, 5, 4),
    ("5 stars!", None, 1, 5, 5),
    ("ставлю 3", None, 1, 5, 3),
    ("10", None, 1, 5, None),
    ("10", None, 0, 10, 10),
    ("0", None, 0, 10, 0),
    ("ORB-104217", None, 1, 5, None),
    ("great", None, 1, 5, None),
    ('/survey_answer{"survey_score":"2"}', "2", 1, 5, 2),
    ('/survey_answer{"survey_score":"7"}', "7", 1, 5, None),
])
def test_scores_from_buttons_and_typed_numbers(text: str, entity: str | None, low: int,
                                               high: int, expected: int | None) -> None:
    track = tracker(text, "survey_answer", [], entities={"survey_score": entity} if entity
                    else None)
    assert score_of(track, low, high) == expected


async def test_a_quiet_spell_in_the_middle_of_a_job_is_not_an_answer(runtime: Runtime) -> None:
    driver = FormDriver(sender="quiet-mid-job")
    await driver.say("where is my order", "track_order")
    # Rasa gives a triggered intent no confidence; it still breaks out of the question.
    turn = await driver.say("EXTERNAL: EXTERNAL_survey", "EXTERNAL_survey")
    assert turn.rejected and turn.responses == []
    assert driver.slots["requested_slot"] == "order_id"


async def test_a_clear_request_at_the_comment_question_leaves_the_survey(
        runtime: Runtime) -> None:
    slots = {"survey_step": "comment", "survey_id": "1", "requested_slot": "survey_comment"}
    form = ValidateSurveyForm()
    dispatcher = CollectingDispatcher()
    track = tracker("where is my order?", "track_order", REQUEST, in_form=True,
                    extracted={"survey_comment": "where is my order?"}, **slots)
    events = await form.run(dispatcher, track, DOMAIN)
    assert [e["event"] for e in events] == ["slot", "action_execution_rejected"]
    assert events[0]["value"] is None
    # Words about the service that merely sound like a job are a comment.
    track = tracker("the delivery could be faster", "change_address", REQUEST, in_form=True,
                    extracted={"survey_comment": "the delivery could be faster"}, **slots)
    track.latest_message["intent"]["confidence"] = 0.74
    _, update = await run(form, track)
    assert update["survey_comment"] == "the delivery could be faster"
