"""Questions answered from the knowledge base, over HTTP with the real servers."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Assistant, button_payloads, new_sender

pytestmark = pytest.mark.e2e



@pytest.mark.parametrize(
    ("language", "question", "title", "fact"),
    [
        ("en", "hey, is it possible to pay for a laptop in monthly instalments?",
         "Paying in instalments", "300 EUR"),
        ("en", "what's the difference between warranty and after-sales service?",
         "Warranty", "after-sales"),
        ("ru", "можно вернуть наушники, если я их уже открыл?", "наушник", "пломб"),
        ("ru", "сколько идёт стандартная доставка и сколько стоит?", "доставка", "4,90"),
    ],
)
def test_a_question_is_answered_in_the_customers_language(
        assistant: Assistant, language: str, question: str, title: str, fact: str) -> None:
    sender = new_sender(f"faq-{language}")
    replies = assistant.send(sender, question)
    text = "\n".join(r.get("text", "") for r in replies)
    first_line = text.splitlines()[0]
    assert title.lower() in first_line.lower(), text
    assert fact in text, text
    assert button_payloads(replies)[:2] == ["/faq_helped", "/faq_not_helped"]
    assert assistant.tracker(sender)["slots"]["language"] == language
    assert assistant.knowledge_turns(sender)[0][0] == "answered"


def test_an_answer_about_a_job_offers_the_job(assistant: Assistant) -> None:
    sender = new_sender("faq-offer")
    replies = assistant.send(sender, "what is your return policy?")
    assert button_payloads(replies) == ["/faq_helped", "/faq_not_helped", "/return_item"]
    asked = assistant.texts(sender, "/return_item")
    assert "order number" in asked


@pytest.mark.parametrize(
    ("language", "question", "fact", "job"),
    [
        ("en", "is sending a return back free?", "4.95", "/return_item"),
        ("en", "how long does the warranty on a tablet last?", "24 months", "/warranty_claim"),
        ("ru", "кто платит за пересылку товара обратно при возврате?", "4,95", "/return_item"),
        ("uk", "скільки діє гарантія на планшет?", "24", "/warranty_claim"),
    ],
)
def test_a_policy_question_with_a_jobs_words_is_answered_not_a_form(
        assistant: Assistant, language: str, question: str, fact: str, job: str) -> None:
    sender = new_sender(f"faq-jobwords-{language}")
    replies = assistant.send(sender, question)
    text = "\n".join(r.get("text", "") for r in replies)
    assert fact in text, text
    assert "ORB-104217" not in text  # not "what's your order number?"
    assert job in button_payloads(replies)  # the job is offered, not started
    slots = assistant.tracker(sender)["slots"]
    assert slots["requested_slot"] is None and slots["job"] is None
    assert assistant.knowledge_turns(sender)[0][0] == "answered"


def test_helped_is_recorded(assistant: Assistant) -> None:
    sender = new_sender("faq-helped")
    assistant.send(sender, "do you accept paypal?")
    reply = assistant.texts(sender, "/faq_helped")
    assert "Glad" in reply
    assert [o for o, _ in assistant.knowledge_turns(sender)] == ["answered", "helped"]


def test_did_not_help_offers_a_person_and_counts_as_unresolved(assistant: Assistant) -> None:
    sender = new_sender("faq-not-helped")
    assistant.send(sender, "how long is the warranty on a phone?")
    replies = assistant.send(sender, "no, that didn't help")
    assert "person" in replies[0]["text"]
    assert button_payloads(replies) == ["/request_human"]
    slots = assistant.tracker(sender)["slots"]
    assert slots["unresolved_turns"] == 1
    assert [o for o, _ in assistant.knowledge_turns(sender)] == ["answered", "not_helped"]


def test_a_question_it_cannot_answer_gets_topics_and_a_person(assistant: Assistant) -> None:
    sender = new_sender("faq-unsure")
    replies = assistant.send(sender, "do you have the new graphics cards in stock at the moment?")
    assert "not sure" in replies[0]["text"], replies
    buttons = button_payloads(replies)
    assert len(buttons) == 3 and buttons[-1] == "/request_human"
    picked = json.loads(buttons[0].removeprefix("/faq_pick"))["faq_article"]
    assert assistant.tracker(sender)["slots"]["unresolved_turns"] == 1
    # The customer picks the first suggested topic: that article is answered.
    answer = assistant.send(sender, buttons[0])
    assert button_payloads(answer)[:2] == ["/faq_helped", "/faq_not_helped"]
    turns = assistant.knowledge_turns(sender)
    assert [o for o, _ in turns] == ["low_confidence", "answered"]
    assert turns[1][1] == picked


def test_a_question_in_the_middle_of_a_job_is_answered_and_the_job_goes_on(
        assistant: Assistant) -> None:
    sender = new_sender("faq-in-job")
    asked = assistant.texts(sender, "I want to return something")
    assert "order number" in asked
    replies = assistant.send(sender, "wait, do I have to pay for return shipping?")
    text = "\n".join(r.get("text", "") for r in replies)
    assert "4.95 EUR" in text, text
    assert "order number" in replies[-1]["text"]  # the form asks again
    assert "/faq_helped" not in button_payloads(replies)
