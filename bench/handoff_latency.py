"""How fast a handoff reaches a person, and a person's reply reaches the customer.

Starts the whole assistant (Rasa, action server, handoff service) on free ports with its
own SQLite files, logs an agent into the console API with a live WebSocket, then for N
customers over REST:
  * escalation -> console: from the customer sending "I want to talk to a person" until
    the console, woken by its WebSocket, lists the chat (also shown: from the moment the
    customer's REST call returned);
  * agent reply -> customer: from the agent's POST of a reply until the customer's long
    poll (GET /webhooks/rest/messages) returns it.
Each chat is claimed, answered and resolved. Prints p50/p95/max in milliseconds.
Usage: .venv-services/bin/python bench/handoff_latency.py [N]
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import report
from bot.processes import ROOT, services_python, start_stack

PINNED_NOW = "2026-11-23T10:00:00+00:00"  # Monday 11:00 in Berlin: agents at work
PASSWORD = "bench-password-" + uuid.uuid4().hex


class Agent:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base, self.csrf = http, base, ""

    async def login(self) -> None:
        async with self.http.get(f"{self.base}/console/login") as response:
            await response.read()
        cookie = self.http.cookie_jar.filter_cookies(URL(self.base))["handoff_csrf"].value
        await self.post("/api/login", {"username": "bench", "password": PASSWORD}, cookie)
        async with self.http.get(f"{self.base}/api/me") as response:
            self.csrf = (await response.json())["csrf_token"]

    async def post(self, path: str, body: Any, csrf: str | None = None) -> Any:
        async with self.http.post(f"{self.base}{path}", json=body,
                                  headers={"X-CSRF-Token": csrf or self.csrf}) as response:
            data = await response.json()
            if response.status >= 400:
                raise RuntimeError(f"{path}: {response.status} {data}")
            return data

    async def ticket_of(self, conversation: str) -> dict[str, Any] | None:
        async with self.http.get(f"{self.base}/api/queue") as response:
            tickets = (await response.json())["tickets"]
        return next((t for t in tickets if t["conversation_id"] == conversation), None)


async def measure(rasa: str, console: str, rounds: int) -> None:
    escalation_ms, after_reply_ms, reply_ms = [], [], []
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession() as customer, aiohttp.ClientSession(cookie_jar=jar) as http:
        agent = Agent(http, console)
        await agent.login()
        ws = await http.ws_connect(f"{console.replace('http', 'ws')}/api/ws",
                                   headers={"Origin": console})
        for n in range(rounds):
            sender = f"bench-{n}-{uuid.uuid4().hex[:8]}"
            async with customer.post(f"{rasa}/webhooks/rest/webhook",
                                     json={"sender": sender, "message": "hello"}) as r:
                await r.read()
            started = time.perf_counter()
            async with customer.post(f"{rasa}/webhooks/rest/webhook", json={
                    "sender": sender, "message": "I want to talk to a person"}) as r:
                await r.read()
            answered = time.perf_counter()
            ticket = None
            while ticket is None:
                frame = await ws.receive(timeout=30)
                if frame.type == aiohttp.WSMsgType.TEXT and json.loads(frame.data)["type"] in (
                        "queue", "ticket"):
                    ticket = await agent.ticket_of(sender)
            seen = time.perf_counter()
            escalation_ms.append((seen - started) * 1000)
            after_reply_ms.append((seen - answered) * 1000)
            await agent.post(f"/api/tickets/{ticket['id']}/claim", {})
            cursor = time.time() - 0.001

            async def poll(after: float = cursor, who: str = sender) -> float:
                while True:
                    url = f"{rasa}/webhooks/rest/messages?sender={who}&after={after}&wait=20"
                    async with customer.get(url) as response:
                        body = await response.json()
                    for message in body["messages"]:
                        if message["from"] == "agent":
                            return time.perf_counter()
                    after = body["cursor"]

            waiter = asyncio.create_task(poll())
            await asyncio.sleep(0.3)  # the long poll is waiting, as a customer's would be
            sent = time.perf_counter()
            await agent.post(f"/api/tickets/{ticket['id']}/messages",
                             {"text": f"Hello, this is reply {n}"})
            reply_ms.append((await waiter - sent) * 1000)
            await agent.post(f"/api/tickets/{ticket['id']}/resolve", {})
        await ws.close()
    print(f"\nHandoff latency over {rounds} conversations (loopback, 2 cores), milliseconds:")
    report("escalation -> in the console (from message)", escalation_ms, 44, 7)
    report("escalation -> in the console (from reply)", after_reply_ms, 44, 7)
    report("agent reply -> customer's long poll", reply_ms, 44, 7)


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    folder = Path(tempfile.mkdtemp(prefix="bench-handoff-"))
    stack = start_stack(folder, fixed_now=PINNED_NOW)
    try:
        subprocess.run([str(services_python()), "-m", "bot", "agent", "add", "bench", "--name",
                        "Bench", "--max-chats", "5", "--password-stdin"],
                       input=PASSWORD + "\n", text=True, env=stack.env, cwd=ROOT, check=True,
                       capture_output=True)
        asyncio.run(measure(stack.url, stack.handoff_url, rounds))
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
