"""Concurrent customers over REST and the widget's socket.io: throughput, latency, errors.

Each customer is a closed loop: it sends a message, waits for the whole answer, sends the
next one; a conversation is one scenario (a greeting chat, a policy question, a verified
order look-up, a return) and every new scenario is a new conversation, so new
conversations start at the rate the scenarios set. Prints, per level of concurrency,
messages per second, p50/p95/p99 and errors per kind of turn, and the CPU share and
resident memory of every process of the stack.

    .venv-services/bin/python bench/load.py                      # starts its own stack
    .venv-services/bin/python bench/load.py --customers 1,10,50 --mix mixed --seconds 60
    .venv-services/bin/python bench/load.py --url http://127.0.0.1:5005 --channel widget

With ``--url`` it targets a running stack (``make run``, ``make run-scaled``); the
processes it reports are found by their command lines.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import socketio

from bench.figures import percentile
from bot.processes import start_stack


@dataclass(frozen=True)
class Turn:
    kind: str           # the row it is counted in
    text: str
    expect: str = ""    # a word the answer must contain ("" = any non-empty answer)


# Answers are checked loosely: a non-empty answer, and for the turns whose outcome matters,
# a word only the right outcome has (an order number, a return number).
SCENARIOS: dict[str, list[list[Turn]]] = {
    "greeting": [
        [Turn("greeting", "hi"), Turn("thanks", "thanks")],
        [Turn("greeting", "привет"), Turn("thanks", "спасибо")],
    ],
    "faq": [
        [Turn("faq", "how long is the warranty on a laptop?")],
        [Turn("faq", "can i pay in instalments?")],
        [Turn("faq", "сколько идёт доставка курьером?")],
        [Turn("faq", "is return shipping free if the item is faulty?")],
        [Turn("faq", "чи можна повернути навушники, якщо я їх уже відкрив?")],
    ],
    "lookup": [
        [Turn("lookup-ask", "where is my order ORB-104388"),
         Turn("lookup-verify", "ivan.petrov@example.ru", "PN987654321DE")],
        [Turn("lookup-ask", "где мой заказ ORB-104217"),
         Turn("lookup-verify", "anna.schmidt@example.com", "доставлен")],
    ],
    "return": [
        [Turn("return-ask", "I want to return the screen protector from order ORB-104444, "
                            "andriy.sh@example.ua, I don't need it"),
         Turn("return-confirm", "/affirm", "RMA-")],
    ],
}
# The lunch-hour mix: a greeting, a warranty question and thanks, six messages a
# conversation; "mixed" adds look-ups and returns in the shares a shop's chat sees.
SCENARIOS["chat"] = [[Turn("greeting", "hi"),
                      Turn("faq", "how long does the warranty on a tablet last?"),
                      Turn("thanks", "thanks")] * 2]
MIXES: dict[str, dict[str, int]] = {
    "mixed": {"greeting": 3, "faq": 4, "lookup": 2, "return": 1},
    **{name: {name: 1} for name in SCENARIOS},
}


def conversations(mix: str, seed: int) -> Iterator[list[Turn]]:
    shares = MIXES[mix]
    pool = [name for name, weight in shares.items() for _ in range(weight)]
    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    cycles = {name: itertools.cycle(SCENARIOS[name]) for name in shares}
    while True:
        yield next(cycles[rng.choice(pool)])


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    samples: dict[str, str] = field(default_factory=dict)
    conversations: int = 0

    def add(self, kind: str, millis: float, error: str | None) -> None:
        if error:
            self.errors[kind] = self.errors.get(kind, 0) + 1
            self.samples.setdefault(kind, error[:160])
        else:
            self.latencies.setdefault(kind, []).append(millis)


def check(turn: Turn, texts: list[str]) -> str | None:
    joined = " ".join(texts)
    if not joined.strip():
        return "empty answer"
    if turn.expect and turn.expect not in joined:
        return f"expected {turn.expect!r} in {joined[:120]!r}"
    return None


class RestCustomer:
    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url, self.sender = http, url, ""

    async def start(self) -> None:
        self.sender = "load-" + os.urandom(8).hex()

    async def say(self, text: str) -> list[str]:
        async with self.http.post(f"{self.url}/webhooks/rest/webhook",
                                  json={"sender": self.sender, "message": text}) as response:
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {(await response.text())[:100]}")
            return [str(m.get("text", "")) for m in await response.json()]

    async def stop(self) -> None:
        return None


class WidgetCustomer:
    """A visitor's socket: a session of its own, answers until the typing indicator stops."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.url = url
        self.client: socketio.AsyncClient | None = None
        self.texts: list[str] = []
        self.idle = asyncio.Event()
        self.confirmed = asyncio.Event()

    async def start(self) -> None:
        await self.stop()
        client = socketio.AsyncClient(reconnection=False)
        self.client, self.texts = client, []
        self.confirmed.clear()

        @client.on("session_confirm")
        async def confirmed(_: dict[str, Any]) -> None:
            self.confirmed.set()

        @client.on("bot_uttered")
        async def uttered(data: dict[str, Any]) -> None:
            self.texts.append(str(data.get("text", "")))

        @client.on("typing")
        async def typing(data: dict[str, Any]) -> None:
            if not data.get("on"):
                self.idle.set()

        # The browser client waits 20 s for the handshake; python-socketio only 1 s.
        await client.connect(self.url, transports=["websocket"], wait_timeout=20)
        await client.emit("session_request", {"token": None, "language": "en"})
        await asyncio.wait_for(self.confirmed.wait(), 30)

    async def say(self, text: str) -> list[str]:
        assert self.client is not None
        self.texts = []
        self.idle.clear()
        ack = await self.client.call("user_uttered",
                                     {"message": text, "client_id": os.urandom(8).hex()},
                                     timeout=60)
        if not ack.get("ok"):
            raise RuntimeError(f"not accepted: {ack}")
        await asyncio.wait_for(self.idle.wait(), 60)
        return list(self.texts)

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.disconnect()
            self.client = None


async def timed_turn(talker: RestCustomer | WidgetCustomer, turn: Turn) -> tuple[float, str | None]:
    """One customer message: milliseconds until its answers came, and what was wrong with
    them (None when they were right; a failed request is an error, not an exception)."""
    started = time.perf_counter()
    try:
        error = check(turn, await talker.say(turn.text))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    return (time.perf_counter() - started) * 1000, error


async def customer(number: int, channel: str, url: str, http: aiohttp.ClientSession, mix: str,
                   until: float, tally: Tally, think: float) -> None:
    talker = (RestCustomer if channel == "rest" else WidgetCustomer)(http, url)
    loop = asyncio.get_running_loop()
    if think:
        # Customers who pause between messages do not all arrive in the same second.
        await asyncio.sleep(random.Random(number).uniform(0, think))  # noqa: S311
    try:
        for scenario in conversations(mix, seed=number):
            if loop.time() >= until:
                return
            try:
                await talker.start()
            except Exception as exc:
                tally.add("session", 0, f"{type(exc).__name__}: {exc}")
                continue
            tally.conversations += 1
            for turn in scenario:
                if loop.time() >= until:
                    return
                took_ms, error = await timed_turn(talker, turn)
                tally.add(turn.kind, took_ms, error)
                if error:
                    break
                if think:
                    await asyncio.sleep(think)
    finally:
        await talker.stop()


# -- the processes of the stack: CPU and memory from /proc ------------------------------

ROLES = (("rasa", "rasa run"), ("actions", "actions.server"), ("handoff", "bot handoff"))


def stack_processes() -> dict[int, str]:
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        for role, marker in ROLES:
            if marker in cmdline and "bench/load.py" not in cmdline:
                found[int(entry.name)] = role
    found[os.getpid()] = "load client"
    return found


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def run_level(channel: str, url: str, customers: int, mix: str, seconds: float,
                    warmup: float, think: float) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        loop = asyncio.get_running_loop()
        if warmup:
            await asyncio.gather(*(customer(1000 + n, channel, url, http, mix,
                                            loop.time() + warmup, Tally(), think)
                                   for n in range(customers)))
        processes = stack_processes()
        cpu_before = {pid: cpu_seconds(pid) for pid in processes}
        tally = Tally()
        started = time.perf_counter()
        await asyncio.gather(*(customer(n, channel, url, http, mix, loop.time() + seconds,
                                        tally, think) for n in range(customers)))
        elapsed = time.perf_counter() - started
    usage: dict[str, dict[str, float]] = {}
    for pid, role in processes.items():
        row = usage.setdefault(role, {"cpu": 0.0, "rss": 0.0, "count": 0})
        row["cpu"] += (cpu_seconds(pid) - cpu_before[pid]) / elapsed * 100
        row["rss"] += rss_mb(pid)
        row["count"] += 1
    answered = sum(len(v) for v in tally.latencies.values())
    everything = [x for v in tally.latencies.values() for x in v]
    return {
        "channel": channel, "customers": customers, "mix": mix, "seconds": round(elapsed, 1),
        "answered": answered, "errors": sum(tally.errors.values()),
        "conversations": tally.conversations,
        "per_second": answered / elapsed,
        "all": summary(everything),
        "kinds": {kind: {**summary(tally.latencies.get(kind, [])),
                         "errors": tally.errors.get(kind, 0)}
                  for kind in sorted(tally.latencies.keys() | tally.errors.keys())},
        "error_samples": tally.samples,
        "processes": usage,
    }


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0}
    return {"n": len(values), "p50": percentile(values, 0.5), "p95": percentile(values, 0.95),
            "p99": percentile(values, 0.99)}


def show(result: dict[str, Any]) -> None:
    everything = result["all"]
    print(f"\n{result['channel']}, {result['customers']} customers, mix {result['mix']}: "
          f"{result['per_second']:.1f} messages/s, {result['answered']} answered, "
          f"{result['errors']} errors, {result['conversations']} conversations in "
          f"{result['seconds']} s; p50 {everything['p50']:.0f} ms, p95 "
          f"{everything['p95']:.0f} ms, p99 {everything['p99']:.0f} ms")
    print(f"  {'turn':<16}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for kind, row in result["kinds"].items():
        print(f"  {kind:<16}{row['n']:>6}{row['p50']:>9.0f}{row['p95']:>9.0f}"
              f"{row['p99']:>9.0f}{row['errors']:>8}")
    for kind, sample in result["error_samples"].items():
        print(f"  first {kind} error: {sample}")
    print(f"  {'process':<16}{'count':>6}{'CPU % of a core':>17}{'RSS MB':>9}")
    for role, row in sorted(result["processes"].items()):
        print(f"  {role:<16}{row['count']:>6.0f}{row['cpu']:>17.0f}{row['rss']:>9.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running stack's Rasa address (default: start one)")
    parser.add_argument("--channel", choices=("rest", "widget", "both"), default="both")
    parser.add_argument("--customers", default="1,10,50",
                        help="comma-separated levels of concurrency (default 1,10,50)")
    parser.add_argument("--mix", choices=sorted(MIXES), default="mixed")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured per level")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured, per level")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds a customer waits between an answer and the next message")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    try:
        levels = [int(x) for x in args.customers.split(",")]
    except ValueError:
        parser.error("--customers takes numbers separated by commas, e.g. 1,10,50")
    channels = ["rest", "widget"] if args.channel == "both" else [args.channel]

    def run(url: str) -> list[dict[str, Any]]:
        results = []
        for channel in channels:
            for level in levels:
                result = asyncio.run(run_level(channel, url, level, args.mix, args.seconds,
                                               args.warmup, args.think))
                show(result)
                results.append(result)
        return results

    if args.url:
        results = run(args.url.rstrip("/"))
    else:
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            # Every simulated customer checks the same few orders at once: a look-up holds
            # one of its order's LOOKUP_ORDER_MAX_FAILURES slots while it is checked (so
            # parallel guesses cannot pass the limit), which 50 customers on one order fill.
            stack = start_stack(Path(folder), extra_env={"LOOKUP_ORDER_MAX_FAILURES": "1000"})
            print(f"stack ready in {time.perf_counter() - started:.1f} s at {stack.url}")
            try:
                results = run(stack.url)
            finally:
                stack.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
