"""The Telegram channel's server side without a model:
tests/rasa_plugins/channels/telegram_harness.py
(the channel's blueprint in a bare Sanic server, run by Rasa's Python) against the Bot API
emulator. Covers what the end-to-end stack cannot show quickly: start-up without
Telegram, registration while the Bot API is down, repeats caught by the tracker store
(another process answered them), long button payloads and long answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot import processes
from tests.e2e.telegram_client import Telegram, TelegramUser
from tests.servers import free_port, start_telegram_emulator

HARNESS = Path(__file__).with_name("telegram_harness.py")
LONG_PAYLOAD = '/inform{"item": "' + "EXTRA-LONG-ITEM-CODE-" * 3 + '"}'
TELEGRAM_VARIABLES = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_SECRET_TOKEN",
                      "TELEGRAM_API_BASE_URL")


@contextmanager
def harness(settings: dict[str, str], port: int | None = None) -> Iterator[tuple[str, list[str]]]:
    """The harness on a free port: (its URL, its log lines so far)."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if k not in TELEGRAM_VARIABLES}
    env = {k: v for k, v in env.items() if not k.startswith("CHANNEL_")}
    env.update({"CLIENT_ID_SECRET": "harness-" + os.urandom(8).hex(), **settings,
                "PYTHONPATH": str(processes.ROOT), "RASA_TELEMETRY_ENABLED": "false"})
    managed = processes.spawn("harness", [str(processes.RASA_ENV / "bin" / "python"),
                                          str(HARNESS), str(port)], env, sink=None)
    try:
        processes.wait_http(managed, f"http://127.0.0.1:{port}/received", timeout=90)
        yield f"http://127.0.0.1:{port}", managed.lines
    finally:
        managed.stop()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


def received(url: str) -> list[dict[str, Any]]:
    return list(get(f"{url}/received")[1])


def test_without_a_token_the_server_starts_and_the_webhook_answers_503() -> None:
    with harness({}) as (url, lines):
        assert get(f"{url}/webhooks/telegram/") == (200, {"status": "disabled"})
        telegram = Telegram("http://127.0.0.1:1", f"{url}/webhooks/telegram/webhook")
        status, body = telegram.post_webhook({"update_id": 1, "message": {}})
        assert status == 503 and "TELEGRAM_BOT_TOKEN" in body["error"]
        assert telegram.set_webhook()[0] == 503
        assert any("Telegram channel disabled" in line and "TELEGRAM_BOT_TOKEN" in line
                   for line in lines)
        assert received(url) == []


def test_registration_waits_for_the_bot_api_then_everything_works() -> None:
    api_port, port = free_port(), free_port()
    telegram = Telegram(f"http://127.0.0.1:{api_port}",
                        f"http://127.0.0.1:{port}/webhooks/telegram/webhook")
    with harness(telegram.env(), port) as (url, lines):
        # The Bot API is down: the server is up all the same and says what it waits for.
        wait_until(lambda: any("not registered yet" in line and "unreachable" in line
                               for line in lines), 10, "a log line about the retry")
        assert get(f"{url}/webhooks/telegram/")[1] == {"status": "ok"}
        emulator = start_telegram_emulator(port=api_port)
        try:
            info = telegram.wait_webhook(timeout=30)  # the next retry (after 2, 4... s)
            assert info["url"] == telegram.webhook_url
            check_updates(telegram, url)
        finally:
            emulator.stop()
    assert sum("Telegram webhook registered" in line for line in lines) == 1
    assert not [line for line in lines if "Traceback" in line], "\n".join(lines[-40:])


def check_updates(telegram: Telegram, url: str) -> None:
    # A repeat of an update that another process (or this one before a restart) answered:
    # the tracker store has its message id, so it is not answered again.
    left = TelegramUser(telegram, 777, "Left", "en")
    assert left.send_update({"update_id": 9001, "message": left.message(text="hi")}) \
        ["webhook_status"] == 200
    assert received(url) == [] and left.messages() == []

    user = TelegramUser(telegram, 4242, "Uma", "uk")
    assert [m.shown for m in user.say("/start")] == ["echo: /greet"]
    first = received(url)[-1]
    assert first["sender_id"] == "tg-4242" and first["message_id"].startswith("tg-")
    client = first["metadata"].pop("client_id")
    assert first["metadata"] == {"language": "uk", "telegram_user": {
        "id": 4242, "first_name": "Uma", "username": "user4242"}}
    # the channel's own name for the sender: a keyed hash of the user id, not the id
    assert client.startswith("tg:") and len(client) == 35 and "4242" not in client
    assert [m.shown for m in user.say("/restart")] == ["echo: /restart"]

    # An answer over 4,096 characters arrives in parts, cut between paragraphs.
    parts = user.say("long")
    assert len(parts) == 3 and all(len(m.shown) <= 4096 for m in parts)
    assert all(m.shown == " ".join(["paragraph"] * 300) for m in parts)

    # A payload over 64 bytes went out as a key; the conversation's tracker resolves it.
    key = "~" + hashlib.sha256(LONG_PAYLOAD.encode()).hexdigest()[:32]
    offered = TelegramUser(telegram, 778, "Otto", "en")
    markup = {"inline_keyboard": [[{"text": "The long one", "callback_data": key}]]}
    press = {"id": "cb-1", "from": offered.sender, "data": key,
             "message": {"message_id": 5, "chat": offered.chat, "date": 1,
                         "text": "Which one?", "reply_markup": markup}}
    offered.send_update({"update_id": offered.new_update_id(), "callback_query": press})
    assert received(url)[-1]["text"] == LONG_PAYLOAD
    assert received(url)[-1]["metadata"]["display"] == "The long one"
    # In a conversation that was never offered it, the button's title is the message.
    stranger = TelegramUser(telegram, 779, "Sam", "en")
    press = {**press, "id": "cb-2", "from": stranger.sender,
             "message": {**press["message"], "chat": stranger.chat}}
    stranger.send_update({"update_id": stranger.new_update_id(), "callback_query": press})
    assert received(url)[-1]["text"] == "The long one"


def test_a_sender_over_budget_is_told_once_and_oversized_or_deep_bodies_are_refused() -> None:
    api_port, port = free_port(), free_port()
    telegram = Telegram(f"http://127.0.0.1:{api_port}",
                        f"http://127.0.0.1:{port}/webhooks/telegram/webhook")
    emulator = start_telegram_emulator(port=api_port)
    limits = {"CHANNEL_CONVERSATION_MESSAGES": "3",
              "CHANNEL_NEW_CONVERSATIONS": "1"}
    try:
        with harness({**telegram.env(), **limits}, port) as (url, lines):
            telegram.wait_webhook(timeout=30)
            user = TelegramUser(telegram, 5151, "Rita", "ru")
            assert [m.shown for m in user.say("/start")] == ["echo: /greet"]
            # a second new conversation within the window: refused, said once
            restart = [m.shown for m in user.say("/restart")]
            assert len(restart) == 1 and "новых чатов" in restart[0]
            assert [m.shown for m in user.say("one")] == ["echo: one"]
            assert [m.shown for m in user.say("two")] == ["echo: two"]
            refused = [m.shown for m in user.say("three")]  # the 4th counted message
            assert len(refused) == 1 and "Подождите" in refused[0], refused
            assert user.say("four") == []  # told once per window, not once per message
            assert [m["text"] for m in received(url) if m["sender_id"] == "tg-5151"] == \
                ["/greet", "one", "two"]
            # another user has a budget of their own
            other = TelegramUser(telegram, 5252, "Ivan", "en")
            assert [m.shown for m in other.say("hello")] == ["echo: hello"]

            deep = b'{"update_id": 1, "message": ' + b"[" * 5000 + b"]" * 5000 + b"}"
            status, body = telegram.post_webhook({}, raw=deep)
            assert status == 400 and "deeply" in body["error"]
            status, body = telegram.post_webhook({}, raw=b" " * (1024 * 1024 + 1))
            assert status == 413 and "too large" in body["error"]
            status, body = telegram.post_webhook({}, raw=b"\xff{")
            assert status == 400 and body["error"] == "the body must be JSON"
        assert not [line for line in lines if "Traceback" in line], "\n".join(lines[-40:])
    finally:
        emulator.stop()
