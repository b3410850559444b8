"""Knowledge-base answers and feedback, driven like Rasa drives the actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionAnswerQuestion, ActionFaqFeedback
from actions.knowledge_log import Outcome
from actions.runtime import Runtime

DOMAIN = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())
SENDER = "faq-test"


def tracker(text: str, intent: str = "faq", language: str = "en",
            entities: dict[str, str] | None = None, in_form: bool = False,
            **slots: Any) -> Tracker:
    values = {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}
    values |= {"language": language, **slots}
    return Tracker(
        sender_id=SENDER, slots=values,
        latest_message={"text": text, "intent": {"name": intent, "confidence": 0.95},
                        "entities": [{"entity": k, "value": v}
                                     for k, v in (entities or {}).items()]},
        events=[], paused=False, followup_action=None,
        active_loop={"name": "order_form"} if in_form else {},
        latest_action_name="action_listen")


async def run(action: Any, track: Tracker) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, track, DOMAIN)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return dispatcher.messages, slots


async def outcomes(rt: Runtime) -> list[tuple[str, str | None]]:
    return [(row.outcome, row.article_id) for row in await rt.knowledge_log.turns(SENDER)]


async def test_a_question_gets_the_article_and_a_did_it_help(knowledge_runtime: Runtime) -> None:
    messages, slots = await run(ActionAnswerQuestion(),
                                tracker("could I spread the cost over several months?"))
    assert [m["response"] for m in messages] == ["utter_faq_answer"]
    assert messages[0]["faq_title"] == "Paying in instalments"
    assert "300 EUR" in messages[0]["faq_text"]
    assert slots == {"faq_article": "instalments", "faq_awaiting_feedback": True}
    assert await outcomes(knowledge_runtime) == [(Outcome.ANSWERED, "instalments")]


async def test_an_answer_about_a_job_offers_it(knowledge_runtime: Runtime) -> None:
    messages, _ = await run(ActionAnswerQuestion(),
                            tracker("I unsealed my earbuds, may I still send them back?"))
    assert [m["response"] for m in messages] == ["utter_faq_answer", "utter_faq_offer_return_item"]
    messages, _ = await run(ActionAnswerQuestion(),
                            tracker("I unsealed my earbuds, may I still send them back?",
                                    in_form=True))
    assert [m["response"] for m in messages] == ["utter_faq_answer_in_form"]


async def test_the_answer_is_in_the_customers_language(knowledge_runtime: Runtime) -> None:
    messages, _ = await run(ActionAnswerQuestion(),
                            tracker("а можно платить частями каждый месяц", language="ru"))
    assert messages[0]["faq_title"] == "Оплата в рассрочку"


async def test_an_article_only_in_english_says_so_first(knowledge_runtime: Runtime) -> None:
    messages, _ = await run(ActionAnswerQuestion(),
                            tracker("экспресс доставка DHL", language="ru"))
    assert [m["response"] for m in messages] == ["utter_faq_other_language", "utter_faq_answer"]
    assert messages[0]["faq_language_name"] == "английский"
    assert messages[1]["faq_title"] == "Express delivery"


async def test_below_the_threshold_it_does_not_guess(knowledge_runtime: Runtime) -> None:
    messages, slots = await run(ActionAnswerQuestion(),
                                tracker("what's the weather in paris tomorrow",
                                        intent="nlu_fallback"))
    assert [m["response"] for m in messages] == ["utter_faq_unsure"]
    options = [messages[0]["faq_option_1"], messages[0]["faq_option_2"]]
    assert len(set(options)) == 2
    assert messages[0]["faq_option_1_title"]
    assert slots["unresolved_turns"] == 1
    assert slots["faq_options"] == options
    assert slots["faq_article"] is None
    assert (await outcomes(knowledge_runtime))[0][0] == Outcome.LOW_CONFIDENCE


async def test_out_of_scope_gets_the_honest_answer(knowledge_runtime: Runtime) -> None:
    messages, slots = await run(ActionAnswerQuestion(),
                                tracker("book me a table for two tonight",
                                        intent="out_of_scope"))
    assert [m["response"] for m in messages] == ["utter_out_of_scope"]
    assert slots["unresolved_turns"] == 1
    assert "escalation_reason" not in slots
    assert (await outcomes(knowledge_runtime))[0][0] == Outcome.OUT_OF_SCOPE


async def test_the_second_unresolved_turn_in_a_row_escalates(knowledge_runtime: Runtime) -> None:
    """Not a third "I'm not sure": the handoff takes over and says why."""
    messages, slots = await run(ActionAnswerQuestion(),
                                tracker("book me a table for two tonight",
                                        intent="out_of_scope", unresolved_turns=1.0))
    assert messages == []
    assert slots["unresolved_turns"] == 2
    assert slots["escalation_reason"] == "unresolved"
    assert (await outcomes(knowledge_runtime))[0][0] == Outcome.OUT_OF_SCOPE


async def test_in_the_middle_of_a_job_it_answers_without_asking(
        knowledge_runtime: Runtime) -> None:
    messages, slots = await run(ActionAnswerQuestion(),
                                tracker("could I spread the cost over several months?",
                                        in_form=True))
    assert [m["response"] for m in messages] == ["utter_faq_answer_in_form"]
    assert slots["faq_awaiting_feedback"] is False


async def test_a_suggested_topic_is_answered_by_button_or_by_words(
        knowledge_runtime: Runtime) -> None:
    messages, slots = await run(ActionAnswerQuestion(), tracker(
        '/faq_pick{"faq_article":"opened-headphones"}', intent="faq_pick",
        entities={"faq_article": "opened-headphones"}))
    assert messages[0]["faq_title"] == "Returning headphones you have opened"
    assert slots["faq_article"] == "opened-headphones"
    for words, language, title in [
            ("вторая тема", "ru", "Гарантия и послепродажное обслуживание"),
            ("the second one please", "en", "Warranty vs after-sales service"),
            ("first one", "en", "Paying in instalments")]:
        messages, slots = await run(ActionAnswerQuestion(), tracker(
            words, intent="faq_pick", language=language,
            faq_options=["instalments", "warranty-vs-after-sales"]))
        assert messages[0]["faq_title"] == title, words


async def test_an_empty_or_payload_only_question_is_asked_for(knowledge_runtime: Runtime) -> None:
    messages, slots = await run(ActionAnswerQuestion(), tracker("/faq"))
    assert [m["response"] for m in messages] == ["utter_faq_no_question"]
    assert slots == {}


async def test_helped_resets_the_unresolved_count(knowledge_runtime: Runtime) -> None:
    messages, slots = await run(ActionFaqFeedback(), tracker(
        "/faq_helped", intent="faq_helped", faq_article="instalments",
        faq_awaiting_feedback=True, unresolved_turns=1.0))
    assert [m["response"] for m in messages] == ["utter_faq_helped"]
    assert slots == {"faq_awaiting_feedback": False, "unresolved_turns": 0.0}
    assert await outcomes(knowledge_runtime) == [(Outcome.HELPED, "instalments")]


@pytest.mark.parametrize("intent", ["faq_not_helped", "deny"])
async def test_not_helped_is_an_unresolved_turn(knowledge_runtime: Runtime, intent: str) -> None:
    messages, slots = await run(ActionFaqFeedback(), tracker(
        "no", intent=intent, faq_article="instalments", faq_awaiting_feedback=True))
    assert [m["response"] for m in messages] == ["utter_faq_not_helped"]
    assert slots["unresolved_turns"] == 1
    assert await outcomes(knowledge_runtime) == [(Outcome.NOT_HELPED, "instalments")]
    assert await knowledge_runtime.knowledge_log.unresolved_count(SENDER) == 1


async def test_not_helped_after_an_unsure_turn_escalates(knowledge_runtime: Runtime) -> None:
    messages, slots = await run(ActionFaqFeedback(), tracker(
        "no", intent="faq_not_helped", faq_article="instalments", faq_awaiting_feedback=True,
        unresolved_turns=1.0))
    assert messages == []
    assert slots["escalation_reason"] == "unresolved"


async def test_a_yes_that_answers_nothing_is_not_recorded(knowledge_runtime: Runtime) -> None:
    messages, _ = await run(ActionFaqFeedback(), tracker("yes", intent="affirm"))
    assert [m["response"] for m in messages] == ["utter_how_can_i_help"]
    assert await outcomes(knowledge_runtime) == []
