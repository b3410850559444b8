"""The question/request router without Rasa: its cues, its model's round trip through
JSON, and the decision it makes from DIET's intent and ranking."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rasa_plugins.nlu.cues import cue_names, cues, has_order_reference
from rasa_plugins.nlu.decision import job_named_by_words, route
from rasa_plugins.nlu.features import RouterModel, fit_router


@pytest.mark.parametrize(("text", "present", "absent"), [
    ("What is the return window for headphones?", {"generic_frame", "question_mark"},
     {"order_ref", "possessive", "want"}),
    ("return the phone from order ORB-104217", {"order_ref", "imperative"}, {"question_mark"}),
    ("мій годинник не вмикається", {"possessive", "fault"}, {"generic_frame"}),
    ("хочу вернуть чехол", {"want"}, {"question_mark", "order_ref"}),
    ("сколько действует гарантия на планшет?", {"generic_frame", "question_start"},
     {"possessive", "fault"}),
    ("can you cancel my order 104402?", {"ask_action", "possessive", "order_ref",
                                         "ask_action&possessive"}, set()),
    # One item of the customer's, pointed at, against the same words about any item.
    ("how do I send back the speaker I got?", {"own_item", "own_item&question_mark"}, set()),
    ("how do I send back a speaker?", set(), {"own_item"}),
    ("the headphones that came yesterday are broken", {"own_item", "time_anchor"}, set()),
    ("как вернуть ноутбук, который я купил?", {"own_item"}, set()),
    ("как вернуть ноутбук?", set(), {"own_item", "time_anchor"}),
    ("цей годинник не вмикається з минулого тижня", {"own_item", "time_anchor"}, set()),
    ("can items bought on sale be returned?", set(), {"own_item", "time_anchor"}),
    ("посылка пришла вчера пустая", {"time_anchor"}, set()),
])
def test_cues(text: str, present: set[str], absent: set[str]) -> None:
    found = {name for name, on in cues(text).items() if on}
    assert present <= found
    assert not absent & found
    assert set(cues(text)) == set(cue_names())


def test_order_references_in_every_form() -> None:
    for text in ("ORB-104217", "orb104217", "order 104217", "ORB 104217", "a@b.de",
                 "+49 151 2345 6701", "serial NV7-88A1-2231"):
        assert has_order_reference(text), text
    for text in ("how long is the warranty", "30 days", "4.95 EUR", "2 years"):
        assert not has_order_reference(text), text


QUESTIONS = ["how long do I have to return an item", "is return shipping free",
             "how long is the warranty on a laptop", "can I cancel an order after it shipped",
             "what if a parcel gets lost", "сколько стоит обратная доставка",
             "как долго действует гарантия", "чи можна скасувати замовлення"] * 3
REQUESTS = ["I want to return my headphones", "my laptop stopped working",
            "cancel my order ORB-104402", "where is my parcel 104388",
            "хочу вернуть мой телефон", "мой ноутбук сломался", "скасуйте моє замовлення",
            "мій годинник не працює"] * 3


def _model() -> RouterModel:
    return fit_router(QUESTIONS + REQUESTS, np.array([0] * len(QUESTIONS) + [1] * len(REQUESTS)))


def test_the_model_learns_and_survives_json() -> None:
    model = _model()
    p = model.predict(["how long do I have to return an item", "my laptop stopped working"])
    assert p[0] < 0.5 < p[1]
    again = RouterModel.from_json(json.loads(json.dumps(model.to_json())))
    assert np.allclose(again.predict(QUESTIONS[:4]), model.predict(QUESTIONS[:4]))


def test_a_model_with_other_cues_is_refused() -> None:
    data = _model().to_json()
    data["cues"] = data["cues"][:-1]
    with pytest.raises(ValueError, match="train again"):
        RouterModel.from_json(data)


def fixed(p: float):  # type: ignore[no-untyped-def]
    return lambda texts: [p] * len(texts)


def ranking(*pairs: tuple[str, float]) -> list[dict[str, object]]:
    return [{"name": n, "confidence": c} for n, c in pairs]


def test_a_question_diet_gave_to_a_job_goes_to_the_knowledge_base() -> None:
    decision = route("what is the return window?", {"name": "return_item", "confidence": 0.9},
                     ranking(("return_item", 0.9), ("faq", 0.08)), fixed(0.1))
    assert decision == ("faq", 0.9, "return_item", 0.1)


def test_a_request_diet_gave_to_faq_starts_the_job_diet_ranks_first() -> None:
    decision = route("is my TV from ORB-101500 still covered?",
                     {"name": "faq", "confidence": 0.7},
                     ranking(("faq", 0.7), ("warranty_claim", 0.2), ("return_item", 0.05)),
                     fixed(0.9))
    assert decision is not None and decision[0] == "warranty_claim"


def test_a_request_after_the_fallback_takes_the_job_its_words_name() -> None:
    decision = route("my watch broke ORB-102001", {"name": "nlu_fallback", "confidence": 0.55},
                     ranking(("nlu_fallback", 0.55), ("faq", 0.5)), fixed(0.95))
    assert decision is not None and decision[0] == "warranty_claim"


@pytest.mark.parametrize(("text", "intent"), [
    ("hello", "greet"), ("ORB-104217", "inform"), ("I want a person", "request_human"),
    ('/return_item', "return_item"), ("", "faq")])
def test_other_intents_buttons_and_empty_messages_are_left_alone(text: str, intent: str) -> None:
    assert route(text, {"name": intent, "confidence": 0.9}, ranking((intent, 0.9)),
                 fixed(0.1)) is None
    assert route(text, {"name": intent, "confidence": 0.9}, ranking((intent, 0.9)),
                 fixed(0.9)) is None


def test_agreement_with_diet_changes_nothing() -> None:
    assert route("return my phone", {"name": "return_item", "confidence": 0.9},
                 ranking(("return_item", 0.9)), fixed(0.9)) is None
    assert route("is return shipping free", {"name": "faq", "confidence": 0.9},
                 ranking(("faq", 0.9)), fixed(0.1)) is None


def test_job_words() -> None:
    assert job_named_by_words("гарантія на годинник") == "warranty_claim"
    assert job_named_by_words("отмените заказ") == "cancel_order"
    assert job_named_by_words("хочу повернути чохол") == "return_item"
    assert job_named_by_words("hello there") is None


def test_order_data_with_a_request_around_it_starts_that_job() -> None:
    inform = {"name": "inform", "confidence": 0.8}
    decision = route("i'd like to cancel 104402, maria.rossi@example.it", inform,
                     ranking(("inform", 0.8), ("cancel_order", 0.1)), fixed(0.9))
    assert decision is not None and decision[0] == "cancel_order"
    # Data alone, or data with words that ask for nothing, stays `inform`.
    for text in ("104402 maria.rossi@example.it", "my email is maria.rossi@example.it"):
        assert route(text, inform, ranking(("inform", 0.8)), fixed(0.9)) is None
