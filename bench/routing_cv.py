"""How to tell a question from a request: the router's variants, cross-validated on the
NLU training data (faq = question, the six jobs = request), never on the held-out sets.

Variants: the cues alone as rules (a request has an order reference, "I want", "can you"
with "my", a fault, a command, or "my" without a how-to frame), the logistic regression
on n-grams only, on cues only, and on both (what the router uses). Prints accuracy, the
share of questions kept as questions and of requests kept as requests, per language, from
5-fold cross-validation stratified by label and language, for a few regularisations.

Then the router as trained (all the NLU data, n-grams + cues, config.yml's regularisation)
on the tuning set tests/routing_dev/, question vs request only, without DIET (`make
eval-routing` with `--set tests/routing_dev` runs the whole model); and the cue rules there.

Usage: .venv-services/bin/python bench/routing_cv.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import yaml
from sklearn.model_selection import StratifiedKFold

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rasa_plugins.nlu.cues import cues  # noqa: E402
from rasa_plugins.nlu.features import fit_router  # noqa: E402

JOBS = {"track_order", "cancel_order", "change_address", "report_lost_parcel", "return_item",
        "warranty_claim"}


def training_examples() -> list[tuple[str, str, int]]:
    rows = []
    for path in sorted((ROOT / "data" / "nlu").glob("*/*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            intent = block.get("intent")
            if intent != "faq" and intent not in JOBS:
                continue
            for line in str(block.get("examples", "")).splitlines():
                text = line.strip()[2:].strip() if line.strip().startswith("- ") else ""
                if text:
                    rows.append((path.parent.name, text, int(intent in JOBS)))
    return rows


def rules(text: str) -> int:
    c = cues(text)
    return int(c["order_ref"] or c["want"] or c["fault"] or c["imperative"]
               or (c["ask_action"] and c["possessive"])
               or (c["possessive"] and not c["generic_frame"]) or c["past_event"])


def report(name: str, langs: np.ndarray, y: np.ndarray, predicted: np.ndarray) -> None:
    cells = []
    for lang in ("en", "ru", "uk"):
        m = langs == lang
        q, r = m & (y == 0), m & (y == 1)
        cells.append(f"{lang} acc {np.mean(predicted[m] == y[m]):.3f} "
                     f"q {np.mean(predicted[q] == 0):.3f} r {np.mean(predicted[r] == 1):.3f}")
    print(f"{name:<28}" + " | ".join(cells))


def main() -> int:
    rows = training_examples()
    langs = np.array([r[0] for r in rows])
    texts = [r[1] for r in rows]
    y = np.array([r[2] for r in rows])
    print(f"{len(rows)} training examples: {int((y == 0).sum())} questions, "
          f"{int(y.sum())} requests; 5-fold cross-validation")
    report("rules on cues", langs, y, np.array([rules(t) for t in texts]))
    strata = np.array([f"{a}{b}" for a, b in zip(langs, y, strict=True)])
    folds = list(StratifiedKFold(5, shuffle=True, random_state=7).split(texts, strata))
    variants = [("n-grams", True, False, 1.0), ("cues", False, True, 1.0),
                ("n-grams + cues, C=0.3", True, True, 0.3),
                ("n-grams + cues, C=1", True, True, 1.0),
                ("n-grams + cues, C=3", True, True, 3.0),
                ("n-grams + cues, C=10", True, True, 10.0)]
    for name, ngrams, with_cues, c in variants:
        predicted = np.zeros(len(texts), dtype=int)
        for train, test in folds:
            model = fit_router([texts[i] for i in train], y[train], c, ngrams, with_cues)
            predicted[test] = model.predict([texts[i] for i in test]) >= 0.5
        report(name, langs, y, predicted)
    dev_report(texts, y)
    return 0


def dev_examples() -> list[tuple[str, str, int]]:
    rows = []
    for path in sorted((ROOT / "tests" / "routing_dev").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            rows.append((path.stem, str(item["text"]), int(item["label"] == "request")))
    return rows


def router_regularisation() -> float:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"].endswith("RequestRouter"):
            return float(component.get("regularisation", 1.0))
    raise SystemExit("config.yml has no RequestRouter")


def dev_report(texts: list[str], y: np.ndarray) -> None:
    dev = dev_examples()
    langs = np.array([r[0] for r in dev])
    dev_y = np.array([r[2] for r in dev])
    print(f"\ntuning set tests/routing_dev: {len(dev)} messages, trained on all the NLU data")
    model = fit_router(texts, y, router_regularisation())
    report("router (n-grams + cues)", langs, dev_y,
           (model.predict([r[1] for r in dev]) >= 0.5).astype(int))
    report("rules on cues", langs, dev_y, np.array([rules(r[1]) for r in dev]))


if __name__ == "__main__":
    sys.exit(main())
