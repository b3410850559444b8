"""The language slot: from the customer's words first, from the channel when they don't tell."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker

from actions.language import language_events


def tracker(text: str, decided: str | None, metadata: dict[str, Any]) -> Tracker:
    """``decided``: the language an earlier message set, if any (else the initial "en")."""
    earlier = [{"event": "slot", "name": "language", "value": decided}] if decided else []
    return Tracker(
        sender_id="language-test", slots={"language": decided or "en"},
        latest_message={"text": text, "intent": {"name": "inform", "confidence": 0.9},
                        "entities": [], "metadata": metadata},
        events=earlier, paused=False, followup_action=None, active_loop={},
        latest_action_name="action_listen")


async def language_after(track: Tracker) -> str | None:
    events = language_events(track)
    return next((e["value"] for e in events if e.get("name") == "language"), None)


@pytest.mark.parametrize(
    ("text", "decided", "hint", "expected"),
    [
        ("/request_human", None, "ru", "ru"),      # a button first: the page's language
        ("ORB-104388", None, "uk", "uk"),           # no words to tell by
        ("where is my order?", None, "ru", "en"),   # the customer's words win
        ("где мой заказ?", None, "en", "ru"),
        ("/request_human", "en", "ru", None),       # a conversation keeps its language
        ("ORB-104388", "en", "ru", None),
        ("hello", None, "de", None),                # a language we don't speak: ignored
        ("/affirm", None, None, None),
        ("hello", None, "en", "en"),                # decided now, so no longer a hint
    ],
)
async def test_channel_language_starts_a_conversation(text: str, decided: str | None,
                                                      hint: str | None,
                                                      expected: str | None) -> None:
    metadata = {"language": hint} if hint else {}
    assert await language_after(tracker(text, decided, metadata)) == expected
