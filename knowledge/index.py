"""The passage index: FAISS over normalised embeddings, a manifest, and incremental builds.

Files under the index folder (``models/knowledge`` by default, not committed):

* ``manifest.json``  format, model id, dimension, index type, and per article (``<lang>/<id>``)
                     its content hash, title, related job intent and range of passages;
* ``passages.jsonl`` one passage per line, in index order;
* ``vectors.npy``    the passage vectors (kept so a rebuild re-embeds only changed articles);
* ``index.faiss``    exact inner-product search (``IndexFlatIP``) on normalised vectors, or
                     HNSW above ``KNOWLEDGE_APPROXIMATE_ABOVE`` passages.

Every file is written to a temporary name and renamed, so a crashed build leaves the
previous index usable.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from knowledge.articles import Article, Passage, load_articles
from knowledge.settings import KnowledgeSettings

FORMAT = 2
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128


class KnowledgeIndexError(RuntimeError):
    """The index cannot be used; the message says what to run."""


class IndexMissingError(KnowledgeIndexError):
    pass


class IndexModelMismatchError(KnowledgeIndexError):
    pass


@dataclass(frozen=True)
class BuildReport:
    articles: int
    changed: int
    unchanged: int
    removed: int
    passages: int
    embedded: int
    index_type: str
    seconds: float

    def summary(self) -> str:
        return (f"{self.articles} articles ({self.changed} new or changed, {self.unchanged} "
                f"unchanged, {self.removed} removed), {self.passages} passages, "
                f"{self.embedded} embedded, {self.index_type} index, {self.seconds:.1f} s")


def article_key(article: Article) -> str:
    return f"{article.language}/{article.id}"


def make_faiss_index(vectors: np.ndarray, approximate_above: int) -> tuple[Any, str]:
    dim = vectors.shape[1]
    index: Any
    if len(vectors) > approximate_above:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        kind = "hnsw"
    else:
        index = faiss.IndexFlatIP(dim)
        kind = "flat"
    if len(vectors):
        index.add(vectors)
    return index, kind


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _save_npy(path: Path, vectors: np.ndarray) -> None:
    with path.open("wb") as handle:
        np.save(handle, vectors)


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _read_manifest(index_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def built_model_id(settings: KnowledgeSettings) -> str | None:
    manifest = _read_manifest(settings.index_dir)
    return str(manifest.get("model_id")) if manifest else None


def stale_articles(settings: KnowledgeSettings) -> list[str]:
    """Articles added, changed or removed since the last build (empty: the index is current)."""
    manifest = _read_manifest(settings.index_dir)
    current = {article_key(a): a.content_hash for a in load_articles(settings.articles_dir)}
    if manifest is None:
        return sorted(current)
    built = {key: entry["hash"] for key, entry in manifest["articles"].items()}
    changed = {k for k, h in current.items() if built.get(k) != h}
    return sorted(changed | (set(built) - set(current)))


def build_index(settings: KnowledgeSettings, embedder: Any,
                progress: Callable[[str], None] | None = None,
                reuse: bool = True) -> BuildReport:
    """(Re)build the index; only articles whose content changed are embedded again."""
    started = time.monotonic()
    say = progress or (lambda _message: None)
    articles = load_articles(settings.articles_dir)
    index_dir = settings.index_dir
    previous: dict[str, tuple[str, list[dict[str, Any]], np.ndarray]] = {}
    manifest = _read_manifest(index_dir)
    if reuse and manifest and manifest.get("model_id") == embedder.model_id:
        try:
            old_vectors = np.load(index_dir / "vectors.npy")
            old_passages = [json.loads(line) for line in
                            (index_dir / "passages.jsonl").read_text("utf-8").splitlines()]
            for key, entry in manifest["articles"].items():
                start, end = entry["passages"]
                previous[key] = (entry["hash"], old_passages[start:end], old_vectors[start:end])
        except (OSError, ValueError, KeyError):
            previous = {}
    elif manifest:
        say(f"the index was built with {manifest.get('model_id')}; re-embedding everything "
            f"with {embedder.model_id}")

    to_embed: list[Passage] = []
    plan: list[tuple[Article, Any, Any]] = []
    changed = 0
    for article in articles:
        old = previous.get(article_key(article))
        if old and old[0] == article.content_hash:
            plan.append((article, old[1], old[2]))
        else:
            changed += 1
            plan.append((article, None, None))
            to_embed.extend(article.passages())
    removed = len(set(previous) - {article_key(a) for a in articles})
    say(f"{len(articles)} articles: {changed} to embed ({len(to_embed)} passages), "
        f"{len(articles) - changed} unchanged, {removed} removed")

    shown = [0]

    def report(done: int, total: int) -> None:
        # about every tenth of the work, so a big base shows progress without flooding
        if done == total or done - shown[0] >= max(1, total // 10):
            shown[0] = done
            say(f"embedding passages {done}/{total} ({100 * done // total} %)")

    fresh = embed_passages(embedder, to_embed, report)
    fresh_rows = iter(range(len(to_embed)))
    passages: list[dict[str, Any]] = []
    blocks: list[np.ndarray] = []
    entries: dict[str, Any] = {}
    for article, old_passages, old_vectors in plan:
        start = len(passages)
        if old_passages is not None and old_vectors is not None:
            passages.extend(old_passages)
            blocks.append(old_vectors)
        else:
            rows = [next(fresh_rows) for _ in article.passages()]
            passages.extend(asdict(p) for p in article.passages())
            blocks.append(fresh[rows] if rows else np.zeros((0, embedder.dimension), np.float32))
        entries[article_key(article)] = {"hash": article.content_hash,
                                         "passages": [start, len(passages)],
                                         "title": article.title, "intent": article.intent}
    vectors = (np.vstack(blocks) if blocks else np.zeros((0, embedder.dimension), np.float32))
    kind = _write_index(settings, embedder, np.ascontiguousarray(vectors, dtype=np.float32),
                        passages, entries)
    return BuildReport(articles=len(articles), changed=changed,
                       unchanged=len(articles) - changed, removed=removed,
                       passages=len(passages), embedded=len(to_embed), index_type=kind,
                       seconds=time.monotonic() - started)


def _write_index(settings: KnowledgeSettings, embedder: Any, vectors: np.ndarray,
                 passages: list[dict[str, Any]], entries: dict[str, Any]) -> str:
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    index, kind = make_faiss_index(vectors, settings.approximate_above)
    _write_atomic(index_dir / "vectors.npy", partial(_save_npy, vectors=vectors))
    _write_atomic(index_dir / "passages.jsonl", partial(_write_text, text="".join(
        json.dumps(x, ensure_ascii=False) + "\n" for x in passages)))
    _write_atomic(index_dir / "index.faiss", lambda p: faiss.write_index(index, str(p)))
    new_manifest = {"format": FORMAT, "model_id": embedder.model_id,
                    "dimension": embedder.dimension, "index_type": kind,
                    "passages": len(passages), "articles": entries,
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    # The manifest goes last: it is what marks the other files as one consistent build.
    _write_atomic(index_dir / "manifest.json", partial(_write_text, text=json.dumps(
        new_manifest, indent=1, ensure_ascii=False) + "\n"))
    return kind


def embed_passages(embedder: Any, passages: list[Passage],
                   progress: Callable[[int, int], None]) -> np.ndarray:
    """Article text with the passage prefix; listed questions as what they are, queries."""
    vectors = np.zeros((len(passages), embedder.dimension), dtype=np.float32)
    texts = [i for i, p in enumerate(passages) if p.kind != "question"]
    questions = [i for i, p in enumerate(passages) if p.kind == "question"]
    total = len(passages)
    if texts:
        vectors[texts] = embedder.embed_passages(
            [passages[i].embedding_text() for i in texts],
            progress=lambda done, _n: progress(done, total))
    if questions:
        vectors[questions] = embedder.embed_passages(
            [passages[i].embedding_text() for i in questions], as_queries=True,
            progress=lambda done, _n: progress(len(texts) + done, total))
    return vectors


@dataclass
class LoadedIndex:
    faiss_index: Any
    passages: list[Passage]
    manifest: dict[str, Any]
    vectors: np.ndarray  # memory-mapped: only the rows a question needs are read

    @property
    def size(self) -> int:
        return len(self.passages)


def load_index(settings: KnowledgeSettings, model_id: str) -> LoadedIndex:
    """Load the index for serving; refuse a missing index or one built with another model."""
    index_dir = settings.index_dir
    manifest = _read_manifest(index_dir)
    if manifest is None:
        raise IndexMissingError(
            f"no knowledge index in {index_dir}: run `python -m knowledge build` "
            "(make setup and make run do it)")
    if manifest.get("model_id") != model_id:
        raise IndexModelMismatchError(
            f"the knowledge index in {index_dir} was built with {manifest.get('model_id')} but "
            f"this server embeds with {model_id}: run `python -m knowledge build`, or set "
            "KNOWLEDGE_MODEL_DIR / KNOWLEDGE_QUANTIZE to what the index was built with")
    try:
        index = faiss.read_index(str(index_dir / "index.faiss"))
        lines = (index_dir / "passages.jsonl").read_text("utf-8").splitlines()
        vectors = np.load(index_dir / "vectors.npy", mmap_mode="r")
    except (OSError, RuntimeError) as exc:
        raise IndexMissingError(f"the knowledge index in {index_dir} is incomplete ({exc}): "
                                "run `python -m knowledge build`") from exc
    passages = [Passage(**json.loads(line)) for line in lines]
    if (index.ntotal != len(passages) or index.d != manifest.get("dimension")
            or vectors.shape != (len(passages), index.d)):
        raise IndexMissingError(f"the knowledge index in {index_dir} is inconsistent: "
                                "run `python -m knowledge build`")
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return LoadedIndex(index, passages, manifest, vectors)
