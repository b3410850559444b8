"""How long a visitor of the website widget waits for an answer, measured in the page.

Starts the whole assistant on free ports (its own SQLite files in a temporary folder),
opens the demo shop page (/webhooks/widget/demo) in headless Chromium, opens the widget and
types N messages (a greeting and two knowledge-base questions in turn) into its input.
For each, the page itself times from the Enter key (a capturing keydown listener) until
the first bot bubble of the answer is added to the message list (a MutationObserver), with
performance.now(); so the figure includes the socket.io round trip, Rasa, the action
server and the widget's rendering, and nothing of Playwright. Messages go out at most one
every 1.8 s, under the channel's limit of 12 per 20 s per socket. Prints p50/p95/max.
Usage: .venv-services/bin/python bench/widget_latency.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import report
from bot.processes import start_stack
from tests import servers

PINNED_NOW = "2026-11-23T10:00:00+00:00"  # Monday 11:00 in Berlin
MESSAGES = {
    "greeting": "hello",
    "faq (en)": "do you accept paypal?",
    "faq (ru)": "сколько идёт стандартная доставка?",
}
MIN_GAP_S = 1.8

INSTALL = """() => {
    const root = document.querySelector('[data-supportchat]').shadowRoot;
    const log = root.querySelector('[data-testid="chat-log"]');
    const input = root.querySelector('[data-testid="chat-input"]');
    const bench = window.__bench = {start: null, samples: []};
    input.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' && !event.shiftKey) bench.start = performance.now();
    }, true);
    new MutationObserver((records) => {
        if (bench.start === null) return;
        for (const record of records) {
            for (const node of record.addedNodes) {
                if (node.nodeType === 1 && node.getAttribute('data-role') === 'bot') {
                    bench.samples.push(performance.now() - bench.start);
                    bench.start = null;
                    return;
                }
            }
        }
    }).observe(log, {childList: true});
}"""


def measure(url: str, rounds: int) -> None:
    kinds = list(MESSAGES)
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    with servers.chromium_browser(servers.chromium_path()) as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{url}/webhooks/widget/demo")
        page.get_by_test_id("chat-launcher").click()
        page.locator('[data-testid="chat-connection"][data-state="online"]').wait_for(
            state="attached", timeout=30_000)
        page.evaluate(INSTALL)
        chat_input = page.get_by_test_id("chat-input")
        last_sent = 0.0
        for n in range(rounds):
            kind = kinds[n % len(kinds)]
            chat_input.fill(MESSAGES[kind])
            time.sleep(max(0.0, last_sent + MIN_GAP_S - time.monotonic()))
            last_sent = time.monotonic()
            chat_input.press("Enter")
            page.wait_for_function(f"window.__bench.samples.length > {n}", timeout=60_000)
            samples[kind].append(page.evaluate(f"window.__bench.samples[{n}]"))
    everything = [value for values in samples.values() for value in values]
    print(f"\nWidget: Enter -> first answer bubble in the page, {rounds} messages "
          "(headless Chromium, loopback, 2 cores), milliseconds:")
    report("all messages", everything)
    for kind in kinds:
        if samples[kind]:
            report(kind, samples[kind])


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    folder = Path(tempfile.mkdtemp(prefix="bench-widget-"))
    stack = start_stack(folder, fixed_now=PINNED_NOW)
    try:
        measure(stack.url, rounds)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
