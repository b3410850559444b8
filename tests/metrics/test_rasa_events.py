"""The one reader of Rasa's event table (metrics/rasa_events.py): empty answers while it
cannot read, one warning when that lasts, one note when it can again."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from metrics.rasa_events import RasaEventTable


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_table(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, data TEXT)")
        for n in range(1, rows + 1):
            db.execute("INSERT INTO events VALUES (?, ?, ?)",
                       (n, "a" if n % 2 else "b", json.dumps({"event": "user", "n": n})))


async def test_reads_rows_after_a_cursor_the_last_id_and_one_conversation(
        tmp_path: Path) -> None:
    make_table(tmp_path / "events.db", 6)
    table = RasaEventTable(create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"))
    try:
        assert [r[0] for r in await table.after(2, 3) or []] == [3, 4, 5]
        assert await table.last_id() == 6
        assert [r[0] for r in await table.latest_of("a", 2) or []] == [3, 5]
    finally:
        await table.engine.dispose()


async def test_an_unreadable_table_warns_once_after_the_grace_and_notes_recovery(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    path = tmp_path / "events.db"
    table = RasaEventTable(create_async_engine(f"sqlite+aiosqlite:///{path}"),
                           warn_after=30, clock=clock)
    caplog.set_level(logging.INFO, logger="metrics.rasa_events")
    try:
        assert await table.after(0, 10) is None  # Rasa has not made the table yet
        clock.now += 29
        assert await table.last_id() is None
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        for _ in range(5):
            clock.now += 10
            assert await table.latest_of("a", 5) is None
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "RASA_EVENTS_DB_URL" in warnings[0].getMessage()
        assert str(path) in warnings[0].getMessage()
        make_table(path, 2)
        assert [r[0] for r in await table.after(0, 10) or []] == [1, 2]
        assert any("readable again" in r.getMessage() for r in caplog.records)
    finally:
        await table.engine.dispose()


async def test_the_password_is_not_in_the_warning(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    table = RasaEventTable(create_async_engine(
        "postgresql+asyncpg://rasa:s3cret-pw@127.0.0.1:1/rasa"), warn_after=0, clock=clock)
    try:
        assert await table.after(0, 1) is None
    finally:
        await table.engine.dispose()
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "cannot read Rasa's event table" in text and "s3cret-pw" not in text
