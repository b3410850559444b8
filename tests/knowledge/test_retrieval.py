"""Answers from a real index: the right article, in the customer's language, or not at all."""

from __future__ import annotations

import pytest

from knowledge.retrieval import Retriever

# Paraphrases that appear nowhere in the fixture articles.
PARAPHRASES = [
    ("could I spread the cost over several months?", "en", "instalments"),
    ("I unsealed my earbuds, may I still send them back?", "en", "opened-headphones"),
    ("is helping me configure my new TV covered by the guarantee or is that something else?",
     "en", "warranty-vs-after-sales"),
    ("а можно платить частями каждый месяц", "ru", "instalments"),
    ("я уже распаковал наушники, их примут обратно?", "ru", "opened-headphones"),
    ("помощь с настройкой это гарантия или что", "ru", "warranty-vs-after-sales"),
]


@pytest.mark.parametrize(("question", "language", "article"), PARAPHRASES)
def test_paraphrases_find_their_article(fixture_retriever: Retriever, question: str,
                                        language: str, article: str) -> None:
    answer = fixture_retriever.answer(question, language)
    assert answer.best is not None
    assert answer.best.article_id == article
    assert answer.best.passage.language == language
    assert answer.best.passage.kind == "text"
    assert not answer.best.fallback


def test_a_russian_answer_is_shown_for_an_english_question_only_in_english(
        fixture_retriever: Retriever) -> None:
    answer = fixture_retriever.answer("можно ли оплатить в рассрочку", "en")
    assert answer.best is not None and answer.best.passage.language == "en"


def test_an_article_missing_in_the_customers_language_falls_back_and_says_so(
        fixture_retriever: Retriever) -> None:
    answer = fixture_retriever.answer("экспресс доставка DHL", "ru")
    assert answer.best is not None
    assert answer.best.article_id == "express-delivery"
    assert answer.best.fallback
    assert answer.best.passage.language == "en"


def test_the_closest_section_is_shown(fixture_retriever: Retriever) -> None:
    answer = fixture_retriever.answer("what about in-ear buds with a broken seal?", "en")
    assert answer.best is not None and answer.best.article_id == "opened-headphones"
    assert answer.best.passage.heading == "In-ear headphones"


def test_hits_are_one_per_article_best_first(fixture_retriever: Retriever) -> None:
    answer = fixture_retriever.answer("instalments", "en", limit=5)
    ids = [hit.article_id for hit in answer.hits]
    assert len(ids) == len(set(ids)) == 4
    assert [h.score for h in answer.hits] == sorted((h.score for h in answer.hits), reverse=True)


@pytest.mark.parametrize("question", [
    "what's the weather in paris tomorrow",
    "how do i transfer money to my savings account",
    "какой рецепт у борща",
])
def test_foreign_questions_are_not_answered_confidently(fixture_retriever: Retriever,
                                                        question: str) -> None:
    answer = fixture_retriever.answer(question, "en")
    assert not answer.confident, f"{question!r} scored {answer.score:.3f}"


def test_a_picked_article_is_answered_in_the_customers_language(
        fixture_retriever: Retriever) -> None:
    hit = fixture_retriever.article("instalments", "ru")
    assert hit is not None and hit.passage.language == "ru" and hit.passage.heading is None
    fallback = fixture_retriever.article("express-delivery", "ru")
    assert fallback is not None and fallback.fallback
    assert fixture_retriever.article("no-such-article", "en") is None
