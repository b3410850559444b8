"""Unanswered questions grouped by meaning: the real multilingual encoder, en/ru/uk."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from knowledge.embedder import Embedder
from knowledge.settings import KnowledgeSettings
from metrics.clusters import (
    QuestionClusterer,
    cluster_questions,
    normalise,
    reference_questions,
)


@pytest.fixture(scope="module")
def clusterer(embedder: Embedder, base_settings: KnowledgeSettings) -> QuestionClusterer:
    return QuestionClusterer(embedder, reference_questions(base_settings))


def members(group: dict[str, Any]) -> set[str]:
    return {group["label"], *group["examples"]}


def test_paraphrases_in_three_languages_group_and_topics_stay_apart(
        clusterer: QuestionClusterer) -> None:
    gift = [("do you sell gift cards", "en"), ("Do you sell gift cards?", "en"),
            ("can I buy a gift card", "en"), ("есть ли у вас подарочные карты", "ru"),
            ("чи є у вас подарункові сертифікати", "uk")]
    japan = [("do you ship to Japan", "en"), ("can you deliver to Japan", "en"),
             ("доставляете ли вы в Японию", "ru"), ("чи доставляєте ви в Японію", "uk")]
    jobs = [("are you hiring", "en"), ("у вас есть вакансии", "ru")]
    groups = clusterer(gift + japan + jobs)
    assert [g["count"] for g in groups] == [5, 4, 2]
    assert groups[0]["languages"] == {"en": 3, "ru": 1, "uk": 1}
    assert members(groups[0]) == {"Do you sell gift cards?", "can I buy a gift card",
                                  "есть ли у вас подарочные карты",
                                  "чи є у вас подарункові сертифікати"}
    assert members(groups[1]) == {text for text, _ in japan}
    assert members(groups[2]) == {text for text, _ in jobs}
    assert len(groups[0]["examples"]) == 3


def test_unrelated_questions_do_not_group(clusterer: QuestionClusterer) -> None:
    groups = clusterer([("gift cards", "en"), ("do you ship to Japan", "en"),
                        ("можно ли сделать гравировку", "ru"),
                        ("чи можна оплатити біткоїном", "uk")])
    assert [g["count"] for g in groups] == [1, 1, 1, 1]
    assert all(g["examples"] == [] for g in groups)


def test_answers_are_cached_by_the_questions(clusterer: QuestionClusterer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    items = [("do you sell gift cards", "en"), ("can I buy a gift card", "en")]
    first = clusterer(items)
    monkeypatch.setattr(clusterer._embedder, "embed_queries",
                        lambda texts: pytest.fail("embedded again"))
    again = clusterer(items)
    assert again == first
    again[0]["count"] = 99
    assert clusterer(items) == first


def fake_embed(texts: list[str]) -> np.ndarray:
    """Texts starting with the same word point the same way."""
    axes = {"gift": 0, "ship": 1, "pay": 2}
    vectors = np.zeros((len(texts), 3))
    for row, text in enumerate(texts):
        vectors[row, axes[text.split()[0]]] = 2.0   # not unit length on purpose
    return vectors


def test_nothing_and_one_question() -> None:
    assert cluster_questions([], fake_embed) == []
    assert cluster_questions([("  ?? ", "en")], fake_embed) == []
    assert cluster_questions([("gift cards?", "en")], fake_embed) == [
        {"label": "gift cards?", "count": 1, "examples": [], "languages": {"en": 1}}]


def test_groups_are_sorted_labelled_and_limited() -> None:
    items = [("pay by card", "en"), ("ship abroad", "en"), ("gift cards", "en"),
             ("Gift  cards!", "ru"), ("gift vouchers", "uk"), ("ship to Japan", "en"),
             ("gift ideas", "en"), ("gift wrap", "en"), ("gift card", "en")]
    groups = cluster_questions(items, fake_embed)
    assert [(g["label"], g["count"]) for g in groups] == [
        ("Gift cards!", 6), ("ship abroad", 2), ("pay by card", 1)]
    assert groups[0]["examples"] == ["gift card", "gift ideas", "gift vouchers"]
    assert groups[0]["languages"] == {"en": 4, "ru": 1, "uk": 1}
    assert cluster_questions(items, fake_embed, limit=1)[0]["count"] == 6
    assert cluster_questions(list(reversed(items)), fake_embed) == groups


def test_normalise() -> None:
    assert normalise("  Do you  SELL gift cards?? ") == "do you sell gift cards"
