"""A handoff database on SQLite and, for the tests that ask for it, on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from handoff.accounts import Accounts
from handoff.store import Agent, Database, TicketStore, create_schema, open_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        database = open_database(f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}")
    else:
        database = open_database(request.getfixturevalue("postgres_url"))
        async with database.engine.begin() as conn:  # a clean schema for every test
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await create_schema(database)
    yield database
    await database.engine.dispose()


@pytest.fixture
def store(db: Database) -> TicketStore:
    return TicketStore(db, priority_step=120)


@pytest.fixture
def accounts(db: Database) -> Accounts:
    return Accounts(db, session_hours=12)


async def make_agent(accounts: Accounts, username: str, max_chats: int = 3) -> Agent:
    return await accounts.add(username, username.title(), "a long enough password", max_chats)


def app_env(folder: Path, **extra: str) -> dict[str, str]:
    """Settings of a whole handoff service with its databases in ``folder`` (Rasa is not
    running: its URL is a closed port)."""
    def sqlite(name: str) -> str:
        return f"sqlite+aiosqlite:///{folder / name}"
    return {"HANDOFF_WEBHOOK_SECRET": "w" * 32, "RASA_API_TOKEN": "token",
            "RASA_URL": "http://127.0.0.1:9", "HANDOFF_DB_URL": sqlite("handoff.db"),
            "RASA_EVENTS_DB_URL": sqlite("events.db"), "METRICS_DB_URL": sqlite("metrics.db"),
            "ACTIONS_DB_URL": sqlite("actions.db"), "TRACKER_DB": str(folder / "tracker.db"),
            "RETENTION_FIRST_RUN_SECONDS": "3600", **extra}
