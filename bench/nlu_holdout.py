"""Intent accuracy and macro-F1 per language on the held-out set (tests/nlu_holdout/).

The held-out examples were written apart from data/nlu/ and are never trained on.
Run with the Rasa environment after training: .venv-rasa/bin/python bench/nlu_holdout.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOBS = {"track_order", "cancel_order", "change_address", "report_lost_parcel", "return_item",
        "warranty_claim"}


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from bot.processes import StartError, newest_model  # noqa: PLC0415 - stdlib-only module

    try:
        models = [newest_model()]
    except StartError as exc:
        print(exc)
        return 1
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    print(f"model {models[-1].name}")
    print(f"{'language':<10}{'examples':>10}{'accuracy':>10}{'macro-F1':>10}{'weighted-F1':>13}"
          f"{'job -> faq':>12}")
    for holdout in sorted((ROOT / "tests" / "nlu_holdout").glob("*.yml")):
        out = ROOT / "results" / f"nlu-holdout-{holdout.stem}"
        subprocess.run(
            [str(ROOT / ".venv-rasa" / "bin" / "rasa"), "test", "nlu", "--nlu", str(holdout),
             "--model", str(models[-1]), "--out", str(out), "--no-plot"],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )
        report = json.loads((out / "intent_report.json").read_text())
        macro, weighted = report["macro avg"], report["weighted avg"]
        errors = json.loads((out / "intent_errors.json").read_text())
        # Examples labelled with a job that now go to the knowledge base: policy questions
        # under the router's rule (e.g. "how can i return a product"), counted apart.
        to_faq = sum(1 for e in errors if e["intent"] in JOBS
                     and e["intent_prediction"]["name"] == "faq")
        print(f"{holdout.stem:<10}{macro['support']:>10}{report['accuracy']:>10.3f}"
              f"{macro['f1-score']:>10.3f}{weighted['f1-score']:>13.3f}{to_faq:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
