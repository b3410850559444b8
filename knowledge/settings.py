"""Settings of the knowledge base, read from the environment (see README, "Settings")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "knowledge"
CALIBRATION_FILE = KNOWLEDGE / "calibration.yml"
DEFAULT_MODEL_DIR = ROOT / "models" / "embeddings" / "multilingual-e5-small"
LANGUAGES = ("en", "ru", "uk")


def _calibrated_threshold() -> float:
    """The threshold `python -m knowledge calibrate` chose and committed."""
    try:
        data = yaml.safe_load(CALIBRATION_FILE.read_text(encoding="utf-8")) or {}
        return float(data["threshold"])
    except (OSError, KeyError, TypeError, ValueError):
        return 0.85


@dataclass(frozen=True)
class KnowledgeSettings:
    articles_dir: Path
    index_dir: Path
    model_dir: Path
    # "int8": dynamic int8 quantisation of the encoder's linear layers (about twice as fast
    # on a CPU; the index records it and refuses a server that embeds differently).
    quantize: str
    query_prefix: str
    passage_prefix: str
    threshold: float
    # Above this many passages the index is HNSW instead of exact search (bench/ann_index.py).
    approximate_above: int
    threads: int
    fallback_languages: tuple[str, ...]

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> KnowledgeSettings:
        env = dict(os.environ if env is None else env)
        quantize = env.get("KNOWLEDGE_QUANTIZE", "int8").strip().lower()
        if quantize not in {"int8", "none"}:
            raise ValueError(f"KNOWLEDGE_QUANTIZE must be int8 or none, got {quantize!r}")
        try:
            threshold = float(env.get("KNOWLEDGE_THRESHOLD") or _calibrated_threshold())
            approximate_above = int(env.get("KNOWLEDGE_APPROXIMATE_ABOVE", "50000"))
            threads = int(env.get("KNOWLEDGE_THREADS", "2"))
        except ValueError as exc:
            raise ValueError(f"a KNOWLEDGE_* number setting is not a number: {exc}") from exc
        fallback = tuple(x.strip() for x in env.get("KNOWLEDGE_FALLBACK_LANGUAGES", "en,ru,uk")
                         .split(",") if x.strip())
        return cls(
            articles_dir=Path(env.get("KNOWLEDGE_ARTICLES_DIR", KNOWLEDGE / "articles")),
            index_dir=Path(env.get("KNOWLEDGE_INDEX_DIR", ROOT / "models" / "knowledge")),
            model_dir=Path(env.get("KNOWLEDGE_MODEL_DIR", DEFAULT_MODEL_DIR)),
            quantize=quantize,
            query_prefix=env.get("KNOWLEDGE_QUERY_PREFIX", "query: "),
            passage_prefix=env.get("KNOWLEDGE_PASSAGE_PREFIX", "passage: "),
            threshold=threshold,
            approximate_above=approximate_above,
            threads=threads,
            fallback_languages=fallback,
        )
