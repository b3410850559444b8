"""Sentiment of a customer message: negative / neutral / positive, with how strongly negative.

A multinomial logistic regression on the knowledge base's multilingual embeddings (the same
encoder, so one model serves both and costs one embedding per message), trained on the
labelled messages in ``sentiment/data/train/<lang>.yml``. It predicts four classes:
positive, neutral, negative (mild) and negative (strong: anger, insults, threats, swearing);
``negative`` is the sum of the two negative ones and ``strong`` is the strong share.

The trained weights are stored as JSON (``models/sentiment/classifier.json``), never as a
pickle, together with the embedding model id they were trained on: a server refuses a
classifier trained on other embeddings, as it refuses such an index.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from knowledge.retrieval import QueryEmbedder

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "sentiment" / "data"
CLASSES = ("positive", "neutral", "negative_mild", "negative_strong")
LABELS = ("negative", "neutral", "positive")


class SentimentModelError(RuntimeError):
    """The classifier is missing or does not fit the embedding model."""


@dataclass(frozen=True)
class Example:
    text: str
    language: str
    label: str          # negative / neutral / positive
    strong: bool        # a strongly negative message
    kind: str

    @property
    def target(self) -> str:
        if self.label == "negative":
            return "negative_strong" if self.strong else "negative_mild"
        return self.label


@dataclass(frozen=True)
class Sentiment:
    label: str                 # negative / neutral / positive
    score: float               # probability of that label
    negative: float            # probability of negative (mild + strong)
    strong: float              # probability of strongly negative

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 4),
                "negative": round(self.negative, 4), "strong": round(self.strong, 4)}


def load_examples(split: str, languages: Sequence[str] = ("en", "ru", "uk")) -> list[Example]:
    examples = []
    for language in languages:
        path = DATA / split / f"{language}.yml"
        for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            examples.append(Example(str(item["text"]), language, str(item["label"]),
                                    item.get("strength") == "strong", str(item.get("kind", ""))))
    return examples


def data_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((DATA / "train").glob("*.yml")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class SentimentModel:
    """Softmax(W x + b) over an embedding; W and b come from scikit-learn's fit."""

    weights: np.ndarray   # (classes, dimension)
    bias: np.ndarray      # (classes,)
    classes: tuple[str, ...]
    model_id: str         # the embedding model the weights were trained on
    data: str             # digest of the training files

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))

    def judge(self, probabilities: np.ndarray) -> Sentiment:
        p = dict(zip(self.classes, (float(x) for x in probabilities), strict=True))
        three = {"negative": p["negative_mild"] + p["negative_strong"],
                 "neutral": p["neutral"], "positive": p["positive"]}
        label = max(three, key=lambda k: three[k])
        return Sentiment(label, three[label], three["negative"], p["negative_strong"])

    def score(self, embedder: QueryEmbedder, texts: Sequence[str]) -> list[Sentiment]:
        if embedder.model_id != self.model_id:
            raise SentimentModelError(
                f"the sentiment classifier was trained on {self.model_id} but the embeddings "
                f"are {embedder.model_id}: run `python -m sentiment train`")
        probabilities = self.probabilities(embedder.embed_queries(list(texts)))
        return [self.judge(row) for row in probabilities]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({
            "classes": list(self.classes), "model_id": self.model_id, "data": self.data,
            "bias": self.bias.tolist(), "weights": self.weights.tolist()}), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> SentimentModel:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SentimentModelError(f"no sentiment classifier at {path}: run "
                                      "`python -m sentiment train` (make setup does it)") from exc
        return cls(np.asarray(raw["weights"], dtype=np.float32),
                   np.asarray(raw["bias"], dtype=np.float32), tuple(raw["classes"]),
                   str(raw["model_id"]), str(raw["data"]))


def train(embedder: QueryEmbedder, examples: list[Example], regularisation: float,
          vectors: np.ndarray | None = None) -> SentimentModel:
    """Fit on ``examples``; ``vectors`` are their embeddings when the caller already has them."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - training only

    if vectors is None:
        vectors = embedder.embed_queries([e.text for e in examples])
    targets = np.array([CLASSES.index(e.target) for e in examples])
    classifier = LogisticRegression(C=regularisation, max_iter=2000, class_weight="balanced")
    classifier.fit(vectors, targets)
    order = [list(classifier.classes_).index(i) for i in range(len(CLASSES))]
    return SentimentModel(np.asarray(classifier.coef_[order], dtype=np.float32),
                          np.asarray(classifier.intercept_[order], dtype=np.float32),
                          CLASSES, embedder.model_id, data_digest())
