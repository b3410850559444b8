"""What many tests build: an escalation as the action server sends it, Rasa's ``events``
table as its SQL event broker creates and fills it, a signed status webhook like the
handoff service's, and the handoff service's settings for a test folder. Real pieces,
each test's own data: nothing here stands in for a component under test."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from contract.signing import SignatureError, verify
from handoff import api
from handoff.settings import HandoffSettings

ASKED = "The customer asked for a person."


def escalation(conversation: str, *, escalation_id: str | None = None,
               at: datetime | str | None = None, reason: str = "customer_request",
               channel: str = "rest", language: str = "en", detail: str = ASKED,
               transcript: list[dict[str, Any]] | None = None,
               **fields: Any) -> dict[str, Any]:
    """A valid escalation webhook body (contract/payload.py); ``fields`` override or add.
    The transcript is one customer message at ``at`` unless given."""
    if isinstance(at, datetime):
        moment = at.isoformat()
    else:
        moment = at or datetime.now(UTC).isoformat(timespec="seconds")
    if transcript is None:
        transcript = [{"role": "customer", "text": "a person please", "at": moment,
                       "author": None}]
    return {"escalation_id": escalation_id or f"esc-{conversation}",
            "conversation_id": conversation, "channel": channel, "language": language,
            "reason": reason, "detail": detail, "created_at": moment, "outside_hours": False,
            "agents_back_at": None, "agents_back_text": None, "sentiment_trail": [],
            "order": None, "transcript": transcript, **fields}


class EventsTable:
    """Rasa's ``events`` table in a SQLite file, as rasa.core.brokers.sql.SQLEventBroker
    creates it; ``publish`` writes a row the way the broker does."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite+aiosqlite:///{path}"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255),"
                         " data TEXT)")

    def publish(self, sender: str, event: Mapping[str, Any] | None = None, /,
                **fields: Any) -> None:
        """One event, given as a mapping or as keywords (``event="user", text=...``)."""
        data = {"sender_id": sender, "timestamp": time.time(), **(event or {}), **fields}
        with sqlite3.connect(self.path) as conn:
            conn.execute("INSERT INTO events (sender_id, data) VALUES (?, ?)",
                         (sender, json.dumps(data)))

    def user(self, sender: str, text: str, intent: str = "inform",
             confidence: float = 0.95) -> None:
        self.publish(sender, {"event": "user", "text": text,
                              "parse_data": {"intent": {"name": intent,
                                                        "confidence": confidence}}})


NO_REQUEST = {"state": "none", "position": None, "minutes": None, "agent_name": None,
              "agents_back_text": None, "reason": None}


@asynccontextmanager
async def status_webhook(secret: str, states: Mapping[str, Mapping[str, Any]],
                         seen: list[str] | None = None) -> AsyncIterator[str]:
    """A server answering the handoff service's signed status webhook from ``states``
    (conversation -> state fields); yields its URL, records each conversation asked
    about in ``seen``, refuses a bad signature with 401."""
    async def status(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            verify(secret, request.headers, raw)
        except SignatureError as exc:
            return web.json_response({"error": str(exc)}, status=401)
        conversation = json.loads(raw)["conversation_id"]
        if seen is not None:
            seen.append(conversation)
        return web.json_response({**NO_REQUEST, **states[conversation]})

    app = web.Application()
    app.router.add_post("/webhooks/status", status)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/webhooks/status"
    finally:
        await runner.cleanup()


WEBHOOK_SECRET = "w" * 32  # app_env's


def app_env(folder: Path, **extra: str) -> dict[str, str]:
    """Settings of a whole handoff service with its databases in ``folder`` (Rasa is not
    running: its URL is a closed port)."""
    def sqlite(name: str) -> str:
        return f"sqlite+aiosqlite:///{folder / name}"
    return {"HANDOFF_WEBHOOK_SECRET": WEBHOOK_SECRET, "RASA_API_TOKEN": "token",
            "RASA_URL": "http://127.0.0.1:9", "HANDOFF_DB_URL": sqlite("handoff.db"),
            "RASA_EVENTS_DB_URL": sqlite("events.db"), "METRICS_DB_URL": sqlite("metrics.db"),
            "ACTIONS_DB_URL": sqlite("actions.db"), "TRACKER_DB": str(folder / "tracker.db"),
            "RETENTION_FIRST_RUN_SECONDS": "3600", **extra}


def handoff_settings(folder: Path, **env: str) -> HandoffSettings:
    """The handoff service's settings from ``app_env``."""
    return HandoffSettings.from_env(app_env(folder, **env))


HANDOFF_TABLES = ("tickets", "messages", "agent_sessions")


def handoff_rows(folder: Path) -> dict[str, int]:
    """How many rows each of the handoff database's conversation tables holds."""
    with sqlite3.connect(folder / "handoff.db") as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
                for table in HANDOFF_TABLES}


async def console_login(server: TestServer, username: str, password: str) -> tuple[str, str]:
    """(session cookie, CSRF token) of a real login through the console's routes (the
    login page's CSRF cookie, then /api/login). The token is read from the store: a
    supervisor's /api/me would start loading the dashboard's encoder (seconds of CPU)."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(server.make_url("/console/login")) as page:
            await page.read()
        login_csrf = next(c.value for c in jar if c.key == api.LOGIN_CSRF_COOKIE)
        async with browser.post(server.make_url("/api/login"),
                                json={"username": username, "password": password},
                                headers={"X-CSRF-Token": login_csrf}) as answer:
            assert answer.status == 200, await answer.text()
        token = next(c.value for c in jar if c.key == api.SESSION_COOKIE)
    found = await server.app[api.ACCOUNTS].session_of(token)
    assert found is not None
    return token, found[1].csrf_token
