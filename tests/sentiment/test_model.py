"""The sentiment classifier: its data, training, storage, and what it says of clear cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge.embedder import Embedder
from sentiment.__main__ import model_file
from sentiment.model import (
    CLASSES,
    SentimentModel,
    SentimentModelError,
    load_examples,
    train,
)


def test_the_labelled_data_is_big_enough_and_held_out_is_apart() -> None:
    train_set, heldout = load_examples("train"), load_examples("heldout")
    for language in ("en", "ru", "uk"):
        assert sum(e.language == language for e in train_set) >= 300
        assert sum(e.language == language for e in heldout) >= 100
    assert {e.label for e in train_set} == {"negative", "neutral", "positive"}
    assert not {e.text.lower() for e in train_set} & {e.text.lower() for e in heldout}
    kinds = {e.kind for e in train_set}
    assert {"sarcasm", "swearing", "polite_complaint"} <= kinds


def test_train_save_load_and_refuse_other_embeddings(tmp_path: Path,
                                                     embedder: Embedder) -> None:
    examples = [e for e in load_examples("train", ["en"])][::4]
    model = train(embedder, examples, regularisation=4.0)
    assert model.classes == CLASSES and model.weights.shape == (4, embedder.dimension)
    path = tmp_path / "classifier.json"
    model.save(path)
    loaded = SentimentModel.load(path)
    texts = ["thank you so much, that solved it!", "where is my order"]
    assert [s.as_dict() for s in loaded.score(embedder, texts)] == [
        s.as_dict() for s in model.score(embedder, texts)]
    probabilities = loaded.probabilities(embedder.embed_queries(texts))
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    loaded.model_id = "another-model@0000+none"
    with pytest.raises(SentimentModelError, match="python -m sentiment train"):
        loaded.score(embedder, texts)
    with pytest.raises(SentimentModelError, match="no sentiment classifier"):
        SentimentModel.load(tmp_path / "missing.json")


def test_the_ngrams_are_kept_apart_and_can_be_left_out(tmp_path: Path,
                                                       embedder: Embedder) -> None:
    examples = [e for e in load_examples("train", ["ru"])][::4]
    with_words = train(embedder, examples, regularisation=4.0, scale=0.5)
    alone = train(embedder, examples, regularisation=4.0, scale=0.0)
    assert with_words.lexical is not None and alone.lexical is None
    texts = ["спасибо, конечно, за очередной перенос", "где мой заказ"]
    for model in (with_words, alone):
        path = tmp_path / "c.json"
        model.save(path)
        loaded = SentimentModel.load(path)
        assert [s.as_dict() for s in loaded.score(embedder, texts)] == [
            s.as_dict() for s in model.score(embedder, texts)]
    # The words change the scores: the n-gram weights are used.
    first = [m.score(embedder, texts)[0].as_dict() for m in (with_words, alone)]
    assert first[0] != first[1]


@pytest.fixture(scope="module")
def classifier() -> SentimentModel:
    path = model_file()
    if not path.is_file():
        pytest.fail(f"no sentiment classifier at {path}: run `make setup`")
    return SentimentModel.load(path)


@pytest.mark.parametrize(("text", "label", "strong"), [
    ("thank you so much, that solved it!", "positive", False),
    ("спасибо большое, всё отлично работает", "positive", False),
    ("дякую, все вирішили швидко", "positive", False),
    ("where is my order ORB-104217?", "neutral", False),
    ("можно вернуть наушники, если я их уже открыл?", "neutral", False),
    ("THIS IS THE THIRD TIME I'M WRITING, YOU ARE USELESS, I WANT MY MONEY BACK NOW", "negative",
     True),
    ("вы издеваетесь?! третью неделю жду свой заказ, отвратительный сервис", "negative", True),
    ("great, another week without my laptop, thanks a lot", "negative", False),
])
def test_clear_cases(classifier: SentimentModel, embedder: Embedder, text: str, label: str,
                     strong: bool) -> None:
    result = classifier.score(embedder, [text])[0]
    assert result.label == label, result
    if strong:
        assert result.strong >= 0.5, result
