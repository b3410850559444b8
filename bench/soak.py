"""A long run under load while the processes are killed: what a crash loses, and for how long.

Starts its own stack (SQLite, in-process stores, as ``make run``), runs customers over
REST and the widget (bench/load.py's mixes, plus customers who ask for a person), and
every ``--kill-every`` seconds SIGKILLs one process in turn (Rasa, the action server, the
handoff service) and starts it again on the same port, as a supervisor would. At the end
it checks, and prints:

- **lost or doubled messages**: every REST message that was answered with 200 is in its
  conversation's tracker exactly once and in order; a message whose request failed is
  stored at most once;
- **errors outside an outage**: an outage lasts from the kill until the process answers
  again plus ``--grace`` seconds; any error outside one is a failure;
- **tickets**: every customer who asked for a person and was told so has exactly one
  ticket in the handoff database;
- time to recover per kill, latency per window, memory per process over time, and
  SQLite's integrity check of every database.

    .venv-services/bin/python bench/soak.py                       # 20 minutes
    .venv-services/bin/python bench/soak.py --minutes 5 --kill-every 60 --customers 6

Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from bench.figures import percentile
from bench.load import RestCustomer, Turn, WidgetCustomer, check, conversations, rss_mb, timed_turn
from bot import processes
from rasa_plugins.channels import typed_commands

PERSON = [Turn("greeting", "hi"), Turn("person", "I want to talk to a person")]
ROLES = ("rasa", "actions", "handoff")


@dataclass
class Sent:
    sender: str
    text: str
    ok: bool


@dataclass
class Record:
    """Everything the customers saw, with the time of each answer or error."""

    started: float = field(default_factory=time.monotonic)
    latencies: list[tuple[float, float]] = field(default_factory=list)   # (at, ms)
    errors: list[tuple[float, str, str]] = field(default_factory=list)   # (at, kind, what)
    sent: list[Sent] = field(default_factory=list)
    asked_person: list[str] = field(default_factory=list)
    outages: list[tuple[str, float, float]] = field(default_factory=list)  # role, from, to
    memory: dict[str, list[float]] = field(default_factory=dict)

    def in_outage(self, at: float, grace: float) -> bool:
        return any(start <= at <= end + grace for _, start, end in self.outages)


class Supervisor:
    """Kills and restarts the stack's processes on the ports they had."""

    def __init__(self, stack: processes.Stack, model: Path, logs: Callable[[str], None]) -> None:
        self.stack, self.model, self.logs = stack, model, logs
        self.ports = {"rasa": int(stack.url.rsplit(":", 1)[1]),
                      "handoff": int(stack.handoff_url.rsplit(":", 1)[1]),
                      "actions": int(stack.env["ACTION_ENDPOINT_URL"].split(":")[2]
                                     .split("/")[0])}

    def managed(self, role: str) -> processes.Managed:
        return {"rasa": self.stack.rasa, "actions": self.stack.actions,
                "handoff": self.stack.handoff}[role]

    def kill_and_restart(self, role: str) -> float:
        """SIGKILL ``role``'s process group, start it again; seconds until it answers."""
        victim = self.managed(role).process
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        started = time.monotonic()
        port, env, stack = self.ports[role], self.stack.env, self.stack
        if role == "rasa":
            stack.rasa = processes.start_rasa(port, self.model, stack.token, env, sink=self.logs)
        elif role == "actions":
            stack.actions = processes.start_action_server(port, env, sink=self.logs)
        else:
            stack.handoff = processes.start_handoff(port, env, sink=self.logs)
        return time.monotonic() - started


async def rest_customer(number: int, url: str, http: aiohttp.ClientSession, until: float,
                        record: Record, think: float, person_every: int) -> None:
    talker = RestCustomer(http, url)
    loop = asyncio.get_running_loop()
    for count, mixed in enumerate(conversations("mixed", seed=number)):
        if loop.time() >= until:
            return
        asks = person_every and count % person_every == person_every - 1
        await talker.start()
        for turn in PERSON if asks else mixed:
            if loop.time() >= until:
                return
            started = time.perf_counter()
            try:
                texts = await talker.say(turn.text)
                record.sent.append(Sent(talker.sender, turn.text, True))
                error = check(turn, texts)
            except Exception as exc:
                record.sent.append(Sent(talker.sender, turn.text, False))
                error = f"{type(exc).__name__}: {exc}"
            if error:
                record.errors.append((time.monotonic(), turn.kind, error[:160]))
                await asyncio.sleep(think)  # a customer whose message failed tries again
                break
            record.latencies.append((time.monotonic(), (time.perf_counter() - started) * 1000))
            if turn.kind == "person":
                record.asked_person.append(talker.sender)
            await asyncio.sleep(think)


async def widget_customer(number: int, url: str, http: aiohttp.ClientSession, until: float,
                          record: Record, think: float) -> None:
    talker = WidgetCustomer(http, url)
    loop = asyncio.get_running_loop()
    try:
        for scenario in conversations("mixed", seed=500 + number):
            if loop.time() >= until:
                return
            try:
                await talker.start()
            except Exception as exc:
                record.errors.append((time.monotonic(), "widget-session", str(exc)[:160]))
                await asyncio.sleep(think)
                continue
            for turn in scenario:
                if loop.time() >= until:
                    return
                took_ms, error = await timed_turn(talker, turn)
                if error:
                    record.errors.append((time.monotonic(), "widget-" + turn.kind, error[:160]))
                    await asyncio.sleep(think)
                    break
                record.latencies.append((time.monotonic(), took_ms))
                await asyncio.sleep(think)
    finally:
        await talker.stop()


async def killer(supervisor: Supervisor, until: float, every: float, record: Record) -> None:
    loop = asyncio.get_running_loop()
    turn = 0
    while loop.time() + every < until:
        await asyncio.sleep(every)
        role = ROLES[turn % len(ROLES)]
        turn += 1
        killed = time.monotonic()
        took = await asyncio.to_thread(supervisor.kill_and_restart, role)
        record.outages.append((role, killed, killed + took))
        print(f"  {time.monotonic() - record.started:6.0f} s  killed {role}, answering again "
              f"after {took:.1f} s", flush=True)


async def sample_memory(supervisor: Supervisor, until: float, record: Record) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        for role in ROLES:
            record.memory.setdefault(role, []).append(rss_mb(supervisor.managed(role).process.pid))
        await asyncio.sleep(30)


def stored_user_texts(stack: processes.Stack, sender: str) -> list[str]:
    query = urllib.parse.urlencode({"token": stack.token})
    url = f"{stack.url}/conversations/{urllib.parse.quote(sender)}/tracker?{query}"
    with urllib.request.urlopen(url, timeout=30) as response:
        tracker = json.loads(response.read())
    return [str(e.get("text")) for e in tracker.get("events", [])
            if e.get("event") == "user" and not (e.get("metadata") or {}).get("is_external")]


def stored_as(sent: str, stored: str) -> bool:
    """Whether ``stored`` is how the channel keeps ``sent``: as it is, or, for "/intent"
    shorthand of a button that was not offered (a reply lost to a kill never offered it),
    as words (rasa_plugins/channels/typed_commands.py)."""
    return stored in (sent, sent.strip(), typed_commands.as_words(sent))


def message_problems(stack: processes.Stack, sent: list[Sent]) -> list[str]:
    """Answered messages missing, doubled or reordered; failed ones stored twice.

    The stored texts must be the sent ones in order, where a message whose request failed
    may be missing (the process died before storing it) but nothing else may."""
    by_sender: dict[str, list[Sent]] = {}
    for item in sent:
        by_sender.setdefault(item.sender, []).append(item)
    problems = []
    for sender, items in by_sender.items():
        stored = stored_user_texts(stack, sender)
        position = 0
        for text in stored:
            while position < len(items) and not stored_as(items[position].text, text):
                if items[position].ok:
                    problems.append(f"{sender}: answered {items[position].text!r} is missing "
                                    "or out of order")
                position += 1
            if position == len(items):
                problems.append(f"{sender}: {text!r} stored but not sent (doubled?)")
                break
            position += 1
        problems += [f"{sender}: answered {item.text!r} is not stored"
                     for item in items[position:] if item.ok]
    return problems


def ticket_problems(folder: Path, senders: list[str], wait: float) -> list[str]:
    deadline = time.monotonic() + wait
    while True:
        with sqlite3.connect(folder / "handoff.db") as conn:
            counts = {s: int(conn.execute("SELECT count(*) FROM tickets WHERE "
                                          "conversation_id = ?", (s,)).fetchone()[0])
                      for s in senders}
        problems = [f"{s}: {n} tickets" for s, n in counts.items() if n != 1]
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(2)


def integrity_problems(folder: Path) -> list[str]:
    problems = []
    for path in sorted(folder.glob("*.db")):
        with sqlite3.connect(path) as conn:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            problems.append(f"{path.name}: {verdict}")
    return problems


def report(record: Record, seconds: float, window: float, grace: float) -> list[str]:
    answered = len(record.latencies)
    print(f"\n{answered} answers in {seconds:.0f} s ({answered / seconds:.1f}/s), "
          f"{len(record.errors)} errors, {len(record.outages)} kills")
    print(f"  {'window':<14}{'answers':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    start = record.started
    for offset in range(0, int(seconds), int(window)):
        low, high = start + offset, start + offset + window
        values = [ms for at, ms in record.latencies if low <= at < high]
        errors = sum(1 for at, _, _ in record.errors if low <= at < high)
        if values or errors:
            print(f"  {offset:>5}-{offset + int(window):<8}{len(values):>8}"
                  f"{percentile(values, 0.5) if values else 0:>9.0f}"
                  f"{percentile(values, 0.99) if values else 0:>9.0f}{errors:>8}")
    for role in ROLES:
        took = [end - begin for r, begin, end in record.outages if r == role]
        if took:
            print(f"  {role}: killed {len(took)} times, answering again after "
                  f"{min(took):.1f}-{max(took):.1f} s")
    for role, values in record.memory.items():
        if values:
            print(f"  {role} RSS MB: first {values[0]:.0f}, max {max(values):.0f}, "
                  f"last {values[-1]:.0f}")
    outside = [(at, kind, what) for at, kind, what in record.errors
               if not record.in_outage(at, grace)]
    inside = len(record.errors) - len(outside)
    print(f"  errors during an outage (kill to ready + {grace:.0f} s): {inside}; "
          f"outside: {len(outside)}")
    return [f"error outside an outage at {at - start:.0f} s ({kind}): {what}"
            for at, kind, what in outside]


async def soak(stack: processes.Stack, supervisor: Supervisor, args: argparse.Namespace,
               record: Record) -> None:
    timeout = aiohttp.ClientTimeout(total=90)
    async with aiohttp.ClientSession(timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=0)) as http:
        loop = asyncio.get_running_loop()
        until = loop.time() + args.minutes * 60
        record.started = time.monotonic()
        await asyncio.gather(
            *(rest_customer(n, stack.url, http, until, record, args.think, args.person_every)
              for n in range(args.customers)),
            *(widget_customer(n, stack.url, http, until, record, args.think)
              for n in range(args.widget_customers)),
            killer(supervisor, until, args.kill_every, record),
            sample_memory(supervisor, until, record))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--kill-every", type=float, default=150.0,
                        help="seconds between kills (Rasa, actions, handoff in turn)")
    parser.add_argument("--customers", type=int, default=8, help="REST customers")
    parser.add_argument("--widget-customers", type=int, default=2)
    parser.add_argument("--think", type=float, default=1.0,
                        help="seconds a customer waits between messages")
    parser.add_argument("--person-every", type=int, default=6,
                        help="every Nth conversation of a REST customer asks for a person")
    parser.add_argument("--grace", type=float, default=10.0,
                        help="seconds after a restart during which errors are expected")
    parser.add_argument("--window", type=float, default=120.0, help="seconds per latency row")
    args = parser.parse_args()
    logs: list[str] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        started = time.perf_counter()
        stack = processes.start_stack(folder, sink=logs.append)
        print(f"stack ready in {time.perf_counter() - started:.1f} s; soaking "
              f"{args.minutes:.0f} min, a kill every {args.kill_every:.0f} s", flush=True)
        record = Record()
        try:
            asyncio.run(soak(stack, Supervisor(stack, processes.newest_model(), logs.append),
                             args, record))
            time.sleep(args.grace)
            failures = report(record, args.minutes * 60, args.window, args.grace)
            failures += message_problems(stack, record.sent)
            failures += ticket_problems(folder, record.asked_person, wait=60)
        finally:
            stack.stop()
        failures += integrity_problems(folder)
    checked = len({s.sender for s in record.sent})
    print(f"  checked {len(record.sent)} REST messages in {checked} conversations, "
          f"{len(record.asked_person)} requests for a person")
    lost = sum(1 for f in failures if "is missing or out of order" in f or "is not stored" in f)
    doubled = sum(1 for f in failures if "stored but not sent" in f)
    no_ticket = sum(1 for f in failures if f.endswith(": 0 tickets"))
    print(f"  REST messages sent {len(record.sent)}, answered "
          f"{sum(1 for s in record.sent if s.ok)}, lost {lost}, answered twice {doubled}; "
          f"escalations {len(record.asked_person)}, lost {no_ticket}")
    for failure in failures[:40]:
        print(f"FAIL {failure}")
    print("soak: " + ("FAILED" if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
