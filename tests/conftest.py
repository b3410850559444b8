"""Shared fixtures: a pinned clock, a runtime over a fresh demo-shop database, and the
knowledge base: the real embedding model (built by `make setup`) over small fixture articles."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from actions.clock import FixedClock
from actions.runtime import Runtime, build_runtime, set_runtime
from actions.settings import ActionSettings
from knowledge.base import KnowledgeBase
from knowledge.embedder import Embedder
from knowledge.index import build_index, load_index
from knowledge.retrieval import Retriever
from knowledge.settings import KnowledgeSettings
from tests import servers

if TYPE_CHECKING:
    from playwright.sync_api import Browser

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
        metrics_db_url=f"sqlite+aiosqlite:///{tmp_path / 'metrics.db'}",
    )


@pytest.fixture
async def runtime(settings: ActionSettings, clock: FixedClock) -> AsyncIterator[Runtime]:
    """A runtime seeded at the pinned moment and installed for the actions."""
    rt = await build_runtime(settings, clock)
    set_runtime(rt)
    yield rt
    set_runtime(None)
    await rt.close()


FIXTURES = Path(__file__).parent / "knowledge" / "fixtures" / "articles"


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
    # The demo's calibrated threshold fits articles that list ~15 questions each; these
    # list three, so their scores run lower (paraphrases 0.85-0.90, foreign 0.80-0.84).
    settings = replace(base_settings, articles_dir=copy_articles(root / "articles"),
                       index_dir=root / "index", threshold=0.845)
    build_index(settings, embedder)
    return Retriever(load_index(settings, embedder.model_id), embedder, settings)


@pytest.fixture
async def knowledge_runtime(runtime: Runtime,
                            fixture_retriever: Retriever) -> AsyncIterator[Runtime]:
    """The runtime with a knowledge base over the fixture articles."""
    runtime.knowledge = KnowledgeBase(fixture_retriever)
    yield runtime
    runtime.knowledge.close()
    runtime.knowledge = None


# --- Real servers: a throwaway PostgreSQL cluster and Debian's Chromium (tests/servers.py) ---
# `make test` installs both first (scripts/test_servers.sh). Without them these fixtures fail,
# they do not skip. Tests that use them are marked `postgres` / `browser` automatically, so
# `pytest -m "not browser"` leaves the browser out.

SERVER_MARKERS = {
    "postgres_url": ("postgres", "uses a throwaway PostgreSQL cluster (fixture postgres_url)"),
    "browser": ("browser", "drives Debian's Chromium through Playwright (fixture browser)"),
}


def pytest_configure(config: pytest.Config) -> None:
    for marker, description in SERVER_MARKERS.values():
        config.addinivalue_line("markers", f"{marker}: {description}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, (marker, _) in SERVER_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql+asyncpg://`` URL of database ``handoff_test`` in a cluster of its own."""
    try:
        cluster = servers.start_postgres("handoff_test")
    except servers.ServerMissing as exc:
        raise pytest.fail.Exception(str(exc), pytrace=False) from None  # no chained trace
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    try:
        return servers.chromium_path()
    except servers.ServerMissing as exc:
        raise pytest.fail.Exception(str(exc), pytrace=False) from None  # no chained trace


@pytest.fixture(scope="session")
def browser_session(chromium_path: str) -> Iterator[Browser]:
    """Headless Chromium (Playwright's sync API), started once for the session."""
    with servers.chromium_browser(chromium_path) as browser:
        yield browser


@pytest.fixture
def browser(browser_session: Browser) -> Iterator[Browser]:
    """The session's Chromium, for a sync test.

    Some Playwright calls (``page.on``) schedule work with ``asyncio.ensure_future`` outside
    a call into Playwright; after asyncio tests have run, the main thread has no current
    event loop, so Playwright's own loop is made current for the test, then unset again.
    """
    asyncio.set_event_loop(browser_session._loop)  # type: ignore[attr-defined]
    try:
        yield browser_session
    finally:
        asyncio.set_event_loop(None)
