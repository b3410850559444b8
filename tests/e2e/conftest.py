"""The real Rasa server and action server on free loopback ports, for the whole session.

Both run from their own environments with their own databases in a temporary folder and
the clock pinned (ASSISTANT_FIXED_NOW), so answers are the same on every run. The model
is the newest in models/ (``make test`` trains it first; without one, this trains).
"""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot import processes

PINNED_NOW = "2026-11-23T10:00:00+00:00"  # Monday, 11:00 in Berlin


def new_sender(prefix: str) -> str:
    """A fresh conversation id for one test."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def button_payloads(replies: list[dict[str, Any]]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


@dataclass
class Assistant:
    url: str
    token: str
    shop_db: Path

    def post(self, body: bytes, content_type: str = "application/json") -> tuple[int, Any]:
        request = urllib.request.Request(f"{self.url}/webhooks/rest/webhook", data=body,
                                         headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def send(self, sender: str, message: str) -> list[dict[str, Any]]:
        status, replies = self.post(json.dumps({"sender": sender, "message": message}).encode())
        assert status == 200, replies
        return replies

    def texts(self, sender: str, message: str) -> str:
        """All reply texts of one turn, joined, for assertions on content."""
        return "\n".join(r.get("text", "") for r in self.send(sender, message))

    def tracker(self, sender: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/conversations/{sender}/tracker?token={self.token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def shop_rows(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.shop_db) as conn:
            return conn.execute(query, args).fetchall()

    def knowledge_turns(self, sender: str) -> list[tuple[str, str | None]]:
        """What the action server recorded about this conversation's questions."""
        with sqlite3.connect(self.shop_db.with_name("actions.db")) as conn:
            return conn.execute("SELECT outcome, article_id FROM knowledge_turns "
                                "WHERE conversation_id = ? ORDER BY id", (sender,)).fetchall()


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    folder = tmp_path_factory.mktemp("assistant")
    logs: list[str] = []
    stack = processes.start_stack(folder, fixed_now=PINNED_NOW, sink=logs.append)
    yield Assistant(stack.url, stack.token, folder / "shop.db")
    stack.stop()
    tracebacks = [line for line in logs if "Traceback" in line]
    assert not tracebacks, "a server logged a traceback:\n" + "\n".join(logs[-80:])
