"""What a person sees of a customer's message (contract/payload.py)."""

from __future__ import annotations

from contract.payload import customer_text


def test_typed_text_is_shown_as_typed() -> None:
    assert customer_text({"text": "where is <b>my</b> order?"}) == "where is <b>my</b> order?"


def test_a_pressed_button_shows_its_title_when_the_channel_sent_it() -> None:
    pressed = {"text": "/request_human", "metadata": {"display": "Talk to a person"},
               "parse_data": {"intent": {"name": "request_human"}}}
    assert customer_text(pressed) == "[pressed a button: Talk to a person]"


def test_a_pressed_button_without_a_title_shows_its_intent() -> None:
    pressed = {"text": "/affirm", "parse_data": {"intent": {"name": "affirm"}}}
    assert customer_text(pressed) == "[pressed a button: affirm]"
    assert customer_text({"text": "/deny", "metadata": {"display": "  "}}) == \
        "[pressed a button: deny]"
