"""Search latency, recall against exact search, and memory for exact and approximate indexes.

Sizes: 1k, 10k, 100k and 1M passages. Above the demo's size the passages are synthetic:
each is a real demo passage vector plus Gaussian noise, normalised, so the data keeps the
clustered shape of real embeddings (uniform random vectors would flatter nothing and
mislead everything). Queries are the real held-out questions, embedded once.

Indexes: exact inner product (IndexFlatIP, the default), HNSW (M=32, efSearch 128: what
the index switches to above KNOWLEDGE_APPROXIMATE_ABOVE) and IVF (sqrt(n) lists, nprobe 16).

Run: .venv-services/bin/python bench/knowledge_index.py [--sizes 1000,10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from knowledge.embedder import Embedder
from knowledge.evaluation import EVAL_FILE, load_questions
from knowledge.index import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, load_index
from knowledge.settings import KnowledgeSettings

K = 10
NOISE = 0.35  # per-dimension noise relative to a unit vector's typical coordinate


def corpus(base: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    if size <= len(base):
        return np.ascontiguousarray(base[:size])
    picks = rng.integers(0, len(base), size)
    scale = NOISE / np.sqrt(base.shape[1])
    out = np.empty((size, base.shape[1]), dtype=np.float32)
    for start in range(0, size, 100_000):
        stop = min(size, start + 100_000)
        block = base[picks[start:stop]] + rng.normal(0, scale, (stop - start, base.shape[1]))
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def timed_search(index: faiss.Index, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    rows, timings = [], []
    for query in queries:
        started = time.perf_counter()
        _scores, found = index.search(query.reshape(1, -1), K)
        timings.append((time.perf_counter() - started) * 1000)
        rows.append(found[0])
    return np.array(rows), timings


def memory_mb(index: faiss.Index) -> float:
    return len(faiss.serialize_index(index)) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    faiss.omp_set_num_threads(2)
    settings = KnowledgeSettings.from_env()
    embedder = Embedder(settings)
    base = np.asarray(load_index(settings, embedder.model_id).vectors, dtype=np.float32)
    questions = load_questions(EVAL_FILE)[: args.queries]
    queries = embedder.embed_queries([q.text for q in questions])
    rng = np.random.default_rng(7)
    print(f"{len(queries)} real queries, recall@{K} against exact search, 2 threads")
    print(f"{'passages':>9} {'index':<6} {'build s':>8} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'recall':>7} {'MB':>8}")
    for size in (int(x) for x in args.sizes.split(",")):
        data = corpus(base, size, rng)
        flat = faiss.IndexFlatIP(data.shape[1])
        started = time.perf_counter()
        flat.add(data)
        build = time.perf_counter() - started
        truth, timings = timed_search(flat, queries)
        print(f"{size:>9} {'exact':<6} {build:>8.1f} {np.percentile(timings, 50):>7.2f} "
              f"{np.percentile(timings, 95):>7.2f} {1.0:>7.3f} {memory_mb(flat):>8.1f}",
              flush=True)
        hnsw = faiss.IndexHNSWFlat(data.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        ivf_lists = max(16, int(np.sqrt(size)))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(data.shape[1]), data.shape[1], ivf_lists,
                                 faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        ivf.nprobe = 16
        for name, index in (("hnsw", hnsw), ("ivf", ivf)):
            started = time.perf_counter()
            if isinstance(index, faiss.IndexIVFFlat):
                index.train(data[rng.choice(size, min(size, 50 * ivf_lists), replace=False)])
            index.add(data)
            build = time.perf_counter() - started
            found, timings = timed_search(index, queries)
            recall = np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)])
            print(f"{size:>9} {name:<6} {build:>8.1f} {np.percentile(timings, 50):>7.2f} "
                  f"{np.percentile(timings, 95):>7.2f} {recall:>7.3f} {memory_mb(index):>8.1f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
