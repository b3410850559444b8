"""A restart of both servers loses no conversation (SQL tracker store, SQLite files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import processes
from tests.e2e.conftest import PINNED_NOW, Assistant

pytestmark = pytest.mark.e2e


def test_conversation_survives_a_restart(tmp_path: Path) -> None:
    stack = processes.start_stack(tmp_path, fixed_now=PINNED_NOW)
    try:
        before = Assistant(stack.url, stack.token, tmp_path / "shop.db")
        before.send("restart-1", "where is my order?")
        assert "e-mail" in before.texts("restart-1", "ORB-104388")
    finally:
        stack.stop()
    stack = processes.start_stack(tmp_path, fixed_now=PINNED_NOW)
    try:
        after = Assistant(stack.url, stack.token, tmp_path / "shop.db")
        # The form picks up where it was: the contact completes the look-up.
        answer = after.texts("restart-1", "ivan.petrov@example.ru")
        assert "PN987654321DE" in answer
        events = after.tracker("restart-1")["events"]
        user_texts = [e.get("text") for e in events if e.get("event") == "user"]
        assert user_texts[:2] == ["where is my order?", "ORB-104388"]
    finally:
        stack.stop()
