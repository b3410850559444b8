"""``python -m bot demo`` (``make demo``): a simulated day on a demo dashboard.

Starts the whole assistant with its own databases in ``var/demo/``, creates a supervisor
and three agents, runs ``bot.simulation`` (200 conversations by default) through it, prints
the day's metrics next to the values the script computed from its own record, and keeps
running so you can open the supervisor dashboard. Ctrl-C stops it.

The demo's pickup target is 30 s instead of 4 minutes (``--target``), so the late pickups
(and their alerts) happen within the run instead of after it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import processes as p
from bot.console_client import Console
from bot.day_record import Record, expected
from bot.simulation import Day

FOLDER = p.ROOT / "var" / "demo"
ROWS = (("conversations", "conversations"), ("escalated", "escalated"),
        ("contained", "contained"), ("containment_rate", None), ("fcr", "fcr"),
        ("fcr_rate", None), ("abandoned", "abandoned"), ("reopened", "reopened"),
        ("pickups", "pickups"), ("pickup_within_target", "pickup_within_target"),
        ("pickup_within_target_share", None), ("pickup_median_s", None),
        ("human_frt_median_s", None), ("human_frt_within_target_share", None),
        ("handle_median_s", None), ("assistant_frt_median_s", None),
        ("csat_responses", "csat_responses"), ("csat_mean", "csat_mean"),
        ("csat_assistant_mean", "csat_assistant_mean"), ("csat_human_mean", "csat_human_mean"),
        ("nps_responses", "nps_responses"), ("nps", "nps"))


def shop_morning(now: datetime) -> str:
    """10:00 UTC (11:00 in Berlin) on the latest weekday: the shop's rules run in agent
    hours, so escalations are picked up instead of waiting for the morning."""
    day = now.astimezone(UTC).date()
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return f"{day.isoformat()}T10:00:00+00:00"


def account(stack: p.Stack, username: str, role: str) -> tuple[str, str]:
    password = secrets.token_urlsafe(12)
    result = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [str(p.services_python()), "-m", "bot", "agent", "add", username, "--name",
         username.title(), "--max-chats", "20", "--role", role, "--password-stdin"],
        input=password + "\n", text=True, capture_output=True, env=stack.env, cwd=p.ROOT,
        check=False)
    if result.returncode != 0:
        raise p.StartError(f"cannot create {username}: {result.stderr.strip()}")
    return username, password


async def simulate(stack: p.Stack, agents: list[tuple[str, str]], total: int,
                   target: float) -> list[Record]:
    consoles = [Console(stack.handoff_url, user, password) for user, password in agents]
    for console in consoles:
        await console.login()
    day = Day(stack.url, consoles, target)
    try:
        return await day.run(total=total, returning=max(1, total // 20))
    finally:
        await day.close()
        for console in consoles:
            await console.close()


async def dashboard(stack: p.Stack, supervisor: tuple[str, str]) -> dict[str, Any]:
    console = Console(stack.handoff_url, *supervisor)
    try:
        await console.login()
        status, body = await console.call("GET", "/api/metrics")
        if status != 200:
            raise p.StartError(f"GET /api/metrics: {status} {body}")
        return dict(body)
    finally:
        await console.close()


def table(product: dict[str, Any], script: dict[str, Any]) -> str:
    lines = ["| metric | product | script |", "|---|---|---|"]
    for key, script_key in ROWS:
        value = product.get(key)
        lines.append(f"| {key} | {'' if value is None else value} | "
                     f"{script.get(script_key, '') if script_key else ''} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot demo", description=__doc__)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--target", type=float, default=30.0,
                        help="pickup target in seconds for the demo (production: 240)")
    parser.add_argument("--keep", action="store_true",
                        help="keep var/demo/ from an earlier run instead of starting afresh")
    parser.add_argument("--exit", action="store_true", help="stop after printing the table")
    args = parser.parse_args(argv)
    if args.conversations < 10:
        parser.error("--conversations must be at least 10")
    if not args.keep and FOLDER.exists():
        shutil.rmtree(FOLDER)
    FOLDER.mkdir(parents=True, exist_ok=True)
    print(f"[demo] starting the assistant in {FOLDER.relative_to(p.ROOT)}", flush=True)
    try:
        stack = p.start_stack(FOLDER, fixed_now=shop_morning(datetime.now(UTC)), sink=None,
                              extra_env={"HANDOFF_PICKUP_TARGET_SECONDS": str(int(args.target)),
                                         "LOG_LEVEL": "WARNING"})
    except p.StartError as exc:
        print(f"[demo] cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        supervisor = account(stack, "supervisor", "supervisor")
        agents = [account(stack, f"agent{i}", "agent") for i in range(1, 4)]
        started = time.monotonic()
        print(f"[demo] simulating {args.conversations} conversations...", flush=True)
        records = asyncio.run(simulate(stack, agents, args.conversations, args.target))
        problems = [r for r in records if r.problems]
        print(f"[demo] done in {time.monotonic() - started:.0f} s; "
              f"{len(problems)} conversation(s) with problems", flush=True)
        for record in problems[:5]:
            print(f"  {record.sender}: {record.problems}")
        time.sleep(2)  # the collector folds the last events in
        body = asyncio.run(dashboard(stack, supervisor))
        print(table(body["totals"], expected(records, args.target)))
        with urllib.request.urlopen(f"{stack.handoff_url}/health", timeout=10) as response:
            json.loads(response.read() or b"{}")
        print(f"\n[demo] supervisor dashboard: {stack.handoff_url}/console\n"
              f"[demo]   user {supervisor[0]!r}, password {supervisor[1]!r}\n"
              f"[demo]   agents: {', '.join(f'{u} / {pw}' for u, pw in agents)}", flush=True)
        if args.exit:
            return 0
        print("[demo] running; Ctrl-C stops", flush=True)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    except p.StartError as exc:
        print(f"[demo] {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
