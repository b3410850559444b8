"""Unanswered questions grouped by meaning, so a content editor sees which articles to write.

The questions are embedded with the knowledge base's multilingual encoder and grouped by
agglomerative clustering (average linkage, cosine distance). The e5 encoder places
sentences of one language close together whatever they say, so before clustering each
vector loses its language's mean direction (measured once on the knowledge base's own
article questions, which exist in every language): what is left is mostly meaning, and
"do you sell gift cards" groups with "есть ли у вас подарочные карты".
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from knowledge.articles import load_articles
from knowledge.embedder import Embedder
from knowledge.settings import KnowledgeSettings

log = logging.getLogger(__name__)

Embed = Callable[[list[str]], np.ndarray]

# Cosine distance under which (average linkage) questions are one topic, for vectors with
# their language's mean removed. Chosen with the real multilingual-e5-small (int8) on 31
# questions in 8 topics in en/ru/uk (gift cards, shipping to Japan, store location, crypto,
# bulk discounts, engraving, pets, jobs): adjusted Rand index against the true topics was
# 0.68 at 0.65, 0.88 at 0.725, 0.92 at 0.75, 0.89 at 0.775, 0.92 at 0.80, 0.78 at 0.825
# and falling fast above. 0.75 keeps every language version of a topic together and no
# two topics merged; 0.80 already merged "where is your store" with "can I bring my dog
# to the store". Without the language correction no threshold works: a Russian question
# on gift cards is nearer to a Russian question on the store (0.108) than to its English
# paraphrase (0.131). Checked on a held-out set (loyalty, price match, student discount,
# trade-in, reservations, 23 questions in en/ru/uk): at 0.75 every topic kept its language
# versions together except "can I reserve ... and pick it up later" (alone), and only "is
# there a rewards card" joined the gift cards.
THRESHOLD = 0.75
# Without the language correction (no article questions to measure it on) the best the
# same test reached was 0.71 at 0.125: languages then mostly stay apart.
RAW_THRESHOLD = 0.125
# Clustering holds a distance matrix of the distinct questions; beyond this many the rarest
# are left out (the most frequent topics are what the dashboard shows).
MAX_DISTINCT = 2000
REFERENCE_QUESTIONS_PER_ARTICLE = 2
EXAMPLES = 3

_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The comparable form of a question: case-folded, single spaces, no edge punctuation."""
    return _SPACES.sub(" ", text).strip().strip("?!.,;:¿¡…").strip().casefold()


def _usual_form(forms: Counter[str]) -> str:
    """The most frequent way a question was written (ties: the first in sort order)."""
    return min(forms, key=lambda form: (-forms[form], form))


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def cluster_questions(items: Sequence[tuple[str, str]], embed: Embed, *,
                      threshold: float = THRESHOLD, limit: int = 10,
                      language_means: Mapping[str, np.ndarray] | None = None,
                      ) -> list[dict[str, Any]]:
    """The ``limit`` largest groups of ``(text, language)`` questions by meaning.

    Each group: ``label`` (the member nearest the group's centre), ``count``, up to three
    other distinct ``examples`` and ``languages`` counts; sorted by count, then label.
    ``language_means`` (one vector per language) are removed from the vectors before
    clustering; a language without one loses the mean of the others.
    """
    # Identical questions (after normalising) are one point with a weight.
    counts: Counter[str] = Counter()
    languages: dict[str, Counter[str]] = {}
    shown: dict[str, Counter[str]] = {}
    for text, language in items:
        key = normalise(text)
        if not key:
            continue
        counts[key] += 1
        languages.setdefault(key, Counter())[language] += 1
        shown.setdefault(key, Counter())[_SPACES.sub(" ", text).strip()] += 1
    if not counts:
        return []
    keys = sorted(counts, key=lambda k: (-counts[k], k))[:MAX_DISTINCT]
    keys.sort()
    vectors = _unit(embed(keys))
    if language_means:
        fallback = np.mean(np.stack(list(language_means.values())), axis=0)
        main = [languages[k].most_common(1)[0][0] for k in keys]
        vectors = _unit(vectors - np.stack([language_means.get(lang, fallback)
                                            for lang in main]))
    if len(keys) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                        distance_threshold=threshold)
        labels = model.fit_predict(vectors)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    result: list[dict[str, Any]] = []
    for members in groups.values():
        weights = np.array([counts[keys[i]] for i in members], dtype=np.float64)
        centre = (vectors[members] * weights[:, None]).sum(axis=0)
        closeness = vectors[members] @ centre
        order = sorted(range(len(members)),
                       key=lambda m: (-closeness[m], -weights[m], keys[members[m]]))
        display = [_usual_form(shown[keys[members[m]]]) for m in order]
        rest = sorted(range(1, len(order)),
                      key=lambda m: (-weights[order[m]], display[m]))
        total_languages: Counter[str] = Counter()
        for i in members:
            total_languages.update(languages[keys[i]])
        result.append({
            "label": display[0],
            "count": int(weights.sum()),
            "examples": [display[m] for m in rest[:EXAMPLES]],
            "languages": dict(sorted(total_languages.items())),
        })
    result.sort(key=lambda group: (-group["count"], group["label"]))
    return result[:limit]


class QuestionClusterer:
    """``cluster_questions`` with the knowledge base's encoder, remembering recent answers.

    The dashboard asks for the same range again on every refresh: results are cached by
    the exact questions asked (least recently used first out). Embedding is CPU work:
    call it from a worker thread, not on the event loop. Thread-safe.
    """

    def __init__(self, embedder: Embedder, reference: Mapping[str, Sequence[str]], *,
                 threshold: float | None = None, limit: int = 10,
                 cache_size: int = 32) -> None:
        self._embedder = embedder
        self._reference = {lang: list(texts) for lang, texts in reference.items() if texts}
        self._means: dict[str, np.ndarray] | None = None
        self.threshold = threshold if threshold is not None else \
            THRESHOLD if self._reference else RAW_THRESHOLD
        self.limit = limit
        self._cache: OrderedDict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = \
            OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: KnowledgeSettings | None = None,
                      **options: Any) -> QuestionClusterer:
        """The encoder of ``settings`` (``KNOWLEDGE_*``), the article questions as reference."""
        settings = settings or KnowledgeSettings.from_env()
        return cls(Embedder(settings), reference_questions(settings), **options)

    def language_means(self) -> dict[str, np.ndarray]:
        """Each reference language's mean question vector (computed once)."""
        if self._means is None:
            self._means = {lang: _unit(self._embedder.embed_queries(texts)).mean(axis=0)
                           for lang, texts in sorted(self._reference.items())}
        return self._means

    def __call__(self, items: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        key = tuple((text, language) for text, language in items)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return copy.deepcopy(self._cache[key])
            result = cluster_questions(key, self._embedder.embed_queries,
                                       threshold=self.threshold, limit=self.limit,
                                       language_means=self.language_means() or None)
            self._cache[key] = result
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return copy.deepcopy(result)


def reference_questions(settings: KnowledgeSettings) -> dict[str, list[str]]:
    """A few of every article's listed questions, by language (the same topics in each)."""
    by_language: dict[str, list[str]] = {}
    for article in load_articles(settings.articles_dir):
        questions = article.questions[:REFERENCE_QUESTIONS_PER_ARTICLE]
        by_language.setdefault(article.language, []).extend(questions)
    if not any(by_language.values()):
        log.warning("no article questions under %s (KNOWLEDGE_ARTICLES_DIR): unanswered "
                    "questions are grouped without the language correction",
                    settings.articles_dir)
    return by_language
