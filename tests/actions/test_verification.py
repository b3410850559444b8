from __future__ import annotations

from pathlib import Path

import pytest

from actions.policy import Policy, PolicyError, load_policy
from actions.verification import contact_matches, parse_contact, parse_order_id

POLICY = load_policy(Path(__file__).parents[2] / "demo_shop" / "policy.yml")


@pytest.mark.parametrize(
    "text",
    ["ORB-104217", "orb104217", "104217", "ORB 104217", "my order is orb-104217.",
     "№ORB104217", "ОRВ-104217", "order #104217 please"],
)
def test_order_numbers_as_customers_type_them(text: str) -> None:
    assert parse_order_id(text, POLICY) == "ORB-104217"


@pytest.mark.parametrize(
    "text",
    ["ORB-1", "1042171", "+49 151 2345 6701", "89165550142", "anna104217@example.com",
     "ORB-104217'; DROP TABLE orders; --x1042", "no number here"],
)
def test_not_order_numbers(text: str) -> None:
    found = parse_order_id(text, POLICY)
    assert found in (None, "ORB-104217")
    if "ORB-1042" not in text.upper().replace(" ", "-"):
        assert found is None


@pytest.mark.parametrize(
    ("given", "matches"),
    [
        ("anna.schmidt@example.com", True),
        ("Anna.Schmidt@Example.COM", True),
        ("+49 151 2345 6701", True),
        ("0151 23456701", True),
        ("015123456701", True),
        ("anna@example.com", False),
        ("+49 151 2345 6702", False),
        ("6701", False),  # too short to prove anything
        ("", False),
    ],
)
def test_contact_matching(given: str, matches: bool) -> None:
    assert contact_matches(given, "anna.schmidt@example.com", "+49 151 2345 6701") is matches


def test_russian_trunk_prefix_matches_country_code() -> None:
    assert contact_matches("8 916 555 01 42", "x@example.ru", "+7 916 555 0142")


def test_contact_found_inside_a_sentence() -> None:
    assert parse_contact("my email is ivan.petrov@example.ru thanks") == "ivan.petrov@example.ru"
    assert parse_contact("call me on +7 (916) 555-01-42") == "+7 (916) 555-01-42"
    assert parse_contact("order ORB-104217") is None


def test_policy_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "missing.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("orders: [")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(broken)
    partial = tmp_path / "partial.yml"
    partial.write_text("shop_name: X\n")
    with pytest.raises(PolicyError, match="lacks the setting"):
        load_policy(partial)
    assert isinstance(POLICY, Policy)
