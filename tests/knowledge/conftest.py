"""Knowledge fixtures: the real embedding model (built by `make setup`) and a small index."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from knowledge.embedder import Embedder
from knowledge.index import build_index, load_index
from knowledge.retrieval import Retriever
from knowledge.settings import KnowledgeSettings

FIXTURES = Path(__file__).parent / "fixtures" / "articles"


@pytest.fixture(scope="session")
def base_settings() -> KnowledgeSettings:
    settings = KnowledgeSettings.from_env({})
    if not (settings.model_dir / "modules.json").is_file():
        pytest.fail(f"no embedding model at {settings.model_dir}: run `make setup`")
    return settings


@pytest.fixture(scope="session")
def embedder(base_settings: KnowledgeSettings) -> Embedder:
    return Embedder(base_settings)


def copy_articles(target: Path) -> Path:
    shutil.copytree(FIXTURES, target)
    return target


@pytest.fixture
def knowledge_settings(tmp_path: Path, base_settings: KnowledgeSettings) -> KnowledgeSettings:
    """Settings over a private copy of the fixture articles and a private index folder."""
    return replace(base_settings, articles_dir=copy_articles(tmp_path / "articles"),
                   index_dir=tmp_path / "index")


@pytest.fixture(scope="session")
def fixture_retriever(tmp_path_factory: pytest.TempPathFactory,
                      base_settings: KnowledgeSettings, embedder: Embedder) -> Retriever:
    root = tmp_path_factory.mktemp("knowledge")
    settings = replace(base_settings, articles_dir=copy_articles(root / "articles"),
                       index_dir=root / "index")
    build_index(settings, embedder)
    return Retriever(load_index(settings, embedder.model_id), embedder, settings)
