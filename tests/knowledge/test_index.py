"""Building, rebuilding and loading the index with the real model."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from knowledge.embedder import Embedder
from knowledge.index import (
    IndexMissingError,
    IndexModelMismatchError,
    build_index,
    load_index,
    stale_articles,
)
from knowledge.settings import KnowledgeSettings


def test_build_then_rebuild_embeds_only_what_changed(
        knowledge_settings: KnowledgeSettings, embedder: Embedder) -> None:
    messages: list[str] = []
    first = build_index(knowledge_settings, embedder, progress=messages.append)
    assert (first.articles, first.changed, first.unchanged) == (7, 7, 0)
    assert first.embedded == first.passages > 0
    assert first.index_type == "flat"
    assert any("embedding passages" in m for m in messages)
    assert stale_articles(knowledge_settings) == []

    again = build_index(knowledge_settings, embedder)
    assert (again.changed, again.unchanged, again.embedded) == (0, 7, 0)

    path = knowledge_settings.articles_dir / "en" / "instalments.md"
    path.write_text(path.read_text().replace("6 months", "six months"), encoding="utf-8")
    assert stale_articles(knowledge_settings) == ["en/instalments"]
    changed = build_index(knowledge_settings, embedder)
    assert (changed.changed, changed.unchanged) == (1, 6)
    assert changed.embedded == 5  # its intro, one section and three questions

    (knowledge_settings.articles_dir / "en" / "express-delivery.md").unlink()
    removed = build_index(knowledge_settings, embedder)
    assert (removed.articles, removed.removed, removed.embedded) == (6, 1, 0)

    loaded = load_index(knowledge_settings, embedder.model_id)
    assert loaded.size == removed.passages == loaded.faiss_index.ntotal
    assert {p.article_id for p in loaded.passages} == {
        "instalments", "opened-headphones", "warranty-vs-after-sales"}
    assert any("six months" in p.text for p in loaded.passages)


def test_reused_vectors_equal_fresh_ones(knowledge_settings: KnowledgeSettings,
                                        embedder: Embedder) -> None:
    build_index(knowledge_settings, embedder)
    path = knowledge_settings.articles_dir / "ru" / "instalments.md"
    path.write_text(path.read_text() + "\n", encoding="utf-8")
    build_index(knowledge_settings, embedder)
    incremental = load_index(knowledge_settings, embedder.model_id)
    fresh_settings = replace(knowledge_settings,
                             index_dir=knowledge_settings.index_dir.with_name("fresh"))
    build_index(fresh_settings, embedder)
    fresh = load_index(fresh_settings, embedder.model_id)
    assert incremental.passages == fresh.passages
    assert abs(incremental.vectors - fresh.vectors).max() < 1e-5


def test_a_missing_index_refuses_to_load(knowledge_settings: KnowledgeSettings,
                                         embedder: Embedder) -> None:
    with pytest.raises(IndexMissingError, match="python -m knowledge build"):
        load_index(knowledge_settings, embedder.model_id)


def test_an_index_from_another_model_refuses_to_load(
        knowledge_settings: KnowledgeSettings, embedder: Embedder) -> None:
    build_index(knowledge_settings, embedder)
    with pytest.raises(IndexModelMismatchError, match="was built with"):
        load_index(knowledge_settings, "some-other-model@0123+none")


def test_a_rebuild_with_another_model_re_embeds_everything(
        knowledge_settings: KnowledgeSettings, embedder: Embedder) -> None:
    build_index(knowledge_settings, embedder)
    manifest_path = knowledge_settings.index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model_id"] = "older-model@0000+none"
    manifest_path.write_text(json.dumps(manifest))
    messages: list[str] = []
    report = build_index(knowledge_settings, embedder, progress=messages.append)
    assert report.embedded == report.passages
    assert any("re-embedding everything" in m for m in messages)


def test_an_inconsistent_index_refuses_to_load(knowledge_settings: KnowledgeSettings,
                                               embedder: Embedder) -> None:
    build_index(knowledge_settings, embedder)
    passages = knowledge_settings.index_dir / "passages.jsonl"
    passages.write_text("\n".join(passages.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(IndexMissingError, match="inconsistent"):
        load_index(knowledge_settings, embedder.model_id)


def test_above_the_size_limit_the_index_is_hnsw(knowledge_settings: KnowledgeSettings,
                                                embedder: Embedder) -> None:
    settings = replace(knowledge_settings, approximate_above=0)
    report = build_index(settings, embedder)
    assert report.index_type == "hnsw"
    loaded = load_index(settings, embedder.model_id)
    assert hasattr(loaded.faiss_index, "hnsw")
    query = embedder.embed_queries(["can i pay in instalments"])
    _scores, rows = loaded.faiss_index.search(query, 3)
    assert loaded.passages[int(rows[0][0])].article_id == "instalments"
