"""Reading Telegram updates: every kind sorted, commands, buttons, repeats, strings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rasa_plugins.channels.telegram_format import button_key
from rasa_plugins.channels.telegram_updates import (
    BadUpdate,
    RecentUpdates,
    Strings,
    chat_id_of,
    command_text,
    read_update,
    resolve_button,
    secret_matches,
    sender_id,
)

USER = {"id": 42, "is_bot": False, "first_name": "Olga", "username": "olga",
        "language_code": "ru-RU"}
CHAT = {"id": 42, "type": "private", "first_name": "Olga"}


def message(**content: Any) -> dict[str, Any]:
    return {"message_id": 7, "date": 1_700_000_000, "chat": CHAT, "from": USER, **content}


def test_a_text_message() -> None:
    incoming = read_update({"update_id": 5, "message": message(text="where is my order?")})
    assert incoming.kind == "text"
    assert incoming.text == "where is my order?"
    assert incoming.sender_id == "tg-42"
    assert incoming.message_id == "tg-5"
    assert incoming.metadata() == {
        "language": "ru", "telegram_user": {"id": 42, "first_name": "Olga", "username": "olga"}}


@pytest.mark.parametrize(("text", "said"), [
    ("/start", "/greet"), ("/start deep-link-payload", "/greet"), ("/START", "/greet"),
    ("/start@OrbitaBot", "/greet"), ("/restart", "/restart"), (" /restart ", "/restart"),
    ("/affirm", "/affirm"), ("hello /start", "hello /start"),
])
def test_commands(text: str, said: str) -> None:
    assert command_text(text) == said


def test_an_edit_is_answered_as_a_new_message() -> None:
    incoming = read_update({"update_id": 6, "edited_message": message(
        text="ORB-104217", edit_date=1_700_000_100)})
    assert (incoming.kind, incoming.text, incoming.sender_id) == ("text", "ORB-104217", "tg-42")


@pytest.mark.parametrize("content", [
    {"sticker": {"file_id": "x", "emoji": "👍"}},
    {"photo": [{"file_id": "p", "width": 90, "height": 90}], "caption": "broken screen"},
    {"voice": {"file_id": "v", "duration": 3}},
    {"location": {"latitude": 52.5, "longitude": 13.4}},
    {"contact": {"phone_number": "+49", "first_name": "O"}},
])
def test_messages_without_text_get_the_text_only_reply(content: dict[str, Any]) -> None:
    incoming = read_update({"update_id": 8, "message": message(**content)})
    assert incoming.kind == "unreadable"
    assert incoming.sender_id == "tg-42"
    assert incoming.language == "ru"


@pytest.mark.parametrize("update", [
    {"update_id": 9, "channel_post": {"message_id": 1, "chat": {"id": -100, "type": "channel"},
                                      "text": "news"}},
    {"update_id": 9, "my_chat_member": {"chat": CHAT, "from": USER}},
    {"update_id": 9, "inline_query": {"id": "1", "from": USER, "query": "x"}},
    {"update_id": 9},
    {"update_id": 9, "message": message(new_chat_members=[USER])},  # a service message
    {"update_id": 9, "message": {"message_id": 1, "text": "no chat"}},
    {"update_id": 9, "message": {**message(text="hi"),
                                 "chat": {"id": -5, "type": "group", "title": "g"}}},
])
def test_other_updates_are_ignored(update: dict[str, Any]) -> None:
    incoming = read_update(update)
    assert incoming.kind == "ignored"
    assert incoming.reason


@pytest.mark.parametrize(("body", "problem"), [
    ([1, 2], "JSON object"), ("text", "JSON object"), ({"message": {}}, "update_id"),
    ({"update_id": "5"}, "update_id"), ({"update_id": True}, "update_id"),
])
def test_bodies_that_are_not_updates(body: Any, problem: str) -> None:
    with pytest.raises(BadUpdate, match=problem):
        read_update(body)


def keyboard_message(*buttons: tuple[str, str]) -> dict[str, Any]:
    return message(text="Why are you returning it?", reply_markup={"inline_keyboard": [
        [{"text": title, "callback_data": data}] for title, data in buttons]})


def test_a_button_press_carries_the_buttons_title() -> None:
    incoming = read_update({"update_id": 10, "callback_query": {
        "id": "cb1", "from": USER, "data": "/deny",
        "message": keyboard_message(("Yes", "/affirm"), ("No", "/deny"))}})
    assert incoming.kind == "button"
    assert (incoming.text, incoming.button_title, incoming.callback_query_id) == \
        ("/deny", "No", "cb1")
    assert incoming.metadata()["display"] == "No"
    assert incoming.sender_id == "tg-42"


def test_a_press_without_its_message_is_ignored_but_still_answered() -> None:
    incoming = read_update({"update_id": 11, "callback_query": {
        "id": "cb2", "from": USER, "data": "/deny", "inline_message_id": "x"}})
    assert incoming.kind == "ignored"
    assert incoming.callback_query_id == "cb2"


def test_more_than_telegram_sends_is_ignored() -> None:
    """Telegram sends at most 4,096 characters of text and 64 bytes of button data: more is
    forged, and is neither read nor answered (a button press is still acknowledged)."""
    long_text = read_update({"update_id": 12, "message": message(text="x" * 4097)})
    assert long_text.kind == "ignored" and "4097 characters" in long_text.reason
    assert read_update({"update_id": 13, "message": message(text="x" * 4096)}).kind == "text"
    press = read_update({"update_id": 14, "callback_query": {
        "id": "cb3", "from": USER, "data": "/inform" + "x" * 60,
        "message": keyboard_message(("Yes", "/affirm"))}})
    assert press.kind == "ignored" and press.callback_query_id == "cb3"
    assert "64 bytes" in press.reason


def test_a_long_payload_key_is_resolved_from_the_buttons_offered() -> None:
    payload = '/inform{"item": "' + "X" * 60 + '"}'
    key = button_key(payload)
    assert resolve_button(key, "Long item", ["/affirm", payload]) == payload
    # Not offered any more (or another process never saw it): the title is the message.
    assert resolve_button(key, "Long item", ["/affirm"]) == "Long item"
    assert resolve_button(key, None, []) is None
    assert resolve_button("/affirm", "Yes", []) == "/affirm"


def test_repeats_are_refused_while_in_flight_and_after() -> None:
    recent = RecentUpdates(size=2)
    assert recent.claim(1)
    assert not recent.claim(1)  # a retry while the first delivery is answered
    recent.finish(1)
    assert not recent.claim(1)
    for update_id in (2, 3):
        assert recent.claim(update_id)
        recent.finish(update_id)
    assert recent.claim(1)  # forgotten: only the newest `size` are kept


def test_secret_comparison() -> None:
    assert secret_matches("s3cret-_", "s3cret-_")
    assert not secret_matches("s3cret", "s3cret-_")
    assert not secret_matches(None, "s3cret")
    assert not secret_matches("", "s3cret")
    assert not secret_matches("ключ", "s3cret")


def test_conversation_ids() -> None:
    assert sender_id(42) == "tg-42"
    assert chat_id_of("tg-42") == 42
    assert chat_id_of("tg--1001234") == -1001234
    assert chat_id_of("42") == 42
    with pytest.raises(ValueError, match="not a Telegram conversation"):
        chat_id_of("rest-user-1")


def test_strings_in_every_language_with_english_as_fallback() -> None:
    strings = Strings()
    assert set(strings.by_language) == {"en", "ru", "uk"}
    assert "text" in strings.text("en", "text_only")
    assert strings.text("ru", "text_only") != strings.text("uk", "text_only")
    assert strings.text("de", "text_only") == strings.text("en", "text_only")
    assert strings.text(None, "agent_label") == "support"


def test_a_language_missing_a_string_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "telegram.yml"
    path.write_text("en: {text_only: a, agent_label: b}\nru: {text_only: c}\n")
    with pytest.raises(ValueError, match="agent_label"):
        Strings(path)
