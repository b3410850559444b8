"""A handoff database on SQLite and, for the tests that ask for it, on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from handoff.accounts import Accounts
from handoff.store import Agent, Database, TicketStore, create_schema, open_database
from tests.factories import app_env

__all__ = ["app_env", "make_agent"]


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
