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
    readable,
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


def test_repetition_is_folded_before_reading() -> None:
    assert readable("!!!!!!!!!!!!") == "!!!"
    assert readable("🙂" * 4000) == "🙂🙂🙂"
    assert readable("😀🎉🙂" * 1300) == "😀🎉🙂😀🎉🙂"
    assert readable("so sloooooow") == "so slooow"
    assert readable("where is my order?") == "where is my order?"


@pytest.mark.parametrize("text", [
    "🙂" * 4000, "😀🎉🙂" * 1300, "👍" * 50, "??????", "!!!!!!!!!!!!", "89161234567", "...",
])
def test_a_flood_of_symbols_is_not_anger(classifier: SentimentModel, embedder: Embedder,
                                         text: str) -> None:
    result = classifier.score(embedder, [text])[0]
    assert (result.label, result.negative, result.strong) == ("neutral", 0.0, 0.0)


@pytest.mark.parametrize("text", ["ivan.petrov@mail.ru", "JOHN.SMITH@GMAIL.COM", "test@test.com",
                                  "+7 916 123-45-67", "ORB-104217"])
def test_contact_details_alone_are_neutral(classifier: SentimentModel, embedder: Embedder,
                                           text: str) -> None:
    result = classifier.score(embedder, [text])[0]
    assert result.label == "neutral" and result.strong < 0.3, result


def test_anger_symbols_alone_are_mildly_negative(classifier: SentimentModel,
                                                 embedder: Embedder) -> None:
    texts = ["😡", "🤬🤬🤬", "👎"]
    for result in classifier.score(embedder, texts):
        assert (result.label, result.negative, result.strong) == ("negative", 0.75, 0.0)
    # Mixed with messages the model reads, the order of the answers is kept.
    mixed = classifier.score(embedder, ["😡", "thank you so much, that solved it!", "🙂" * 9])
    assert [r.label for r in mixed] == ["negative", "positive", "neutral"]
