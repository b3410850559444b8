"""The console's and the webhooks' HTTP contract, route by route, in process: the real app
(``create_app`` with its databases in a temporary folder, Rasa a closed port) behind
aiohttp's test client. Who may call what (401 without a session, 403 without the CSRF
token, from another origin or for a supervisor's route), what conflicts (409), what is
malformed (400, 415, 422), and that a refused call changes nothing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from contract.signing import sign
from handoff import api
from handoff.app import create_app
from handoff.settings import HandoffSettings
from tests import factories
from tests.factories import app_env

PASSWORD = "a long enough password"  # noqa: S105 (test accounts)
SECRET = factories.WEBHOOK_SECRET


@dataclass
class Session:
    cookie: str
    csrf: str

    def headers(self, csrf: str | None = None) -> dict[str, str]:
        return {"Cookie": f"{api.SESSION_COOKIE}={self.cookie}",
                "X-CSRF-Token": self.csrf if csrf is None else csrf}


@dataclass
class Console:
    client: TestClient[Any, Any]
    folder: Path
    anna: Session
    bob: Session
    boss: Session      # a supervisor
    ticket_id: int     # a queued ticket
    conversation: str  # its conversation

    async def call(self, method: str, path: str, session: Session | None = None,
                   body: Any = None, **headers: str) -> tuple[int, Any]:
        sent = {**(session.headers() if session else {}), **headers}
        data = None if body is None else (body if isinstance(body, bytes)
                                          else json.dumps(body).encode())
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        async with self.client.request(method, path, data=data, headers=sent) as answer:
            text = await answer.text()
            try:
                return answer.status, json.loads(text)
            except ValueError:
                return answer.status, text

    def rows(self) -> dict[str, int]:
        return factories.handoff_rows(self.folder)

    def status(self) -> str:
        with sqlite3.connect(self.folder / "handoff.db") as conn:
            return str(conn.execute("SELECT status FROM tickets WHERE id = ?",
                                    (self.ticket_id,)).fetchone()[0])


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    settings = HandoffSettings.from_env(app_env(tmp_path))
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(settings),
                                                         host="127.0.0.1"))
    await client.start_server()
    accounts = client.server.app[api.ACCOUNTS]
    await accounts.add("anna", "Anna", PASSWORD, 3)
    await accounts.add("bob", "Bob", PASSWORD, 3)
    await accounts.add("boss", "Boss", PASSWORD, 3, role="supervisor")
    sessions = [Session(*await factories.console_login(client.server, name, PASSWORD))
                for name in ("anna", "bob", "boss")]
    body = json.dumps(factories.escalation("routes-c1")).encode()
    async with client.post("/webhooks/escalations", data=body,
                           headers=sign(SECRET, body)) as answer:
        assert answer.status == 201, await answer.text()
        ticket_id = (await answer.json())["ticket_id"]
    yield Console(client, tmp_path, *sessions, ticket_id, "routes-c1")
    await client.close()


def console_routes(ticket: int) -> list[tuple[str, str, Any]]:
    """Every console API route, with a body that would be accepted."""
    return [("GET", "/api/me", None), ("GET", "/api/agents", None),
            ("GET", "/api/queue", None), ("GET", "/api/security-events", None),
            ("GET", f"/api/tickets/{ticket}", None),
            ("GET", "/api/metrics", None), ("GET", "/api/metrics.csv", None),
            ("POST", "/api/logout", {}),
            ("POST", f"/api/tickets/{ticket}/claim", {}),
            ("POST", f"/api/tickets/{ticket}/messages", {"text": "hello"}),
            ("POST", f"/api/tickets/{ticket}/notes", {"text": "a note"}),
            ("POST", f"/api/tickets/{ticket}/transfer", {"agent_id": 2}),
            ("POST", f"/api/tickets/{ticket}/release", {}),
            ("POST", f"/api/tickets/{ticket}/resolve", {}),
            ("POST", f"/api/tickets/{ticket}/erase", {"confirm": "routes-c1"})]


async def test_every_console_route_needs_a_live_session(console: Console) -> None:
    before = console.rows()
    stale = Session("not-a-session", "x")
    for method, path, body in console_routes(console.ticket_id):
        for session in (None, stale):
            status, answer = await console.call(method, path, session, body)
            assert (status, answer) == (401, {"error": "not logged in"}), (method, path)
    assert console.rows() == before and console.status() == "queued"


async def test_every_write_needs_the_sessions_csrf_token_and_same_origin(
        console: Console) -> None:
    before = console.rows()
    writes = [(m, p, b) for m, p, b in console_routes(console.ticket_id) if m == "POST"]
    for _method, path, body in writes:
        for csrf in ("", "wrong", console.bob.csrf):  # another session's token is wrong too
            status, answer = await console.call(
                "POST", path, None, body, **console.boss.headers(csrf=csrf))
            assert status == 403 and "CSRF" in answer["error"], (path, csrf)
        status, answer = await console.call("POST", path, console.boss, body,
                                            Origin="https://evil.example")
        assert (status, answer["error"]) == (403, "cross-origin request refused"), path
        status, answer = await console.call("POST", path, console.boss, b"text=hi",
                                            **{"Content-Type": "text/plain"})
        assert status == 415 and "JSON" in answer["error"], path
    assert console.rows() == before and console.status() == "queued"


async def test_the_dashboard_and_erasure_rules(console: Console) -> None:
    for path in ("/api/metrics", "/api/metrics.csv"):
        status, answer = await console.call("GET", path, console.anna)
        assert status == 403 and "supervisors" in answer["error"]
    status, answer = await console.call("GET", "/api/metrics?from=yesterday", console.boss)
    assert status == 400 and "from" in answer["error"]
    erase = f"/api/tickets/{console.ticket_id}/erase"
    for body in ({}, {"confirm": "another-conversation"}):
        status, answer = await console.call("POST", erase, console.boss, body)
        assert status == 422 and "confirm" in answer["error"]
    assert (await console.call("POST", "/api/tickets/999/erase", console.boss,
                               {"confirm": "x"}))[0] == 404
    assert console.status() == "queued"


async def test_conflicts_are_409_with_words_for_the_agent(console: Console) -> None:
    ticket = f"/api/tickets/{console.ticket_id}"
    assert (await console.call("POST", f"{ticket}/claim", console.anna, {}))[0] == 200
    status, answer = await console.call("POST", f"{ticket}/claim", console.bob, {})
    assert status == 409 and answer["error"]
    for action, body in (("messages", {"text": "hi"}), ("release", {}), ("resolve", {}),
                         ("transfer", {"agent_id": 1})):
        status, answer = await console.call("POST", f"{ticket}/{action}", console.bob, body)
        assert (status, answer) == (409, {"error": "This chat is not assigned to you: "
                                                   "claim it first."}), action
    for body, words in (({"text": "   "}, "empty"), ({"text": "x" * 4001}, "too long")):
        status, answer = await console.call("POST", f"{ticket}/messages", console.anna, body)
        assert status == 409 and words in answer["error"]
    status, answer = await console.call("POST", f"{ticket}/transfer", console.anna, {})
    assert (status, answer["error"]) == (409, "Choose the agent to transfer to.")
    status, answer = await console.call("POST", f"{ticket}/erase", console.boss,
                                        {"confirm": console.conversation})
    assert status == 409 and "another agent has this chat" in answer["error"]
    assert console.status() == "assigned"
    # and the owner's own actions go through
    status, answer = await console.call("POST", f"{ticket}/messages", console.anna,
                                        {"text": "Hello, Anna here"})
    assert status == 201 and answer["message"]["text"] == "Hello, Anna here"


async def test_malformed_bodies_are_400_and_unknown_chats_404(console: Console) -> None:
    before = console.rows()
    claim = f"/api/tickets/{console.ticket_id}/claim"
    for raw, words in ((b"{not json", "must be JSON"), (b"[1, 2]", "JSON object")):
        status, answer = await console.call("POST", claim, console.anna, raw)
        assert status == 400 and words in answer["error"]
    for path in ("/api/tickets/999", "/api/tickets/abc"):
        status, answer = await console.call("GET", path, console.anna)
        assert (status, answer) == (404, {"error": "no such chat"})
    status, answer = await console.call("GET", "/api/nothing-here", console.anna)
    assert status == 404 and answer["error"]
    assert console.rows() == before and console.status() == "queued"


async def test_login_refusals(console: Console) -> None:
    client = console.client
    async with client.get("/console/login") as page:
        await page.read()
    login_csrf = next(c.value for c in client.session.cookie_jar
                      if c.key == api.LOGIN_CSRF_COOKIE)
    async with client.post("/api/login", json={"username": "anna", "password": "wrong"},
                           headers={"X-CSRF-Token": login_csrf}) as answer:
        assert answer.status == 401
        assert await answer.json() == {"error": "wrong username or password"}
    async with client.post("/api/login", json={"username": "anna", "password": PASSWORD},
                           headers={"X-CSRF-Token": "forged"}) as answer:
        assert answer.status == 403
    client.session.cookie_jar.clear()
    sessions = console.rows()["agent_sessions"]
    assert sessions == 3  # the fixture's three logins, none from the refused ones


async def test_webhooks_refuse_unsigned_and_malformed_bodies(console: Console) -> None:
    before = console.rows()
    body = json.dumps(factories.escalation("routes-c2")).encode()
    status, answer = await console.call("POST", "/webhooks/escalations", None, body)
    assert status == 401 and "signature" in answer["error"]
    forged = sign("x" * 32, body)
    status, answer = await console.call("POST", "/webhooks/escalations", None, body, **forged)
    assert status == 401
    bad = json.dumps(factories.escalation("routes-c3", reason="bored")).encode()
    status, answer = await console.call("POST", "/webhooks/escalations", None, bad,
                                        **sign(SECRET, bad))
    assert (status, answer) == (422, {"error": "unknown reason 'bored'"})
    empty = json.dumps({}).encode()
    status, answer = await console.call("POST", "/webhooks/status", None, empty,
                                        **sign(SECRET, empty))
    assert status == 422 and "conversation_id" in answer["error"]
    assert console.rows() == before
    # a signed, valid escalation of a new conversation is taken once, however often sent
    for expected in (201, 200):
        status, answer = await console.call("POST", "/webhooks/escalations", None, body,
                                            **sign(SECRET, body))
        assert status == expected and answer["created"] is (expected == 201)
    assert console.rows()["tickets"] == before["tickets"] + 1
