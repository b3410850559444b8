"""Command line of the sentiment classifier.

    python -m sentiment train   fit on sentiment/data/train (regularisation chosen by
                                cross-validation on the training data only)
    python -m sentiment eval    per-class F1 per language on sentiment/data/heldout; angry
                                recall and calm messages escalated per language on
                                tests/sentiment_heldout; the cost per message
    python -m sentiment score "text" [...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from knowledge.embedder import Embedder
from knowledge.settings import ROOT, KnowledgeSettings
from sentiment.model import (
    CLASSES,
    LABELS,
    Example,
    Sentiment,
    SentimentModel,
    SentimentModelError,
    data_digest,
    features,
    load_examples,
    train,
)

# (n-gram weight, C) pairs tried by cross-validation: the embedding alone (weight 0) at a
# few regularisations, and with the n-grams (fits over 500k sparse columns are slower).
GRID = ((0.0, 4.0), (0.0, 16.0), (0.0, 64.0), (0.5, 4.0), (0.5, 16.0), (1.0, 16.0))


def model_file() -> Path:
    return Path(os.environ.get("SENTIMENT_MODEL_FILE",
                               ROOT / "models" / "sentiment" / "classifier.json"))


def _say(message: str) -> None:
    print(f"[sentiment] {message}", file=sys.stderr, flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    path = model_file()
    settings = KnowledgeSettings.from_env()
    if not args.force and path.is_file():
        try:
            current = SentimentModel.load(path)
            from knowledge.embedder import model_id_for

            if current.model_id == model_id_for(settings) and current.data == data_digest():
                _say(f"classifier at {path} is up to date")
                return 0
        except SentimentModelError:
            pass
    started = time.monotonic()
    embedder = Embedder(settings)
    examples = load_examples("train")
    _say(f"embedding {len(examples)} training messages")
    vectors = embedder.embed_queries([e.text for e in examples])
    targets = np.array([CLASSES.index(e.target) for e in examples])
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=7)
    best, best_scale, best_score = GRID[0][1], 0.0, -1.0
    texts = [e.text for e in examples]
    for scale, c in GRID:
        x = features(vectors, texts, scale) if scale else vectors
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        score = float(np.mean(cross_val_score(model, x, targets, cv=folds, scoring="f1_macro",
                                              n_jobs=2)))
        _say(f"n-gram weight {scale}, C={c}: cross-validated macro-F1 {score:.3f}")
        if score > best_score:
            best, best_scale, best_score = c, scale, score
    classifier = train(embedder, examples, best, vectors=vectors, scale=best_scale)
    classifier.save(path)
    _say(f"trained with n-gram weight {best_scale}, C={best} in "
         f"{time.monotonic() - started:.0f} s: {path}")
    return 0


def cmd_eval(_args: argparse.Namespace) -> int:
    from sklearn.metrics import classification_report, f1_score

    settings = KnowledgeSettings.from_env()
    embedder = Embedder(settings)
    classifier = SentimentModel.load(model_file())
    examples = load_examples("heldout")
    results = classifier.score(embedder, [e.text for e in examples])
    print(f"held-out messages: sentiment/data/heldout ({len(examples)}), never trained on")
    print(f"{'lang':<5}{'n':>5}" + "".join(f"{'F1 ' + x[:3]:>9}" for x in LABELS)
          + f"{'macro':>8}{'acc':>7}{'strong':>8}")
    for language in ("en", "ru", "uk", "all"):
        rows = [(e, r) for e, r in zip(examples, results, strict=True)
                if language in ("all", e.language)]
        truth = [e.label for e, _ in rows]
        predicted = [r.label for _, r in rows]
        per_class = f1_score(truth, predicted, labels=list(LABELS), average=None)
        macro = f1_score(truth, predicted, labels=list(LABELS), average="macro")
        accuracy = np.mean([t == p for t, p in zip(truth, predicted, strict=True)])
        strong_truth = [e.label == "negative" and e.strong for e, _ in rows]
        strong_predicted = [r.strong >= 0.5 for _, r in rows]
        strong_f1 = f1_score(strong_truth, strong_predicted)
        print(f"{language:<5}{len(rows):>5}" + "".join(f"{x:>9.3f}" for x in per_class)
              + f"{macro:>8.3f}{accuracy:>7.3f}{strong_f1:>8.3f}")
    truth = [e.label for e in examples]
    print(classification_report(truth, [r.label for r in results], digits=3))
    kinds: dict[str, list[bool]] = {}
    for example, result in zip(examples, results, strict=True):
        kinds.setdefault(example.kind, []).append(example.label == result.label)
    print("accuracy by kind: " + ", ".join(
        f"{k} {np.mean(v):.2f} ({len(v)})" for k, v in sorted(kinds.items())))
    _escalation_report(examples, results)
    _anger_report(embedder, classifier)
    timings = []
    for example in examples[:200]:
        started = time.perf_counter()
        classifier.score(embedder, [example.text])
        timings.append((time.perf_counter() - started) * 1000)
    print(f"cost per message (embedding + classifier, {len(timings)} sequential): "
          f"p50 {np.percentile(timings, 50):.1f} ms, p95 {np.percentile(timings, 95):.1f} ms")
    return 0


def _escalation_report(examples: list[Example], results: list[Sentiment]) -> None:
    """What the handoff triggers would do with each held-out message, at their settings."""
    from actions.settings import ActionSettings

    settings = ActionSettings.from_env()
    print(f"handoff triggers (HANDOFF_STRONG_NEGATIVE {settings.strong_negative}, "
          f"HANDOFF_NEGATIVE_THRESHOLD {settings.negative_threshold}):")
    for language in ("en", "ru", "uk", "all"):
        rows = [(e, r) for e, r in zip(examples, results, strict=True)
                if language in ("all", e.language)]
        at_once = [r.label == "negative" and r.strong >= settings.strong_negative
                   for _, r in rows]
        counts = [r.label == "negative" and r.score >= settings.negative_threshold
                  for _, r in rows]
        strong = [i for i, (e, _) in enumerate(rows) if e.label == "negative" and e.strong]
        calm = [i for i, (e, _) in enumerate(rows) if e.label != "negative"]
        print(f"  {language:<4} strongly negative escalated at once "
              f"{np.mean([at_once[i] for i in strong]):.2f} ({len(strong)}); "
              f"not negative but escalated at once {np.mean([at_once[i] for i in calm]):.3f}, "
              f"counted negative {np.mean([counts[i] for i in calm]):.3f} ({len(calm)})")


ANGER_SET = ROOT / "tests" / "sentiment_heldout"


def _anger_report(embedder: Embedder, classifier: SentimentModel) -> None:
    """Angry vs calm messages (tests/sentiment_heldout, written apart from the training
    data): what the handoff trigger does with each, per language and per kind."""
    import yaml

    from actions.settings import ActionSettings

    settings = ActionSettings.from_env()
    rows = []
    for path in sorted(ANGER_SET.glob("*.yml")):
        rows += [(path.stem, item) for item in yaml.safe_load(path.read_text("utf-8")) or []]
    if not rows:
        return
    results = classifier.score(embedder, [str(item["text"]) for _, item in rows])
    print(f"angry vs calm ({ANGER_SET.relative_to(ROOT)}, {len(rows)} messages, never trained "
          f"on): 'at once' = P(strong) >= {settings.strong_negative}, 'counted' = negative >= "
          f"{settings.negative_threshold} (two in a row escalate)")
    print(f"{'lang':<5}{'angry':>6}{'recall at once':>16}{'recall counted':>16}{'calm':>6}"
          f"{'calm at once':>14}{'calm counted':>14}")
    misses: dict[str, int] = {}
    for language in ("en", "ru", "uk", "all"):
        angry: list[tuple[bool, bool]] = []
        calm: list[tuple[bool, bool]] = []
        for (lang, item), r in zip(rows, results, strict=True):
            if language not in ("all", lang):
                continue
            at_once = r.label == "negative" and r.strong >= settings.strong_negative
            counted = r.label == "negative" and r.score >= settings.negative_threshold
            (angry if item["label"] == "angry" else calm).append((at_once, counted))
            wrong = (not at_once) if item["label"] == "angry" else counted
            if wrong and language == "all":
                key = f"{item['label']}/{item.get('kind', '')}"
                misses[key] = misses.get(key, 0) + 1
        print(f"{language:<5}{len(angry):>6}{np.mean([a for a, _ in angry]):>16.3f}"
              f"{np.mean([c for _, c in angry]):>16.3f}{len(calm):>6}"
              f"{np.mean([a for a, _ in calm]):>14.3f}{np.mean([c for _, c in calm]):>14.3f}")
    print("misses by kind (angry not escalated at once, calm counted negative): "
          + (", ".join(f"{k} {v}" for k, v in sorted(misses.items())) or "none"))


def cmd_score(args: argparse.Namespace) -> int:
    embedder = Embedder(KnowledgeSettings.from_env())
    classifier = SentimentModel.load(model_file())
    for text, result in zip(args.texts, classifier.score(embedder, args.texts), strict=True):
        print(f"{result.label:<9}{result.score:.2f}  negative {result.negative:.2f}  "
              f"strong {result.strong:.2f}  {text}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentiment", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train")
    p.add_argument("--force", action="store_true")
    sub.add_parser("eval")
    p = sub.add_parser("score")
    p.add_argument("texts", nargs="+")
    args = parser.parse_args(argv)
    try:
        return {"train": cmd_train, "eval": cmd_eval, "score": cmd_score}[args.command](args)
    except (SentimentModelError, RuntimeError, ValueError) as exc:
        _say(f"error: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
