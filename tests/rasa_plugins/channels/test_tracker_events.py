"""Whether a conversation already holds a customer's message
(rasa_plugins/channels/tracker_events.py)."""

from __future__ import annotations

from types import SimpleNamespace

from rasa_plugins.channels.tracker_events import has_user_message


def event(kind: str, message_id: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(type_name=kind, message_id=message_id)


def test_a_user_message_is_found_by_its_id() -> None:
    tracker = SimpleNamespace(events=[event("action"), event("user", "tg-41"),
                                      event("bot"), event("user", "c1d2e3f4a5")])
    assert has_user_message(tracker, "tg-41")
    assert has_user_message(tracker, "c1d2e3f4a5")
    assert not has_user_message(tracker, "tg-42")


def test_only_user_events_count_and_no_conversation_has_nothing() -> None:
    tracker = SimpleNamespace(events=[event("bot", "tg-41")])
    assert not has_user_message(tracker, "tg-41")
    assert not has_user_message(None, "tg-41")
