"""A Telegram user, as the end-to-end tests play one against the Bot API emulator.

The user writes through the emulator's client API (``POST /sendMessage``, ``/sendCallback``,
``/sendUpdate``), which delivers each update to the bot's webhook with the secret header,
as Telegram does, and answers once the webhook has answered. What the bot sent is read
back from the emulator (``POST /getUpdatesHistory``), where it stored the bot's
``sendMessage`` calls: the text as sent (HTML), the parse mode and the inline keyboard.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.http_json import exchange

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
_update_ids = itertools.count(random.randrange(10**8, 2 * 10**8))  # noqa: S311


def post_json(url: str, body: Any, headers: dict[str, str] | None = None,
              timeout: float = 60) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    return exchange(request, timeout=timeout)


def plain(text: str) -> str:
    """What a Telegram client shows for an HTML message: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


@dataclass
class BotMessage:
    message_id: int
    text: str  # as sent: HTML
    parse_mode: str | None
    reply_markup: dict[str, Any] | None

    @property
    def shown(self) -> str:
        return plain(self.text) if self.parse_mode == "HTML" else self.text

    @property
    def buttons(self) -> list[dict[str, Any]]:
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]


@dataclass
class Telegram:
    """The emulator and the bot's settings for one stack."""

    api_url: str  # the emulator: the bot's TELEGRAM_API_BASE_URL
    webhook_url: str  # Rasa's /webhooks/telegram/webhook
    token: str = field(default_factory=lambda: f"{random.randrange(10**8, 10**9)}:"  # noqa: S311
                       f"TEST{os.urandom(12).hex()}")
    secret: str = field(default_factory=lambda: "tg-secret-" + os.urandom(16).hex())

    @classmethod
    def for_rasa_port(cls, api_url: str, rasa_port: int) -> Telegram:
        return cls(api_url, f"http://127.0.0.1:{rasa_port}/webhooks/telegram/webhook")

    def env(self) -> dict[str, str]:
        """The channel's settings, for the Rasa server's environment."""
        return {"TELEGRAM_BOT_TOKEN": self.token, "TELEGRAM_WEBHOOK_URL": self.webhook_url,
                "TELEGRAM_SECRET_TOKEN": self.secret, "TELEGRAM_API_BASE_URL": self.api_url}

    def webhook_info(self) -> dict[str, Any]:
        status, body = post_json(f"{self.api_url}/bot{self.token}/getWebhookInfo", {})
        assert status == 200, body
        return dict(body["result"])

    def wait_webhook(self, timeout: float = 30) -> dict[str, Any]:
        """The webhook info, once the bot has registered its webhook."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.webhook_info()
            if info.get("url"):
                return info
            time.sleep(0.2)
        raise AssertionError(f"the bot registered no webhook within {timeout} s")

    def user(self, first_name: str = "Olga", language: str | None = "en") -> TelegramUser:
        """A new user in a new private chat."""
        user_id = random.randrange(10**9, 2 * 10**9)  # noqa: S311
        return TelegramUser(self, user_id, first_name, language)

    def post_webhook(self, update: dict[str, Any], secret: str | None = "",
                     raw: bytes | None = None) -> tuple[int, Any]:
        """POST straight to the bot's webhook, as someone other than the emulator would.
        ``secret=""`` sends the right secret, ``None`` none at all."""
        body = raw if raw is not None else json.dumps(update).encode()
        return self._post_to_bot(self.webhook_url, body, secret)

    def set_webhook(self, secret: str | None = "") -> tuple[int, Any]:
        """``POST /webhooks/telegram/set_webhook``: register the webhook again, on demand."""
        url = self.webhook_url.rsplit("/", 1)[0] + "/set_webhook"
        return self._post_to_bot(url, b"", secret)

    def _post_to_bot(self, url: str, body: bytes, secret: str | None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret or self.secret
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def history(self) -> list[dict[str, Any]]:
        status, body = post_json(f"{self.api_url}/getUpdatesHistory", {"token": self.token})
        assert status == 200, body
        return list(body["result"])


@dataclass
class TelegramUser:
    telegram: Telegram
    user_id: int
    first_name: str
    language: str | None

    @property
    def chat_id(self) -> int:
        return self.user_id  # a private chat's id is the user's id

    @property
    def conversation_id(self) -> str:
        return f"tg-{self.chat_id}"

    @property
    def sender(self) -> dict[str, Any]:
        found: dict[str, Any] = {"id": self.user_id, "is_bot": False,
                                 "first_name": self.first_name,
                                 "username": f"user{self.user_id}"}
        if self.language:
            found["language_code"] = self.language
        return found

    @property
    def chat(self) -> dict[str, Any]:
        return {"id": self.chat_id, "type": "private", "first_name": self.first_name}

    def message(self, **content: Any) -> dict[str, Any]:
        return {"chat": self.chat, "from": self.sender, "date": int(time.time()), **content}

    def _client(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = post_json(f"{self.telegram.api_url}{path}",
                                   {"botToken": self.telegram.token, **body})
        assert status == 200 and answer.get("ok"), answer
        return dict(answer["result"])

    def send_message(self, **content: Any) -> dict[str, Any]:
        """Any message (text, sticker, photo...); returns {update_id, webhook_status}."""
        return self._client("/sendMessage", self.message(**content))

    def send_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """A raw update through the emulator's webhook delivery."""
        return self._client("/sendUpdate", {"update": update})

    def new_update_id(self) -> int:
        return next(_update_ids)

    def messages(self) -> list[BotMessage]:
        """Everything the bot sent to this chat, oldest first."""
        found = []
        for entry in self.telegram.history():
            message = entry.get("message") or {}
            if "chat_id" in message and str(message["chat_id"]) == str(self.chat_id):
                markup = message.get("reply_markup")
                found.append(BotMessage(int(entry["messageId"]), str(message.get("text", "")),
                                        message.get("parse_mode"),
                                        markup if isinstance(markup, dict) else None))
        return found

    def say(self, text: str) -> list[BotMessage]:
        """Send a text; the bot's messages of that turn (the webhook has answered by then)."""
        before = len(self.messages())
        result = self.send_message(text=text)
        assert result["webhook_status"] == 200, result
        return self.messages()[before:]

    def texts(self, text: str) -> str:
        return "\n".join(m.shown for m in self.say(text))

    def press(self, title: str) -> list[BotMessage]:
        """Press the button titled ``title`` on the newest bot message that has one."""
        for message in reversed(self.messages()):
            for button in message.buttons:
                if button.get("text") == title:
                    before = len(self.messages())
                    result = self._client("/sendCallback", {
                        "data": button["callback_data"], "from": self.sender,
                        "message": {"message_id": message.message_id, "chat": self.chat,
                                    "date": int(time.time()), "text": message.text,
                                    "reply_markup": message.reply_markup}})
                    assert result["webhook_status"] == 200, result
                    return self.messages()[before:]
        raise AssertionError(f"no button {title!r} in {[m.buttons for m in self.messages()]}")

    def wait_for(self, match: Callable[[BotMessage], bool], timeout: float = 20,
                 after: int = 0) -> BotMessage:
        """The first bot message (from index ``after`` on) that matches, waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages()[after:]:
                if match(message):
                    return message
            time.sleep(0.1)
        shown = [m.shown for m in self.messages()[after:]]
        raise AssertionError(f"no matching bot message within {timeout} s; got {shown}")
