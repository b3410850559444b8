"""Sentence embeddings from a local sentence-transformers folder, never from the network.

The default folder is built by ``python -m knowledge model`` (see ``e5_model``); any local
sentence-transformers folder works (``KNOWLEDGE_MODEL_DIR``). e5 models expect the
``query: `` / ``passage: `` prefixes, which are settings too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.settings import KnowledgeSettings

# Query vectors kept (about 1.5 KB each): a turn's readers share one encoding.
QUERY_CACHE_SIZE = 1024

log = logging.getLogger(__name__)

# Belt and braces: nothing in this process may try the Hugging Face hub.
for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


class ModelMissingError(RuntimeError):
    """The embedding model folder is missing or unusable."""


def model_fingerprint(model_dir: Path) -> str:
    """A cheap identity of a model folder: the build checksum, or config plus weight sizes."""
    build = model_dir / "BUILD.json"
    if build.is_file():
        try:
            return str(json.loads(build.read_text())["weights_sha256"])
        except (ValueError, KeyError):
            pass
    digest = hashlib.sha256()
    for path in sorted(model_dir.rglob("*")):
        if path.is_file() and path.suffix in {".json", ".safetensors", ".bin", ".txt"}:
            digest.update(str(path.relative_to(model_dir)).encode())
            digest.update(str(path.stat().st_size).encode())
            if path.suffix == ".json":
                digest.update(path.read_bytes())
    return digest.hexdigest()


def model_id_for(settings: KnowledgeSettings) -> str:
    """What an index records as its model: folder, weights and how they are run."""
    fingerprint = model_fingerprint(settings.model_dir)[:16]
    return f"{settings.model_dir.name}@{fingerprint}+{settings.quantize}"


class Embedder:
    """Embeds queries and passages into L2-normalised float32 vectors.

    Thread-safe: the action server calls it from a worker thread, off the event loop.
    """

    def __init__(self, settings: KnowledgeSettings) -> None:
        self.settings = settings
        model_dir = settings.model_dir
        if not (model_dir / "modules.json").is_file() and not (model_dir / "config.json").is_file():
            raise ModelMissingError(
                f"no embedding model at {model_dir}: run `make setup` (it builds the default "
                "model with `python -m knowledge model`) or set KNOWLEDGE_MODEL_DIR to a local "
                "sentence-transformers folder")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(max(1, settings.threads))
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        model: Any = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        model.eval()
        if settings.quantize == "int8":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear},
                                                       dtype=torch.qint8, inplace=True)
        self._model = model
        self._torch = torch
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        dimension = getattr(model, "get_embedding_dimension", None) or \
            model.get_sentence_embedding_dimension
        self.dimension = int(dimension())
        self.model_id = model_id_for(settings)

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        if self.settings.quantize == "int8" and batch_size > 1:
            # Dynamic int8 quantisation scales activations per batch, so a text's vector
            # would depend on what it is batched with: one text at a time keeps every
            # vector the same whether built, rebuilt or asked at serving time.
            return np.vstack([self._encode([t], 1) for t in texts]) if texts else \
                np.zeros((0, self.dimension), dtype=np.float32)
        # preprocess + forward instead of encode(): the same modules (transformer, mean
        # pooling, normalisation) without encode()'s batching machinery, ~5 ms per question.
        if len(texts) > batch_size:
            return np.vstack([self._encode(texts[i:i + batch_size], batch_size)
                              for i in range(0, len(texts), batch_size)])
        prepare = getattr(self._model, "preprocess", None) or self._model.tokenize
        with self._lock, self._torch.inference_mode():
            features = prepare(list(texts))
            vectors = self._model.forward(features)["sentence_embedding"]
        return np.ascontiguousarray(vectors.numpy(), dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors; the latest ones are kept, so the same message read for its mood
        and then asked of the knowledge base (one turn, two readers) is encoded once."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._cache_lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
            for text in found:
                self._cache.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            vectors = self._encode([self.settings.query_prefix + t for t in missing],
                                   batch_size=32)
            fresh = dict(zip(missing, vectors, strict=True))
            found |= fresh
            with self._cache_lock:
                for text, vector in fresh.items():
                    vector.setflags(write=False)
                    self._cache[text] = vector
                while len(self._cache) > QUERY_CACHE_SIZE:
                    self._cache.popitem(last=False)
        return np.vstack([found[t] for t in texts])

    def embed_passages(self, texts: Sequence[str], batch_size: int = 16,
                       progress: Callable[[int, int], None] | None = None,
                       as_queries: bool = False) -> np.ndarray:
        prefix = self.settings.query_prefix if as_queries else self.settings.passage_prefix
        prefixed = [prefix + t for t in texts]
        parts = []
        for start in range(0, len(prefixed), batch_size):
            parts.append(self._encode(prefixed[start:start + batch_size], batch_size))
            if progress:
                progress(min(start + batch_size, len(prefixed)), len(prefixed))
        if not parts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack(parts)
