"""The action server refuses to start without a usable index, and says what to run."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot.processes import ROOT, free_port
from knowledge.embedder import Embedder
from knowledge.index import build_index
from knowledge.settings import KnowledgeSettings


def start_action_server(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SHOP_DB_URL": f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}",
                   "ACTIONS_DB_URL": f"sqlite+aiosqlite:///{tmp_path / 'actions.db'}",
                   "HANDOFF_WEBHOOK_SECRET": "server-start-test-secret", **env}
    return subprocess.run([sys.executable, "-m", "actions.server", "--port", str(free_port())],
                          cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=120, check=False)


def test_no_index_no_start(tmp_path: Path) -> None:
    result = start_action_server(tmp_path, KNOWLEDGE_INDEX_DIR=str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert "cannot start: no knowledge index" in result.stderr
    assert "python -m knowledge build" in result.stderr


@pytest.mark.parametrize("serving", ["none"])
def test_an_index_built_with_another_model_setting_is_refused(
        tmp_path: Path, knowledge_settings: KnowledgeSettings, embedder: Embedder,
        serving: str) -> None:
    build_index(knowledge_settings, embedder)  # int8, the default
    result = start_action_server(
        tmp_path, KNOWLEDGE_INDEX_DIR=str(knowledge_settings.index_dir),
        KNOWLEDGE_ARTICLES_DIR=str(knowledge_settings.articles_dir),
        KNOWLEDGE_QUANTIZE=serving)
    assert result.returncode == 2
    assert "was built with" in result.stderr and "+int8" in result.stderr


def test_no_webhook_secret_no_start(tmp_path: Path) -> None:
    """Escalations are signed: without the shared secret the server does not start."""
    result = start_action_server(tmp_path, HANDOFF_WEBHOOK_SECRET="")
    assert result.returncode == 2
    assert "HANDOFF_WEBHOOK_SECRET is not set" in result.stderr


def test_a_missing_model_is_named(tmp_path: Path, knowledge_settings: KnowledgeSettings) -> None:
    settings = replace(knowledge_settings, model_dir=tmp_path / "no-model")
    result = start_action_server(tmp_path, KNOWLEDGE_MODEL_DIR=str(settings.model_dir))
    assert result.returncode == 2
    assert "no embedding model at" in result.stderr and "make setup" in result.stderr
