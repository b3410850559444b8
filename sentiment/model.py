"""Sentiment of a customer message: negative / neutral / positive, with how strongly negative.

A multinomial logistic regression on the knowledge base's multilingual embeddings (the same
encoder, so one model serves both and costs one embedding per message), trained on the
labelled messages in ``sentiment/data/train/<lang>.yml``. It predicts four classes:
positive, neutral, negative (mild) and negative (strong: anger, insults, threats, swearing);
``negative`` is the sum of the two negative ones and ``strong`` is the strong share.

Next to the embedding, the same regression reads the message's own words: hashed word
unigrams and bigrams and character n-grams. The embedding knows what a message is about;
irony and rhetorical anger live in a few words the embedding averages away ("thanks for
nothing", "спасибо, конечно, за очередной...", "вы издеваетесь?!"), and the n-grams keep
them. The hashing is stateless, so only the weights of features seen in training are kept.

What the classifier reads is the message with its repetition folded: a character repeated
more than three times, or a short group of characters repeated more than twice, counts as
three or two ("!!!!!!!!" reads as "!!!", four thousand "🙂" as three), so flooding a
message does not push it to the edge of the model's inputs. A message without a single
letter (only emoji, digits, punctuation) has no words for the model to read: it is neutral
unless it carries an anger symbol (😡 🤬 👎 ...), which makes it mildly negative, never
strongly (two such messages in a row still escalate).

The trained weights are stored as JSON (``models/sentiment/classifier.json``), never as a
pickle, together with the embedding model id they were trained on: a server refuses a
classifier trained on other embeddings, as it refuses such an index.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from knowledge.retrieval import QueryEmbedder

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "sentiment" / "data"
CLASSES = ("positive", "neutral", "negative_mild", "negative_strong")
LABELS = ("negative", "neutral", "positive")


LEXICAL_FEATURES = 2**18
# The n-gram block's weight next to the embedding (each block has unit norm per text).
LEXICAL_SCALE = 0.5
_WORDS = HashingVectorizer(n_features=LEXICAL_FEATURES, ngram_range=(1, 2), alternate_sign=False,
                           norm="l2", token_pattern=r"(?u)\b\w+\b|[?!]+")  # noqa: S106
_CHARS = HashingVectorizer(n_features=LEXICAL_FEATURES, analyzer="char_wb", ngram_range=(2, 4),
                           alternate_sign=False, norm="l2", lowercase=False)


def lexical_features(texts: Sequence[str]) -> sparse.csr_matrix:
    """Word (lowercased, "?!" kept as a token) and character (case kept: shouting) n-grams."""
    return sparse.hstack([_WORDS.transform(texts), _CHARS.transform(texts)], format="csr")


def features(vectors: np.ndarray, texts: Sequence[str], scale: float) -> sparse.csr_matrix:
    return sparse.hstack([sparse.csr_matrix(vectors), lexical_features(texts) * scale],
                         format="csr")


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


_RUN = re.compile(r"(.)\1{3,}", re.DOTALL)
_GROUP = re.compile(r"(.{2,8}?)\1{2,}", re.DOTALL)
ANGER_SYMBOLS = frozenset("😡🤬😠👎💢🖕😤")
# What a wordless message with an anger symbol counts as: negative at the escalation
# threshold's default, so two in a row escalate and one does not.
WORDLESS_ANGER = 0.75


def readable(text: str) -> str:
    """The text the classifier reads: runs and repeated groups folded (see the module)."""
    return _GROUP.sub(r"\1\1", _RUN.sub(r"\1\1\1", text))


def has_words(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def wordless(text: str) -> Sentiment:
    """The reading of a message without letters: by its anger symbols, never strong."""
    if ANGER_SYMBOLS.intersection(text):
        return Sentiment("negative", WORDLESS_ANGER, WORDLESS_ANGER, 0.0)
    return Sentiment("neutral", 1.0, 0.0, 0.0)


def load_examples(split: str, languages: Sequence[str] = ("en", "ru", "uk")) -> list[Example]:
    examples = []
    for language in languages:
        path = DATA / split / f"{language}.yml"
        for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            examples.append(Example(str(item["text"]), language, str(item["label"]),
                                    item.get("strength") == "strong", str(item.get("kind", ""))))
    return examples


TRAINER = b"embedding+ngrams-1"  # a new way of training makes every classifier stale


def data_digest() -> str:
    digest = hashlib.sha256(TRAINER)
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
    # (2 x LEXICAL_FEATURES, classes), a row per n-gram: the product with a message's
    # sparse n-grams reads only the rows it has. None: the embedding alone.
    lexical: np.ndarray | None = None
    lexical_scale: float = LEXICAL_SCALE

    def probabilities(self, vectors: np.ndarray,
                      texts: Sequence[str] | None = None) -> np.ndarray:
        logits = vectors @ self.weights.T + self.bias
        if self.lexical is not None and texts is not None:
            logits = logits + np.asarray(
                (lexical_features(texts) * self.lexical_scale) @ self.lexical)
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
        results: list[Sentiment | None] = [None if has_words(t) else wordless(t) for t in texts]
        worded = [readable(t) for t, r in zip(texts, results, strict=True) if r is None]
        if worded:
            rows = iter(self.probabilities(embedder.embed_queries(worded), worded))
            results = [r if r is not None else self.judge(next(rows)) for r in results]
        return [r for r in results if r is not None]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        lexical = None
        if self.lexical is not None:
            seen = np.flatnonzero(np.any(self.lexical != 0, axis=1))
            lexical = {"scale": self.lexical_scale, "features": LEXICAL_FEATURES,
                       "weights": {str(int(i)): [round(float(x), 5) for x in self.lexical[i]]
                                   for i in seen}}
        tmp.write_text(json.dumps({
            "classes": list(self.classes), "model_id": self.model_id, "data": self.data,
            "bias": self.bias.tolist(), "weights": self.weights.tolist(),
            "lexical": lexical}), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> SentimentModel:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SentimentModelError(f"no sentiment classifier at {path}: run "
                                      "`python -m sentiment train` (make setup does it)") from exc
        lexical, scale = None, LEXICAL_SCALE
        if raw.get("lexical"):
            if raw["lexical"].get("features") != LEXICAL_FEATURES:
                raise SentimentModelError(f"the sentiment classifier at {path} was trained "
                                          "with other n-grams: run `python -m sentiment train`")
            scale = float(raw["lexical"]["scale"])
            lexical = np.zeros((2 * LEXICAL_FEATURES, len(raw["classes"])), dtype=np.float32)
            for index, row in raw["lexical"]["weights"].items():
                lexical[int(index)] = row
        return cls(np.asarray(raw["weights"], dtype=np.float32),
                   np.asarray(raw["bias"], dtype=np.float32), tuple(raw["classes"]),
                   str(raw["model_id"]), str(raw["data"]), lexical, scale)


def train(embedder: QueryEmbedder, examples: list[Example], regularisation: float,
          vectors: np.ndarray | None = None, scale: float = LEXICAL_SCALE) -> SentimentModel:
    """Fit on ``examples``; ``vectors`` are their embeddings when the caller already has them.
    ``scale`` 0 leaves the n-grams out (the embedding alone)."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - training only

    if vectors is None:
        vectors = embedder.embed_queries([e.text for e in examples])
    targets = np.array([CLASSES.index(e.target) for e in examples])
    x = features(vectors, [e.text for e in examples], scale) if scale else vectors
    classifier = LogisticRegression(C=regularisation, max_iter=3000, class_weight="balanced")
    classifier.fit(x, targets)
    order = [list(classifier.classes_).index(i) for i in range(len(CLASSES))]
    coef = np.asarray(classifier.coef_[order], dtype=np.float32)
    dim = vectors.shape[1]
    return SentimentModel(coef[:, :dim], np.asarray(classifier.intercept_[order],
                                                    dtype=np.float32),
                          CLASSES, embedder.model_id, data_digest(),
                          np.ascontiguousarray(coef[:, dim:].T) if scale else None,
                          scale or LEXICAL_SCALE)
