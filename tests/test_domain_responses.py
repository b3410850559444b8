"""Every response speaks English, Russian and Ukrainian with the same slots and buttons."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

DOMAIN = yaml.safe_load((Path(__file__).parent.parent / "domain.yml").read_text())
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def variants(name: str) -> dict[str, dict]:
    found = {}
    for variant in DOMAIN["responses"][name]:
        conditions = variant.get("condition") or []
        language = next((c["value"] for c in conditions if c.get("name") == "language"), "en")
        found[language] = variant
    return found


@pytest.mark.parametrize("name", sorted(DOMAIN["responses"]))
def test_response_has_every_language(name: str) -> None:
    by_language = variants(name)
    assert set(by_language) == {"en", "ru", "uk"}
    english = by_language["en"]
    for language in ("ru", "uk"):
        variant = by_language[language]
        assert set(PLACEHOLDER.findall(variant["text"])) == set(
            PLACEHOLDER.findall(english["text"])), language
        assert [b["payload"] for b in variant.get("buttons", [])] == [
            b["payload"] for b in english.get("buttons", [])], language
    assert not re.search("[а-яё]", english["text"], re.IGNORECASE)
    assert not re.search("[ыэъё]", by_language["uk"]["text"], re.IGNORECASE)


def test_every_policy_number_in_responses_is_a_placeholder() -> None:
    """Numbers of the policy (windows, fees, periods) reach responses only as values."""
    policy_numbers = {"30", "14", "24", "12", "4.95", "4,95", "7"}
    for name in DOMAIN["responses"]:
        english = variants(name)["en"]["text"]
        words = set(re.findall(r"\d+(?:[.,]\d+)?", PLACEHOLDER.sub("", english)))
        # ORB-104217 is the shape of an order number, not a rule.
        assert not (words - {"104217"}) & policy_numbers, (name, english)
