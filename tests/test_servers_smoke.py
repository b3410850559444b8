"""The real servers of tests/servers.py work: PostgreSQL through SQLAlchemy + asyncpg, and
Debian's Chromium through Playwright, next to the asyncio tests of the same session."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

if TYPE_CHECKING:
    from playwright.sync_api import Browser

PAGE = b"""<!doctype html>
<html><body>
<p id="status">waiting</p>
<button id="go" onclick="document.getElementById('status').textContent = 'clicked'">Go</button>
</body></html>"""


class PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def page_url() -> Iterator[str]:
    """A tiny page served on a free loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_chromium_runs_the_page_script(browser: Browser, page_url: str) -> None:
    page = browser.new_page()
    try:
        page.goto(page_url)
        assert page.text_content("#status") == "waiting"
        page.click("#go")
        page.wait_for_function("document.getElementById('status').textContent === 'clicked'")
        assert page.text_content("#status") == "clicked"
    finally:
        page.close()


async def test_asyncio_tests_run_while_the_browser_is_open(browser: Browser) -> None:
    # Playwright's sync API leaves its own loop marked as running between calls;
    # tests/servers.py contains that, or this test could not start its loop.
    assert asyncio.get_running_loop() is not None
    await asyncio.sleep(0)


async def test_postgres_select_and_ddl(postgres_url: str) -> None:
    engine = create_async_engine(postgres_url)
    try:
        async with engine.begin() as conn:
            assert (await conn.execute(text("select 1"))).scalar_one() == 1
            assert (await conn.execute(text("select current_database()"))).scalar_one() \
                == "handoff_test"
            await conn.execute(text("create table smoke (id serial primary key, note text)"))
            await conn.execute(text("insert into smoke (note) values ('hello')"))
            assert (await conn.execute(text("select note from smoke"))).scalar_one() == "hello"
            await conn.execute(text("drop table smoke"))
        async with engine.connect() as conn:
            missing = await conn.execute(text("select to_regclass('smoke')"))
            assert missing.scalar_one() is None
    finally:
        await engine.dispose()
