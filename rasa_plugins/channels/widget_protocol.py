"""The website widget's protocol, apart from Rasa so the tests can import it.

Sessions: the server makes every conversation id (``web-`` and 32 random hex digits) and
hands the widget a token, ``<conversation id>.<HMAC>``. A socket names its conversation
only by such a token, so it cannot pick an id (another visitor's, a Telegram chat's, a
REST sender's); a forged or altered token starts a fresh conversation instead.

Messages: conversation events become the widget's message objects here, for the live
socket and for the history alike, with the same ``id`` both ways, so the widget can
merge a history replay after a reconnection with what it already shows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

SESSION_PREFIX = "web-"
SESSION_RE = re.compile(r"web-[0-9a-f]{32}")
CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
MESSAGE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,80}")
LANGUAGES = ("en", "ru", "uk")
HISTORY_LIMIT = 200
MAX_MESSAGE_CHARS = 4000
MAX_DISPLAY_CHARS = 200
FROM_KINDS = ("agent", "system")
STATUS_STATES = ("queued", "with_agent", "assistant")
RECENT_SECONDS = 120.0      # live messages kept to top up a history not stored yet
RECENT_CONVERSATIONS = 10_000


def _mac(secret: bytes, session_id: str) -> str:
    digest = hmac.new(secret, session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_session(secret: bytes) -> tuple[str, str]:
    """A new conversation id and the token that proves it, ``(session_id, token)``."""
    session_id = SESSION_PREFIX + secrets.token_hex(16)
    return session_id, f"{session_id}.{_mac(secret, session_id)}"


def session_of(secret: bytes, token: object) -> str | None:
    """The conversation a token names, or None if this server did not issue it."""
    if not isinstance(token, str) or len(token) > 200 or "." not in token:
        return None
    session_id, mac = token.split(".", 1)
    if not SESSION_RE.fullmatch(session_id):
        return None
    return session_id if hmac.compare_digest(mac, _mac(secret, session_id)) else None


def language_of(value: object) -> str | None:
    text = str(value or "").strip().lower()[:2]
    return text if text in LANGUAGES else None


def _stamp(timestamp: float) -> str:
    return format(int(timestamp * 1_000_000), "x")


def bot_message_id(timestamp: float, text: str) -> str:
    """Stable id of a bot message: its event time and a checksum of its text."""
    return f"b{_stamp(timestamp)}{zlib.crc32(text.encode()):08x}"


def _buttons(raw: object) -> list[dict[str, str]]:
    found = []
    for button in raw if isinstance(raw, list) else []:
        if isinstance(button, Mapping) and button.get("title") and button.get("payload"):
            found.append({"title": str(button["title"]), "payload": str(button["payload"])})
    return found


def _status(raw: object) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping) or raw.get("state") not in STATUS_STATES:
        return None
    status: dict[str, Any] = {"state": raw["state"]}
    for key in ("position", "minutes"):
        if isinstance(raw.get(key), int | float):
            status[key] = int(raw[key])
    if raw.get("agent_name"):
        status["agent_name"] = str(raw["agent_name"])
    return status


def bot_message(text: str, timestamp: float, data: Mapping[str, Any],
                metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The widget's message for a bot utterance (the assistant's, an agent's, the queue's)."""
    origin = metadata.get("from")
    message: dict[str, Any] = {
        "id": bot_message_id(timestamp, text), "role": "bot", "text": text,
        "timestamp": timestamp, "from": origin if origin in FROM_KINDS else "assistant",
    }
    if origin == "agent" and metadata.get("agent_name"):
        message["agent_name"] = str(metadata["agent_name"])
    buttons = _buttons(data.get("buttons"))
    if buttons:
        message["buttons"] = buttons
    status = _status(metadata.get("status"))
    if status:
        message["status"] = status
    return message


def live_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """The widget's message for what Rasa hands an output channel (``BotUttered.message()``:
    the event's data with its metadata merged in)."""
    return bot_message(str(message.get("text") or ""), float(message.get("timestamp") or 0),
                       message, message)


def user_message(text: str, timestamp: float, message_id: str | None,
                 metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The widget's message for what the customer said (a pressed button shows its title)."""
    display = metadata.get("display")
    return {
        "id": message_id if message_id and MESSAGE_ID_RE.fullmatch(message_id)
        else f"u{_stamp(timestamp)}",
        "role": "user",
        "text": str(display) if isinstance(display, str) and display else text,
        "timestamp": timestamp, "from": "customer",
    }


def messages(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The conversation's messages in order, from its events (``Event.as_dict()``)."""
    found: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        timestamp = float(event.get("timestamp") or 0)
        metadata = event.get("metadata") or {}
        if kind == "user" and event.get("text") and not metadata.get("is_external"):
            found.append(user_message(str(event["text"]), timestamp,
                                      event.get("message_id"), metadata))
        elif kind == "bot" and (event.get("text") or (event.get("data") or {}).get("buttons")):
            found.append(bot_message(str(event.get("text") or ""), timestamp,
                                     event.get("data") or {}, metadata))
    return found


def since(found: list[dict[str, Any]], after: str | None = None,
          limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    """Only the messages after message ``after`` if it is among them (else all), and at
    most the last ``limit``."""
    if after:
        ids = [m["id"] for m in found]
        if after in ids:
            found = found[ids.index(after) + 1:]
    return found[-limit:]


def history(events: Iterable[Mapping[str, Any]], after: str | None = None,
            limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    """The conversation's messages after ``after``, at most the last ``limit``."""
    return since(messages(events), after, limit)


class RecentlySent:
    """The messages this process sent lately, per conversation.

    Rasa sends a turn's messages while it works and stores the conversation only at the
    end, so a socket that reconnects in between finds a reply neither live (it was away)
    nor in the history (not stored yet); the history it gets is topped up from here.
    """

    def __init__(self, keep_seconds: float = RECENT_SECONDS) -> None:
        self.keep_seconds = keep_seconds
        self._sent: dict[str, list[tuple[float, dict[str, Any]]]] = {}

    def add(self, conversation: str, message: dict[str, Any]) -> None:
        now = time.monotonic()
        kept = [(t, m) for t, m in self._sent.get(conversation, [])
                if now - t < self.keep_seconds]
        self._sent[conversation] = [*kept, (now, message)]
        if len(self._sent) > RECENT_CONVERSATIONS:  # forget the quietest first
            for stale in sorted(self._sent, key=lambda c: self._sent[c][-1][0])[
                    :len(self._sent) - RECENT_CONVERSATIONS]:
                del self._sent[stale]

    def missing(self, conversation: str, known: set[str]) -> list[dict[str, Any]]:
        """Recent messages of the conversation whose ids are not in ``known``, in order."""
        now = time.monotonic()
        return [m for t, m in self._sent.get(conversation, [])
                if now - t < self.keep_seconds and m["id"] not in known]
