"""An attacker's guesses at one order's contact details, from many conversations and clients.

Starts its own stack (SQLite, the default throttle settings) with loopback as a trusted
proxy, so every guess can come from a client address of its own (``X-Forwarded-For``), as
from a botnet, in a conversation of its own. Each guess is one REST message carrying the
order number and a made-up e-mail address; the answer tells whether the shop was asked
("can't find an order with that combination") or the look-up was refused ("order look-ups
are paused"). Last, the order's real contact is sent from yet another client: it must be
refused too while the order is locked. A second attack rotates order numbers from one
client address and shows the per-client limit.

    .venv-services/bin/python bench/verification_attack.py
    .venv-services/bin/python bench/verification_attack.py --guesses 200

Prints the attempts the shop checked per order number (at most LOOKUP_ORDER_MAX_FAILURES,
default 5, per LOOKUP_WINDOW_MINUTES, default 60) and per client.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.processes import start_stack

ORDER, CONTACT = "ORB-104217", "anna.schmidt@example.com"
CHECKED = "can't find an order with that combination"
REFUSED = "order look-ups are paused"


def say(url: str, sender: str, text: str, client: str) -> str:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "X-Forwarded-For": client})
    with urllib.request.urlopen(request, timeout=60) as response:
        return " ".join(m.get("text", "") for m in json.loads(response.read()))


def verdict(answer: str) -> str:
    if CHECKED in answer:
        return "checked"
    if REFUSED in answer:
        return "refused"
    return "other"


def shop_checks(folder: Path, pattern: str) -> int:
    """Verification slots used for order numbers like ``pattern``: each is one attempt the
    throttle let through to the shop (the answer of the attempt that locks the order is
    the lock's, so answers alone count one less)."""
    with sqlite3.connect(folder / "actions.db") as db:
        (count,) = db.execute("SELECT count(*) FROM verification_slots WHERE subject LIKE ? "
                              "AND used_at_ms > 0", (f"order:{pattern}",)).fetchone()
    return int(count)


def attack(url: str, guesses: int, orders: list[str], client: str | None) -> dict[str, int]:
    counts = {"checked": 0, "refused": 0, "other": 0}
    for n in range(guesses):
        order = orders[n % len(orders)]
        address = client or f"198.51.{n // 250 % 250}.{n % 250 + 1}"
        answer = say(url, f"attack-{uuid.uuid4().hex[:10]}",
                     f"where is my order {order}? my e-mail is guess{n}@example.net", address)
        counts[verdict(answer)] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guesses", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        stack = start_stack(Path(folder), sink=None,
                            # the throttles at their defaults (start_stack raises the
                            # per-client one for tests, whose customers share 127.0.0.1)
                            extra_env={"CHANNEL_TRUSTED_PROXIES": "127.0.0.1",
                                       "LOOKUP_ORDER_MAX_FAILURES": "5",
                                       "LOOKUP_CLIENT_MAX_FAILURES": "10"})
        try:
            started = time.monotonic()
            one = attack(stack.url, args.guesses, [ORDER], None)
            real = verdict(say(stack.url, f"attack-{uuid.uuid4().hex[:10]}",
                               f"where is my order {ORDER}? my e-mail is {CONTACT}",
                               "203.0.113.77"))
            one["slots"] = shop_checks(Path(folder), ORDER)
            print(f"one order, a new conversation and client address per guess: "
                  f"{args.guesses} guesses in {time.monotonic() - started:.0f} s; "
                  f"{one['slots']} let through to the shop; answers: {one['checked']} "
                  f"'no such combination', {one['refused']} 'paused', {one['other']} other")
            print(f"the real contact afterwards, from another client: {real}")
            made_up = [f"ORB-9{n:05d}" for n in range(args.guesses)]
            many = attack(stack.url, args.guesses, made_up, "192.0.2.10")
            many["slots"] = shop_checks(Path(folder), "ORB-9%")
            print(f"one client address, a different order number per guess: "
                  f"{args.guesses} guesses; {many['slots']} let through to the shop; answers: "
                  f"{many['checked']} 'no such combination', {many['refused']} 'paused', "
                  f"{many['other']} other")
        finally:
            stack.stop()
    ok = one["slots"] <= 5 and real == "refused" and many["slots"] <= 10 \
        and not one["other"] and not many["other"]
    print("attempts per order number per hour within the limit (5): "
          + ("yes" if ok else "NO"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
