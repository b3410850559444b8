from __future__ import annotations

import pytest

from actions.language_rules import choose, detect


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("where is my order", "en"),
        ("wher is my ordr??", "en"),
        ("где мой заказ", "ru"),
        ("посылка потерялась, что делать", "ru"),
        ("gde moy zakaz", "ru"),  # Russian typed in Latin letters
        ("hochu vernut naushniki", "ru"),
        ("где мой order ORB-104217", "ru"),
        ("де моє замовлення", "uk"),
        ("Вітаю! Хочу повернути навушники", "uk"),
        ("дякую", "uk"),
        ("спасибо", "ru"),
        ("I want a human", "en"),
    ],
)
def test_detects_language(text: str, language: str) -> None:
    found = detect(text)
    assert found is not None and found.language == language


@pytest.mark.parametrize("text", ["ORB-104217", "anna.schmidt@example.com", "👍", "1", "ok",
                                  "/affirm", "+49 151 2345 6701", ""])
def test_messages_without_words_carry_no_language(text: str) -> None:
    assert detect(text) is None


def test_weak_evidence_never_flips_russian_and_ukrainian() -> None:
    assert choose("так", "uk") is None  # "yes" in Ukrainian, "so" in Russian
    assert choose("ок", "ru") is None
    assert choose("так", "en") in ("ru", "uk")  # but Cyrillic rules English out
    assert choose("де моє замовлення", "ru") == "uk"  # strong evidence wins
    assert choose("where is my order", "ru") == "en"
    assert choose("ORB-104217", "uk") is None
