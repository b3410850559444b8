"""Telegram round-trip latency through the Bot API emulator.

Starts the Telegram Bot API emulator and the assistant on free ports as the end-to-end
tests do (tests/e2e/conftest.py), then, for N Telegram users in turn, times:
  * "question": a new chat's "I'd like to return the phone case I bought" (language
                detection, the order form asks for the order number)
  * "verify":   the e-mail that completes the look-up (form validation, shop query: custom
                actions), answered with the order's items as inline buttons
  * "button":   pressing one of them (answerCallbackQuery, then the payload as the user's
                message; the reasons come back as buttons)
Each time runs from just before the client's update is POSTed to the emulator until the
emulator stored the bot's first reply (its own timestamp, same clock); "all" is until the
webhook had answered, by when every reply of the turn was sent.
Usage: .venv-services/bin/python bench/telegram_latency.py [N]   (make bench-telegram)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import percentile
from bot import processes
from tests.e2e.telegram_client import Telegram, TelegramUser
from tests.servers import start_telegram_emulator


def timed(user: TelegramUser, send: str, press: str | None = None) -> tuple[float, float]:
    """(first reply stored, webhook answered) in ms after the update was sent."""
    seen = len(user.messages())
    started = time.time()
    clock = time.perf_counter()
    if press is None:
        result = user.send_message(text=send)
        assert result["webhook_status"] == 200, result
    else:
        user.press(press)
    answered = (time.perf_counter() - clock) * 1000
    stored = [entry for entry in user.telegram.history()
              if str((entry.get("message") or {}).get("chat_id")) == str(user.chat_id)]
    assert len(stored) > seen, f"no reply to {send or press!r}"
    return stored[seen]["time"] - started * 1000, answered


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    first: dict[str, list[float]] = {"question": [], "verify": [], "button": []}
    whole: dict[str, list[float]] = {kind: [] for kind in first}
    emulator = start_telegram_emulator()
    try:
        with tempfile.TemporaryDirectory() as folder:
            rasa_port = processes.free_port()
            telegram = Telegram.for_rasa_port(emulator.url, rasa_port)
            stack = processes.start_stack(Path(folder), extra_env=telegram.env(),
                                          rasa_port=rasa_port)
            try:
                telegram.wait_webhook()
                for i in range(3):  # warm-up
                    telegram.user(f"warm{i}").say("hello")
                for i in range(count):
                    user = telegram.user(f"user{i}")
                    for kind, text in (("question", "I'd like to return the phone case I bought"),
                                       ("verify", "anna.schmidt@example.com")):
                        if kind == "verify":
                            user.say("ORB-104217")
                        stored, answered = timed(user, text)
                        first[kind].append(stored)
                        whole[kind].append(answered)
                    stored, answered = timed(user, "", press="Nova 7 silicone case")
                    first["button"].append(stored)
                    whole["button"].append(answered)
            finally:
                stack.stop()
    finally:
        emulator.stop()
    print(f"Telegram round trip through the Bot API emulator, {count} users, sequential, "
          "loopback")
    print(f"{'turn':<10}{'reply p50':>11}{'p95':>8}{'max':>8}{'all p50':>10}{'p95':>8}"
          f"{'max':>8}   (ms)")
    for kind, a in first.items():
        b = whole[kind]
        print(f"{kind:<10}{percentile(a, 0.5):>11.1f}{percentile(a, 0.95):>8.1f}"
              f"{max(a):>8.1f}{percentile(b, 0.5):>10.1f}{percentile(b, 0.95):>8.1f}"
              f"{max(b):>8.1f}   mean reply {statistics.fmean(a):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
