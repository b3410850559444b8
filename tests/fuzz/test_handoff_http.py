"""Every route of the handoff service and agent console, in process, under hostile input.

One real app (``create_app`` with test settings: SQLite databases in a temporary folder,
Rasa a closed port) serves every generated request. Properties: never a 5xx; an error
from ``/api`` or ``/webhooks`` is JSON with a message and shows no traceback or file
path; a refused request (4xx) stores no ticket, message or session; an accepted
escalation makes exactly one ticket however often it is sent; afterwards /health is ok.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.signing import sign
from handoff import api
from handoff.app import create_app
from handoff.quality import RangeError, parse_range
from handoff.settings import HandoffSettings
from tests import factories
from tests.factories import app_env
from tests.fuzz.conftest import Loop, examples

CALLS = itertools.count()
PASSWORD = "a long enough password"  # noqa: S105 (a test account)
SECRET = factories.WEBHOOK_SECRET
ROOT = str(Path(__file__).resolve().parents[2])


@dataclass
class Console:
    server: TestServer
    http: aiohttp.ClientSession
    folder: Path
    session: str           # a logged-in agent's cookie
    csrf: str              # and that session's CSRF token
    supervisor: str        # a supervisor's session cookie
    supervisor_csrf: str
    ticket_id: int         # a queued ticket

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    def counts(self) -> dict[str, int]:
        return factories.handoff_rows(self.folder)

    def tickets_of(self, escalation_id: str) -> int:
        with sqlite3.connect(self.folder / "handoff.db") as conn:
            return conn.execute("SELECT count(*) FROM tickets WHERE escalation_id = ?",
                                (escalation_id,)).fetchone()[0]


@pytest.fixture(scope="module")
def console(loop: Loop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("handoff-fuzz")
    settings_ = HandoffSettings.from_env(app_env(folder, HANDOFF_LOGIN_BACKOFF_SECONDS="0.01",
                                                 HANDOFF_LOGIN_MAX_WAIT_SECONDS="0.01",
                                                 HANDOFF_LOGIN_USER_MAX_WAIT_SECONDS="0.01"))
    server = TestServer(create_app(settings_), host="127.0.0.1")
    loop.run(server.start_server())
    accounts = server.app[api.ACCOUNTS]
    loop.run(accounts.add("anna", "Anna", PASSWORD, 3))
    loop.run(accounts.add("boss", "Boss", PASSWORD, 3, role="supervisor"))
    http = loop.run(_client())
    session, csrf = loop.run(factories.console_login(server, "anna", PASSWORD))
    boss = loop.run(factories.console_login(server, "boss", PASSWORD))
    body = json.dumps(escalation("seed")).encode()
    answer = loop.run(_post(http, server.make_url("/webhooks/escalations"), body,
                            sign(SECRET, body)))
    assert answer[0] == 201, answer
    made = Console(server, http, folder, session, csrf, boss[0], boss[1],
                   json.loads(answer[1])["ticket_id"])
    yield made
    loop.run(http.close())
    loop.run(server.close())


async def _client() -> aiohttp.ClientSession:
    """A client that keeps no cookies: each request carries the ones it is given."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())


async def _post(http: aiohttp.ClientSession, url: Any, body: bytes,
                headers: dict[str, str]) -> tuple[int, str]:
    async with http.post(url, data=body, headers=headers) as answer:
        return answer.status, await answer.text()


def escalation(conversation: str, **fields: Any) -> dict[str, Any]:
    return factories.escalation(conversation, at="2026-11-23T10:00:00+00:00", **fields)


# Strategies ------------------------------------------------------------------------------

printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)
nested = st.integers(1, 6000).map(lambda n: ("[" * n + "]" * n).encode())
bodies = st.one_of(
    st.just(b""),
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["text", "agent_id", "confirm", "username", "password"]),
                    json_values, max_size=3).map(lambda v: json.dumps(v).encode()),
    nested,
    st.just(b'{"text": "\xff\xfe"}'),
    st.just(b'{"text": "' + b"x" * (api.MAX_BODY_BYTES + 10) + b'"}'),
)
ticket_ids = st.one_of(st.integers(-(2**70), 2**70).map(str), printable,
                       st.sampled_from(["0", "-1", "1e3", "١", "00001"]))

CONSOLE_ROUTES = [
    ("GET", "/"), ("GET", "/health"), ("GET", "/console"), ("GET", "/console/login"),
    ("GET", "/static/console.js"), ("GET", "/static/../app.py"), ("POST", "/api/login"),
    ("GET", "/api/me"), ("GET", "/api/agents"), ("GET", "/api/queue"), ("GET", "/api/ws"),
    ("GET", "/api/metrics"), ("GET", "/api/metrics.csv"), ("GET", "/api/tickets/{id}"),
    ("POST", "/api/tickets/{id}/claim"), ("POST", "/api/tickets/{id}/messages"),
    ("POST", "/api/tickets/{id}/notes"), ("POST", "/api/tickets/{id}/transfer"),
    ("POST", "/api/tickets/{id}/release"), ("POST", "/api/tickets/{id}/resolve"),
    ("POST", "/api/tickets/{id}/erase"), ("POST", "/api/nowhere"), ("GET", "/webhooks/status"),
    ("DELETE", "/api/queue"),
]


def _check_answer(path: str, status: int, text: str) -> None:
    assert status < 500, (status, text[:300])
    assert "Traceback" not in text and ROOT not in text, text[:300]
    if status >= 400 and path.startswith(("/api/", "/webhooks/")):
        body = json.loads(text)
        assert isinstance(body.get("error"), str) and body["error"], body


@settings(max_examples=examples(150))
@given(route=st.sampled_from(CONSOLE_ROUTES), ticket=st.one_of(st.none(), ticket_ids),
       who=st.sampled_from(["agent", "supervisor", "nobody", "forged"]),
       csrf=st.sampled_from(["right", "wrong", "none"]),
       origin=st.sampled_from([None, "same", "null", "http://evil.example", "x"]),
       content_type=st.sampled_from(["application/json", "text/plain", None,
                                     "application/json; charset=latin-1", "multipart/form-data"]),
       body=bodies, query=st.dictionaries(printable, printable, max_size=3),
       extra=st.dictionaries(st.sampled_from(["X-Forwarded-For", "X-Forwarded-Host",
                                              "X-Forwarded-Proto", "Accept", "X-Other"]),
                             printable, max_size=2))
def test_console_routes_answer_every_request_with_a_clear_status(
        console: Console, loop: Loop, route: tuple[str, str], ticket: str | None, who: str,
        csrf: str, origin: str | None, content_type: str | None, body: bytes,
        query: dict[str, str], extra: dict[str, str]) -> None:
    method, template = route
    if who == "supervisor" and template in ("/api/me", "/api/metrics"):
        # A supervisor's /api/me and /api/metrics load the dashboard's question encoder
        # (a minute of CPU on two cores); /api/metrics.csv reads the same range and record.
        who = "agent"
    chosen = str(console.ticket_id) if ticket is None else ticket
    path = template.replace("{id}", quote(chosen, safe=""))
    headers = dict(extra)
    cookie = {"agent": console.session, "supervisor": console.supervisor, "nobody": None,
              "forged": console.session[:-2] + "xx"}[who]
    if cookie:
        headers["Cookie"] = f"{api.SESSION_COOKIE}={cookie}"
    token = console.supervisor_csrf if who == "supervisor" else console.csrf
    if csrf != "none":
        headers["X-CSRF-Token"] = token if csrf == "right" else token[::-1] + "!"
    if origin is not None:
        headers["Origin"] = console.url("/").rstrip("/") if origin == "same" else origin
    if content_type is not None:
        headers["Content-Type"] = content_type
    before = console.counts()

    async def send() -> tuple[int, str]:
        async with console.http.request(method, console.url(path), params=query,
                                        data=body if method == "POST" else None,
                                        headers=headers, allow_redirects=False) as answer:
            return answer.status, (await answer.read()).decode("utf-8", "replace")

    status, text = loop.run(send())
    _check_answer(path, status, text)
    if status >= 400:
        after = console.counts()
        assert after == before, (status, text[:200], before, after)


@settings(max_examples=examples(120))
@given(conversation=st.text(min_size=1, max_size=30),
       fields=st.dictionaries(
           st.sampled_from(["escalation_id", "conversation_id", "channel", "language",
                            "reason", "created_at", "transcript", "sentiment_trail", "order",
                            "detail", "outside_hours", "agents_back_at", "agents_back_text"]),
           json_values, max_size=3),
       transcript=st.lists(st.dictionaries(st.sampled_from(["role", "text", "at", "author"]),
                                           json_values, max_size=4), max_size=3),
       signed=st.sampled_from(["right", "wrong secret", "none", "old"]),
       twice=st.booleans())
def test_the_escalation_webhook_takes_a_good_escalation_once_and_refuses_the_rest(
        console: Console, loop: Loop, conversation: str, fields: dict[str, Any],
        transcript: list[dict[str, Any]], signed: str, twice: bool) -> None:
    # A new conversation every call: Hypothesis replays a case and must find it new again.
    payload = escalation(f"{conversation}-{next(CALLS)}", transcript=transcript)
    payload.update(fields)
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signed == "right":
        headers.update(sign(SECRET, body))
    elif signed == "wrong secret":
        headers.update(sign("v" * 32, body))
    elif signed == "old":
        headers.update(sign(SECRET, body, now=1_000_000_000))
    before = console.counts()
    status, text = loop.run(_post(console.http, console.url("/webhooks/escalations"), body,
                                  headers))
    _check_answer("/webhooks/escalations", status, text)
    if status >= 400:
        assert console.counts() == before
        assert signed == "right" or status == 401
        return
    assert signed == "right"
    answer = json.loads(text)
    if twice:  # the outbox retries: still one ticket
        again = loop.run(_post(console.http, console.url("/webhooks/escalations"), body,
                               {"Content-Type": "application/json", **sign(SECRET, body)}))
        assert again[0] == 200 and json.loads(again[1])["ticket_id"] == answer["ticket_id"]
    if isinstance(payload.get("escalation_id"), str):
        assert console.tickets_of(payload["escalation_id"]) == 1


@settings(max_examples=examples(60))
@given(body=bodies, signed=st.booleans())
def test_the_status_webhook_answers_any_body(console: Console, loop: Loop, body: bytes,
                                             signed: bool) -> None:
    headers = sign(SECRET, body) if signed else {}
    before = console.counts()
    status, text = loop.run(_post(console.http, console.url("/webhooks/status"), body,
                                  headers))
    _check_answer("/webhooks/status", status, text)
    assert console.counts() == before


@given(query=st.dictionaries(st.sampled_from(["from", "to", "channel", "language", "x"]),
                             st.one_of(printable, st.dates().map(str)), max_size=4),
       today=st.dates(date(2000, 1, 1), date(2100, 1, 1)))  # the shop's clock
def test_the_metrics_range_is_read_or_refused_with_a_message(query: dict[str, str],
                                                             today: Any) -> None:
    try:
        date_from, date_to, _, _ = parse_range(query, today)
    except RangeError as exc:
        assert str(exc)
    else:
        assert date_from <= date_to


def test_the_service_is_healthy_after_the_fuzzing(console: Console, loop: Loop) -> None:
    async def health() -> tuple[int, Any]:
        async with console.http.get(console.url("/health")) as answer:
            return answer.status, await answer.json()
    assert loop.run(health()) == (200, {"status": "ok"})
