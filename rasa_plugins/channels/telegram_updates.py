"""Telegram updates, read into what the assistant should do with them.

Telegram sends more than text messages: button presses (``callback_query``), edits,
photos and stickers, channel posts, membership changes... Rasa's connector crashes on
most of them. ``read_update`` sorts every update into one ``Incoming`` of four kinds:
a text for the assistant, a pressed button, a message the assistant cannot read (it gets
a short reply in the customer's language) or something to ignore. ``RecentUpdates``
drops deliveries Telegram repeats while or shortly after the first one is handled.

Pure Python (no Rasa or aiogram imports), so the tests import it from the services'
environment.
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from rasa_plugins.channels.telegram_format import (
    MAX_CALLBACK_BYTES,
    MAX_MESSAGE_CHARS,
    button_key,
    is_button_key,
)

SENDER_PREFIX = "tg-"
STRINGS_FILE = Path(__file__).parent / "strings" / "telegram.yml"
FALLBACK_LANGUAGE = "en"
COMMANDS = {"/start": "/greet", "/restart": "/restart"}
# Message content the assistant cannot read; a message with none of these and no text is
# a service message (a member joined, a message was pinned...) and is ignored.
CONTENT_KEYS = frozenset({
    "animation", "audio", "contact", "dice", "document", "game", "invoice", "location",
    "photo", "poll", "sticker", "venue", "video", "video_note", "voice",
})

Kind = Literal["text", "button", "unreadable", "ignored"]


class BadUpdate(ValueError):
    """The body is not a Telegram update."""


def secret_matches(received: str | None, expected: str) -> bool:
    """The ``X-Telegram-Bot-Api-Secret-Token`` header, compared in constant time."""
    if received is None:
        return False
    return hmac.compare_digest(received.encode("utf-8"), expected.encode("utf-8"))


def sender_id(chat_id: int | str) -> str:
    """The conversation id of a Telegram chat: never the same as another channel's."""
    return f"{SENDER_PREFIX}{chat_id}"


def chat_id_of(recipient_id: str) -> int:
    """The Telegram chat of a conversation id (``tg-<chat id>``, or a bare chat id)."""
    raw = recipient_id[len(SENDER_PREFIX):] if recipient_id.startswith(SENDER_PREFIX) \
        else recipient_id
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"not a Telegram conversation id: {recipient_id!r}") from None


def command_text(text: str) -> str:
    """``/start`` becomes the greeting, ``/restart`` Rasa's restart; other text is kept."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return text
    word, _, _rest = stripped.partition(" ")
    command = word.split("@", 1)[0].lower()  # "/start@OrbitaBot" in groups
    return COMMANDS.get(command, text)


@dataclass
class Incoming:
    """One update, read. ``text`` is what the assistant is told for ``text``/``button``."""

    kind: Kind
    update_id: int
    reason: str = ""
    chat_id: int | None = None
    text: str = ""
    language: str | None = None
    user: dict[str, Any] = field(default_factory=dict)
    callback_query_id: str | None = None
    button_title: str | None = None
    button_data: str | None = None

    @property
    def sender_id(self) -> str:
        assert self.chat_id is not None
        return sender_id(self.chat_id)

    @property
    def message_id(self) -> str:
        """The id of the Rasa user message, the same for every delivery of the update."""
        return f"tg-{self.update_id}"

    def metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {"language": self.language, "telegram_user": self.user}
        if self.kind == "button" and self.button_title:
            data["display"] = self.button_title
        return data


def _user(sender: Any) -> tuple[dict[str, Any], str | None]:
    if not isinstance(sender, Mapping):
        return {}, None
    user = {"id": sender.get("id"), "first_name": sender.get("first_name"),
            "username": sender.get("username")}
    code = sender.get("language_code")
    language = str(code)[:2].lower() if isinstance(code, str) and len(code) >= 2 else None
    return user, language


def _chat(message: Mapping[str, Any]) -> tuple[int | None, str]:
    chat = message.get("chat")
    if not isinstance(chat, Mapping) or not isinstance(chat.get("id"), int):
        return None, ""
    return int(chat["id"]), str(chat.get("type") or "private")


def pressed_button(callback_query: Mapping[str, Any]) -> dict[str, Any] | None:
    """The button of the message's keyboard whose ``callback_data`` was sent."""
    data = callback_query.get("data")
    message = callback_query.get("message")
    markup = message.get("reply_markup") if isinstance(message, Mapping) else None
    rows = markup.get("inline_keyboard") if isinstance(markup, Mapping) else None
    for row in rows if isinstance(rows, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, Mapping) and button.get("callback_data") == data:
                return dict(button)
    return None


def _read_message(update_id: int, message: Mapping[str, Any]) -> Incoming:
    chat_id, chat_type = _chat(message)
    if chat_id is None:
        return Incoming("ignored", update_id, "message without a chat")
    if chat_type != "private":
        return Incoming("ignored", update_id, f"message in a {chat_type} chat")
    user, language = _user(message.get("from"))
    base = Incoming("ignored", update_id, chat_id=chat_id, language=language, user=user)
    text = message.get("text")
    if isinstance(text, str) and len(text) > MAX_MESSAGE_CHARS:
        # Telegram sends at most 4,096 characters: a longer text is forged, and reading
        # it would hold Rasa's event loop for seconds (the other channels take 4,000).
        base.reason = f"text of {len(text)} characters, over Telegram's {MAX_MESSAGE_CHARS}"
        return base
    if isinstance(text, str) and text.strip():
        base.kind, base.text = "text", command_text(text)
        return base
    if CONTENT_KEYS.intersection(message):
        base.kind = "unreadable"
        base.reason = ", ".join(sorted(CONTENT_KEYS.intersection(message)))
        return base
    base.reason = "service message without text"
    return base


def _read_callback(update_id: int, query: Mapping[str, Any]) -> Incoming:
    user, language = _user(query.get("from"))
    query_id = str(query["id"]) if query.get("id") is not None else None
    message = query.get("message")
    data = query.get("data")
    chat_id, chat_type = _chat(message) if isinstance(message, Mapping) else (None, "")
    if chat_id is None or not isinstance(data, str) or not data:
        return Incoming("ignored", update_id, "button press without a chat message or data",
                        callback_query_id=query_id)
    if len(data.encode("utf-8", "replace")) > MAX_CALLBACK_BYTES:
        # Telegram's callback_data is 1-64 bytes: longer data is no button of this bot's
        return Incoming("ignored", update_id, f"button data over {MAX_CALLBACK_BYTES} bytes",
                        callback_query_id=query_id)
    if chat_type != "private":
        return Incoming("ignored", update_id, f"button press in a {chat_type} chat",
                        callback_query_id=query_id)
    button = pressed_button(query)
    title = str(button["text"]) if button and button.get("text") else None
    return Incoming("button", update_id, chat_id=chat_id, text=data, language=language,
                    user=user, callback_query_id=query_id, button_title=title,
                    button_data=data)


def read_update(body: Any) -> Incoming:
    """What to do with one update (the parsed JSON body of a webhook delivery)."""
    if not isinstance(body, Mapping):
        raise BadUpdate("an update must be a JSON object")
    update_id = body.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise BadUpdate("an update needs an integer 'update_id'")
    for key in ("message", "edited_message"):  # an edit is answered as a new message
        message = body.get(key)
        if isinstance(message, Mapping):
            return _read_message(update_id, message)
    query = body.get("callback_query")
    if isinstance(query, Mapping):
        return _read_callback(update_id, query)
    kinds = sorted(k for k in body if k != "update_id")
    return Incoming("ignored", update_id, f"update of type {', '.join(kinds) or 'none'}")


def resolve_button(data: str, title: str | None, offered: Iterable[str]) -> str | None:
    """The payload behind a pressed button's ``callback_data``.

    Short payloads are their own ``callback_data``. A long one was sent as a digest key:
    it is looked up among the payloads of the buttons the conversation was offered
    (``offered``, from the tracker store that every Rasa process shares); failing that,
    the button's title is the customer's message. ``None`` when neither is known.
    """
    if not is_button_key(data):
        return data
    for payload in offered:
        if button_key(payload) == data:
            return payload
    return title


class RecentUpdates:
    """Update ids being handled or handled lately in this process.

    Telegram delivers an update again when the first delivery was not answered in time,
    so a retry can arrive while the first is still being answered. Across restarts and
    processes the tracker store (the Rasa message id ``tg-<update_id>``) catches repeats.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._in_flight: set[int] = set()
        self._done: OrderedDict[int, None] = OrderedDict()

    def claim(self, update_id: int) -> bool:
        """True for the first delivery of an update; False for a repeat."""
        if update_id in self._in_flight or update_id in self._done:
            return False
        self._in_flight.add(update_id)
        return True

    def finish(self, update_id: int) -> None:
        self._in_flight.discard(update_id)
        self._done[update_id] = None
        while len(self._done) > self.size:
            self._done.popitem(last=False)


class Strings:
    """The channel's own customer-facing texts (strings/telegram.yml), per language."""

    def __init__(self, path: Path = STRINGS_FILE) -> None:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        self.by_language = {str(lang): {str(k): str(v) for k, v in texts.items()}
                            for lang, texts in raw.items()}
        expected = set(self.by_language[FALLBACK_LANGUAGE])
        missing = {lang: sorted(expected - set(texts))
                   for lang, texts in self.by_language.items() if expected - set(texts)}
        if missing:
            raise ValueError(f"{path}: strings missing: {missing}")

    def text(self, language: str | None, key: str) -> str:
        texts = self.by_language.get(language or "") or self.by_language[FALLBACK_LANGUAGE]
        return texts[key]
