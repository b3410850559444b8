"""REST round-trip latency of messages that run custom actions.

Starts the assistant on free ports (its own SQLite files in a temporary folder), then
times, over HTTP, N conversations of two kinds of turns that each call the action server:
  * "handoff": "I want to talk to a person" (language detection + action_human_handoff)
  * "verify":  the contact details that complete an order look-up (form validation,
               shop query, status, delivery estimate)
  * "faq":     a question answered from the knowledge base (embedding + search in the
               action server's worker thread), English and Russian in turn
Prints p50/p95/max per kind. Usage: .venv-services/bin/python bench/rest_latency.py [N]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import percentile
from bot.processes import start_stack


def post(url: str, sender: str, message: str) -> float:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(f"{url}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory() as folder:
        stack = start_stack(Path(folder))
        try:
            for i in range(5):  # warm-up
                post(stack.url, f"warm-{i}", "hello")
            timings: dict[str, list[float]] = {"handoff": [], "verify": [], "faq": []}
            questions = ["can i pay in instalments?",
                         "можно вернуть наушники, если я их уже открыл?"]
            for i in range(count):
                timings["handoff"].append(post(stack.url, f"h-{i}", "I want to talk to a person"))
                sender = f"v-{i}"
                post(stack.url, sender, "where is my order ORB-104388")
                timings["verify"].append(post(stack.url, sender, "ivan.petrov@example.ru"))
                timings["faq"].append(post(stack.url, f"f-{i}", questions[i % 2]))
        finally:
            stack.stop()
    print(f"REST round trip, {count} conversations per kind, sequential, loopback")
    print(f"{'turn':<10}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'mean ms':>10}")
    for kind, values in timings.items():
        print(f"{kind:<10}{percentile(values, 0.5):>10.1f}{percentile(values, 0.95):>10.1f}"
              f"{max(values):>10.1f}{statistics.fmean(values):>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
