"""The router's features and its logistic regression, with no Rasa in sight (tests and the
tuning script use it directly).

Features: hashed word unigrams and bigrams, hashed character n-grams within words (2-4,
robust to typos and inflection), and the cues of ``rasa_plugins.nlu.cues`` with their pairs. The
hashing is stateless, so the model is just the weights of the features seen in training,
stored as JSON.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from rasa_plugins.nlu.cues import cue_names, cues

N_FEATURES = 2**18
CUE_WEIGHT = 1.0
VERSION = 1
# What the features and labels are made of: a model trained with other cues, hashing or jobs
# (decision.JOBS labels the training data) is refused, and Rasa's training cache sees the
# change (the router's config carries this id).
FEATURES_ID = hashlib.sha256(b"".join(
    Path(__file__).with_name(name).read_bytes()
    for name in ("features.py", "cues.py", "decision.py"))).hexdigest()[:16]

_WORDS = HashingVectorizer(n_features=N_FEATURES, ngram_range=(1, 2), alternate_sign=False,
                           norm="l2", lowercase=True, token_pattern=r"(?u)\b\w+\b")  # noqa: S106
_CHARS = HashingVectorizer(n_features=N_FEATURES, analyzer="char_wb", ngram_range=(2, 4),
                           alternate_sign=False, norm="l2", lowercase=True)


def featurize(texts: Sequence[str], use_ngrams: bool = True,
              use_cues: bool = True) -> sparse.csr_matrix:
    blocks = []
    if use_ngrams:
        blocks += [_WORDS.transform(texts), _CHARS.transform(texts)]
    if use_cues:
        names = cue_names()
        rows = [[float(c[n]) * CUE_WEIGHT for n in names] for c in map(cues, texts)]
        blocks.append(sparse.csr_matrix(np.array(rows, dtype=np.float64).reshape(len(texts), -1)))
    return sparse.hstack(blocks, format="csr")


@dataclass
class RouterModel:
    """P(request) = sigmoid(w . x + b) over the features above."""

    weights: dict[int, float]
    bias: float
    use_ngrams: bool = True
    use_cues: bool = True
    _dense: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        x = featurize(texts, self.use_ngrams, self.use_cues)
        z = x @ self._dense_weights(x.shape[1]) + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def _dense_weights(self, width: int) -> np.ndarray:
        """The weights as one vector, built on the first message, not on every one."""
        if self._dense is None or self._dense.shape[0] != width:
            dense = np.zeros(width)
            for index, value in self.weights.items():
                if index < width:
                    dense[index] = value
            self._dense = dense
        return self._dense

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, "features": FEATURES_ID, "bias": self.bias,
                "use_ngrams": self.use_ngrams, "use_cues": self.use_cues, "cues": cue_names(),
                "weights": {str(k): round(v, 6) for k, v in self.weights.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RouterModel:
        if (data.get("version") != VERSION or data.get("cues") != cue_names()
                or data.get("features") != FEATURES_ID):
            raise ValueError("the router was trained with other features: train again")
        return cls({int(k): float(v) for k, v in data["weights"].items()}, float(data["bias"]),
                   bool(data["use_ngrams"]), bool(data["use_cues"]))


def fit_router(texts: Sequence[str], labels: np.ndarray, regularisation: float = 1.0,
               use_ngrams: bool = True, use_cues: bool = True) -> RouterModel:
    x = featurize(texts, use_ngrams, use_cues)
    model = LogisticRegression(C=regularisation, class_weight="balanced", max_iter=2000)
    model.fit(x, labels)
    coef = model.coef_[0]
    seen = np.unique(x.nonzero()[1])
    return RouterModel({int(i): float(coef[i]) for i in seen}, float(model.intercept_[0]),
                       use_ngrams, use_cues)
