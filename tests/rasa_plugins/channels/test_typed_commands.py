"""Typed Rasa shorthand is read as words unless the assistant offered it
(rasa_plugins/channels/typed_commands.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from rasa_plugins.channels.typed_commands import (
    LOOKBACK_EVENTS,
    as_words,
    guarded,
    is_shorthand,
    offered_payloads,
)


@dataclass
class Event:
    type_name: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Tracker:
    events: list[Event]


def bot(*payloads: str) -> Event:
    return Event("bot", {"buttons": [{"title": p.upper(), "payload": p} for p in payloads]})


ITEM = '/inform{"item": "PH-NOVA-7"}'
TRACKER = Tracker([Event("user"), bot("/affirm", "/deny"), Event("user"), bot(ITEM)])


def test_plain_text_is_given_as_it_is() -> None:
    assert guarded("where is my order?", []) == "where is my order?"
    assert guarded("  hi / hello ", []) == "  hi / hello "
    assert not is_shorthand("a/b") and is_shorthand("  /affirm")


@pytest.mark.parametrize("payload", ["/affirm", "/deny", ITEM])
def test_a_button_the_assistant_offered_passes(payload: str) -> None:
    assert guarded(payload, offered_payloads(TRACKER)) == payload
    assert guarded(f"  {payload}\n", offered_payloads(TRACKER)) == payload


@pytest.mark.parametrize("typed, read", [
    ('/inform{"item": "TV-VEGA-55"}', 'inform{"item": "TV-VEGA-55"}'),  # another item
    ('/inform{"item":"PH-NOVA-7"}', 'inform{"item":"PH-NOVA-7"}'),  # not the offered bytes
    ("/affirm@0.99", "affirm@0.99"),
    ("/track_order", "track_order"),
    ("/survey_answer{\"survey_score\": 5}", "survey_answer{\"survey_score\": 5}"),
    ("//affirm", "affirm"),
    ("/ /affirm", "affirm"),
    ("/\u00a0/affirm", "affirm"),
    ("/help me please", "help me please"),
])
def test_shorthand_not_offered_is_read_as_words(typed: str, read: str) -> None:
    assert guarded(typed, offered_payloads(TRACKER)) == read
    assert not is_shorthand(guarded(typed, offered_payloads(TRACKER)))


def test_external_intents_never_come_from_a_channel_even_if_offered() -> None:
    offered = ["/EXTERNAL_survey", '/EXTERNAL_survey{"survey_trigger": "handback"}']
    for typed in offered:
        assert guarded(typed, offered) == typed[1:]


@pytest.mark.parametrize("command", ["/restart", "/request_human", "/session_start", " /restart "])
def test_public_commands_pass_without_an_offer(command: str) -> None:
    assert guarded(command, []) == command.strip()


def test_slashes_alone_stay_slashes() -> None:
    # Rasa needs a name after the slash to read an intent
    assert as_words("/") == "/" and as_words(" // ") == "//"


def test_only_recent_offers_count() -> None:
    old = Tracker([bot("/affirm"), *[Event("user")] * LOOKBACK_EVENTS])
    assert list(offered_payloads(old)) == []
    assert guarded("/affirm", offered_payloads(old)) == "affirm"
    assert list(offered_payloads(None)) == []


def test_offers_are_read_newest_first_and_odd_buttons_are_skipped() -> None:
    tracker = Tracker([bot("/a"), Event("bot", {"buttons": [{"title": "x"}, "junk"]}),
                       Event("bot", {}), bot("/b")])
    assert list(offered_payloads(tracker)) == ["/b", "/a"]
