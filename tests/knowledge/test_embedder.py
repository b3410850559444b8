"""The encoder's query cache: a message read twice in one turn is encoded once, and a
cached vector is the very vector a fresh encoding gives."""

from __future__ import annotations

from typing import Any

import numpy as np

from knowledge.embedder import QUERY_CACHE_SIZE, Embedder


def test_a_query_is_encoded_once_and_gives_the_same_vector(embedder: Embedder,
                                                           monkeypatch: Any) -> None:
    encoded: list[str] = []
    real = embedder._encode

    def counting(texts: list[str], batch_size: int) -> np.ndarray:
        if batch_size > 1:  # what embed_queries asks for (int8 then encodes one by one)
            encoded.extend(texts)
        return real(texts, batch_size)

    monkeypatch.setattr(embedder, "_encode", counting)
    fresh = real([embedder.settings.query_prefix + "где мой заказ?"], 1)[0]
    first = embedder.embed_queries(["где мой заказ?", "hello", "где мой заказ?"])
    again = embedder.embed_queries(["hello", "где мой заказ?"])
    assert encoded == [embedder.settings.query_prefix + "где мой заказ?",
                       embedder.settings.query_prefix + "hello"]
    np.testing.assert_array_equal(first[0], fresh)
    np.testing.assert_array_equal(first[2], fresh)
    np.testing.assert_array_equal(again, first[[1, 0]])
    assert embedder.embed_queries([]).shape == (0, embedder.dimension)


def test_the_cache_is_bounded(embedder: Embedder) -> None:
    texts = [f"q{n}" for n in range(QUERY_CACHE_SIZE + 5)]
    embedder._cache.clear()
    for text in texts:
        embedder._cache[text] = np.zeros(embedder.dimension, dtype=np.float32)
    embedder.embed_queries(["a new question"])
    assert len(embedder._cache) == QUERY_CACHE_SIZE
    assert "a new question" in embedder._cache and "q0" not in embedder._cache
