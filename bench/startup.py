"""Start to ready: how long the whole stack takes from launch to answering, and each part.

Starts the stack as ``make run`` does (a trained model must be present; the knowledge index
is checked and rebuilt only when stale), several times, and prints per run the seconds from
launch until each process answered its readiness check (Rasa: model loaded; action server
and handoff service: /health) and the whole stack was ready, then the median and the
worst, and each process's resident memory once ready.

    .venv-services/bin/python bench/startup.py            # 3 starts
    .venv-services/bin/python bench/startup.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import rss_mb
from bot.processes import start_stack


def one_start() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        launched = time.monotonic()
        stack = start_stack(Path(folder), sink=None)
        try:
            whole = time.monotonic() - launched
            figures = {"stack": whole}
            for managed in (stack.rasa, stack.actions, stack.handoff):
                ready = managed.seconds_to_ready
                figures[managed.name] = ready if ready is not None else float("nan")
                figures[f"{managed.name} MB"] = rss_mb(managed.process.pid)
            return figures
        finally:
            stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for number in range(1, args.runs + 1):
        figures = one_start()
        runs.append(figures)
        print(f"start {number}: stack {figures['stack']:5.1f} s  "
              + "  ".join(f"{name} {figures[name]:5.1f} s ({figures[name + ' MB']:.0f} MB)"
                          for name in ("rasa", "actions", "handoff")), flush=True)
    for name in ("stack", "rasa", "actions", "handoff"):
        values = [r[name] for r in runs]
        print(f"{name:<8} median {statistics.median(values):5.1f} s  worst {max(values):5.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
