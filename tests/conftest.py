"""Shared fixtures: a pinned clock and a runtime over a fresh demo-shop database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from actions.clock import FixedClock
from actions.runtime import Runtime, build_runtime, set_runtime
from actions.settings import ActionSettings

# Monday 23 November 2026, 11:00 in Berlin: a business day inside agent hours.
PINNED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(PINNED)


@pytest.fixture
def settings(tmp_path: Path) -> ActionSettings:
    base = ActionSettings.from_env({})
    return replace(
        base,
        shop_db_url=f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}",
        actions_db_url=f"sqlite+aiosqlite:///{tmp_path / 'actions.db'}",
    )


@pytest.fixture
async def runtime(settings: ActionSettings, clock: FixedClock) -> AsyncIterator[Runtime]:
    """A runtime seeded at the pinned moment and installed for the actions."""
    rt = await build_runtime(settings, clock)
    set_runtime(rt)
    yield rt
    set_runtime(None)
    await rt.close()
