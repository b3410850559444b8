"""Retrieval quality: recall@k and MRR on labelled questions, and false acceptance on CLINC150.

Two labelled files, kept apart on purpose:

* ``knowledge/eval/questions.yml``  held-out questions for ``python -m knowledge eval``;
* ``knowledge/tune/questions.yml``  questions for ``python -m knowledge calibrate`` only.

CLINC150 (CC BY 3.0, ``knowledge/data/clinc150``) supplies foreign requests: nothing in it is
an electronics shop's customer service, so every query that clears the threshold is a false
acceptance. The threshold is tuned on its validation splits, reported on its test splits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from knowledge.retrieval import Retriever
from knowledge.settings import KNOWLEDGE, LANGUAGES

EVAL_FILE = KNOWLEDGE / "eval" / "questions.yml"
TUNE_FILE = KNOWLEDGE / "tune" / "questions.yml"
CLINC_FILE = KNOWLEDGE / "data" / "clinc150" / "splits.json"
# CLINC150 intents that a shop assistant may fairly answer (greetings, "what can I ask you",
# order status...): left out of the foreign set used for tuning.
CLINC_NOT_FOREIGN = frozenset({
    "order_status", "order", "cancel", "what_can_i_ask_you", "are_you_a_bot", "greeting",
    "goodbye", "thank_you", "yes", "no", "maybe", "repeat", "who_do_you_work_for",
    "who_made_you", "what_is_your_name", "user_name", "change_language",
})


@dataclass(frozen=True)
class Question:
    text: str
    language: str
    articles: frozenset[str]  # acceptable answers; empty: nothing in the base answers it


def load_questions(path: Path) -> list[Question]:
    items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    questions = []
    for item in items:
        ids = set([item["article"]] if item.get("article") else []) | set(item.get("also") or [])
        questions.append(Question(str(item["q"]), str(item["lang"]), frozenset(ids)))
    return questions


def clinc_queries(split: str, *, foreign_only: bool = True) -> list[str]:
    data = json.loads(CLINC_FILE.read_text(encoding="utf-8"))
    return [text for text, intent in data[split]
            if not foreign_only or intent not in CLINC_NOT_FOREIGN]


@dataclass
class Ranked:
    question: Question
    ranking: list[str]  # article ids, best first
    score: float        # best article's score

    def rank(self) -> int | None:
        for position, article in enumerate(self.ranking, start=1):
            if article in self.question.articles:
                return position
        return None


def rank_all(retriever: Retriever, questions: list[Question], depth: int = 10) -> list[Ranked]:
    vectors = retriever.embedder.embed_queries([q.text for q in questions])
    out = []
    for question, vector in zip(questions, vectors, strict=True):
        answer = retriever.answer_vector(question.text, vector, question.language, limit=depth)
        out.append(Ranked(question, [h.article_id for h in answer.hits], answer.score))
    return out


def best_scores(retriever: Retriever, texts: Iterable[str]) -> np.ndarray:
    texts = list(texts)
    vectors = retriever.embedder.embed_queries(texts)
    return np.array([retriever.answer_vector(t, v, "en", limit=1).score
                     for t, v in zip(texts, vectors, strict=True)])


@dataclass(frozen=True)
class RecallReport:
    language: str
    questions: int
    recall_at_1: float
    recall_at_5: float
    mrr: float
    answered: float           # share at or above the threshold
    answered_correct: float   # share at or above the threshold with the right article first


def recall_report(ranked: list[Ranked], threshold: float) -> list[RecallReport]:
    reports = []
    for language in [*LANGUAGES, "all"]:
        rows = [r for r in ranked if language in ("all", r.question.language)]
        if not rows:
            continue
        ranks = [r.rank() for r in rows]
        n = len(rows)
        reports.append(RecallReport(
            language=language, questions=n,
            recall_at_1=sum(1 for k in ranks if k == 1) / n,
            recall_at_5=sum(1 for k in ranks if k is not None and k <= 5) / n,
            mrr=sum(1 / k for k in ranks if k) / n,
            answered=sum(1 for r in rows if r.score >= threshold) / n,
            answered_correct=sum(1 for r, k in zip(rows, ranks, strict=True)
                                 if k == 1 and r.score >= threshold) / n,
        ))
    return reports


@dataclass(frozen=True)
class Calibration:
    threshold: float
    far_val: float             # CLINC150 val + oos_val, foreign intents
    unanswerable_accepted: float
    correct_accepted: float    # tune questions answered with the right article
    wrong_accepted: float      # tune questions answered with a wrong article


def calibrate(retriever: Retriever, far_budget: float = 0.05) -> Calibration:
    """The lowest threshold whose false acceptance on CLINC150 validation is within budget.

    Lowest, because every point above it turns away shop questions the base can answer;
    the budget bounds how often a foreign question gets a confident shop answer.
    """
    tune = load_questions(TUNE_FILE)
    answerable = [q for q in tune if q.articles]
    unanswerable = [q for q in tune if not q.articles]
    ranked = rank_all(retriever, answerable, depth=1)
    foreign = best_scores(retriever, clinc_queries("val") + clinc_queries("oos_val"))
    null_scores = best_scores(retriever, [q.text for q in unanswerable])
    chosen = 1.0
    for threshold in np.arange(0.70, 0.95, 0.0025):
        if float(np.mean(foreign >= threshold)) <= far_budget:
            chosen = float(threshold)
            break
    chosen = round(chosen, 4)
    correct = [r.score >= chosen and r.rank() == 1 for r in ranked]
    wrong = [r.score >= chosen and r.rank() != 1 for r in ranked]
    return Calibration(threshold=chosen,
                       far_val=float(np.mean(foreign >= chosen)),
                       unanswerable_accepted=float(np.mean(null_scores >= chosen))
                       if len(null_scores) else 0.0,
                       correct_accepted=float(np.mean(correct)),
                       wrong_accepted=float(np.mean(wrong)))
