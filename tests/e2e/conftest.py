"""The real Rasa server and action server on free loopback ports, for the whole session,
with the Telegram Bot API emulator that the Telegram channel talks to.

Both run from their own environments with their own databases in a temporary folder and
the clock pinned (ASSISTANT_FIXED_NOW), so answers are the same on every run. The model
is the newest in models/ (``make test`` trains it first; without one, this trains).
"""

from __future__ import annotations

import http.cookiejar
import json
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from bot import processes
from tests.e2e.http_json import exchange
from tests.e2e.telegram_client import Telegram
from tests.servers import start_telegram_emulator

PINNED_NOW = "2026-11-23T10:00:00+00:00"  # Monday, 11:00 in Berlin


def new_sender(prefix: str) -> str:
    """A fresh conversation id for one test."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def button_payloads(replies: list[dict[str, Any]]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons") or []]


class Console:
    """The agent console's HTTP API as one logged-in agent uses it (cookie jar, CSRF)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = ""

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method,
            headers={"Content-Type": "application/json", "X-CSRF-Token": self.csrf,
                     **(headers or {})})
        return exchange(request, self.opener, timeout=30)

    def login(self, username: str, password: str) -> None:
        self.opener.open(self.base_url + "/console/login", timeout=30).read()
        self.csrf = next(c.value for c in self.jar if c.name == "handoff_csrf")
        status, body = self.call("POST", "/api/login",
                                 {"username": username, "password": password})
        assert status == 200, body
        status, me = self.call("GET", "/api/me")
        assert status == 200, me
        self.csrf = me["csrf_token"]

    def queue(self) -> list[dict[str, Any]]:
        status, body = self.call("GET", "/api/queue")
        assert status == 200, body
        return list(body["tickets"])

    def ticket_of(self, conversation_id: str, timeout: float = 20) -> dict[str, Any]:
        """The open ticket of a conversation, waiting for the escalation to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [t for t in self.queue() if t["conversation_id"] == conversation_id]
            if found:
                return found[0]
            time.sleep(0.2)
        raise AssertionError(f"no ticket for {conversation_id} within {timeout} s")

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        status, body = self.call("GET", f"/api/tickets/{ticket_id}")
        assert status == 200, body
        return dict(body)

    def act(self, ticket_id: int, action: str, body: Any = None) -> tuple[int, Any]:
        return self.call("POST", f"/api/tickets/{ticket_id}/{action}",
                         {} if body is None else body)


@dataclass
class Assistant:
    url: str
    token: str
    shop_db: Path
    stack: processes.Stack | None = None
    agents: dict[str, str] = field(default_factory=dict)
    telegram: Telegram | None = None  # the bot's settings and the Bot API emulator

    @property
    def handoff_url(self) -> str:
        assert self.stack is not None
        return self.stack.handoff_url

    def add_agent(self, username: str, name: str, max_chats: int = 3) -> tuple[str, str]:
        """An agent account made with the real CLI; returns (username, password)."""
        assert self.stack is not None
        password = f"pw-{uuid.uuid4().hex}"
        result = subprocess.run(
            [str(processes.services_python()), "-m", "bot", "agent", "add", username, "--name",
             name, "--max-chats", str(max_chats), "--password-stdin"],
            input=password + "\n", text=True, capture_output=True, env=self.stack.env,
            cwd=processes.ROOT, check=False)
        assert result.returncode == 0, result.stderr
        self.agents[username] = password
        return username, password

    def console(self, username: str, name: str | None = None, max_chats: int = 3) -> Console:
        """A logged-in console for this agent (the account is created if needed)."""
        if username not in self.agents:
            self.add_agent(username, name or username.title(), max_chats)
        console = Console(self.handoff_url)
        console.login(username, self.agents[username])
        return console

    def pushed(self, sender: str, after: float = 0.0, wait: float = 0.0) -> dict[str, Any]:
        """Messages an agent or the handoff service sent this customer (REST long poll)."""
        url = (f"{self.url}/webhooks/rest/messages?sender={sender}&after={after}"
               f"&wait={wait}")
        with urllib.request.urlopen(url, timeout=wait + 30) as response:
            return dict(json.loads(response.read()))

    def wait_pushed(self, sender: str, match: Callable[[dict[str, Any]], bool],
                    timeout: float = 20) -> dict[str, Any]:
        """The first pushed message that matches, waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.pushed(sender, wait=1)["messages"]:
                if match(message):
                    return message
        raise AssertionError(f"no matching message for {sender} within {timeout} s")

    def post(self, body: bytes, content_type: str = "application/json") -> tuple[int, Any]:
        request = urllib.request.Request(f"{self.url}/webhooks/rest/webhook", data=body,
                                         headers={"Content-Type": content_type})
        return exchange(request, timeout=60)

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


def wait_for(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy, with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


def hand_back_all(console: Console, prefix: str) -> None:
    """Claim and resolve every open ticket of conversations starting with ``prefix``, so a
    module leaves the session's shared queue as it found it."""
    for ticket in console.queue():
        if ticket["conversation_id"].startswith(prefix):
            console.act(ticket["id"], "claim")
            console.act(ticket["id"], "resolve")


def customer_texts(console: Console, ticket_id: int) -> list[str]:
    """What the customer said in a ticket, as the agent's console shows it."""
    return [m["text"] for m in console.ticket(ticket_id)["messages"] if m["kind"] == "customer"]


@contextmanager
def console_page(browser: Browser, assistant: Assistant, username: str,
                 wait_ms: int = 10_000) -> Iterator[Page]:
    """A fresh browser context, signed in to the agent console as ``username``."""
    context = browser.new_context(base_url=assistant.handoff_url,
                                  viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto("/console/login")
        page.get_by_test_id("login-username").fill(username)
        page.get_by_test_id("login-password").fill(assistant.agents[username])
        page.get_by_test_id("login-submit").click()
        page.wait_for_url(f"{assistant.handoff_url}/console")
        expect(page.get_by_test_id("ws-status")).to_have_attribute("data-state", "open",
                                                                    timeout=wait_ms)
        yield page
    finally:
        context.close()


def serve_assistant(folder: Path, extra_env: dict[str, str] | None = None) -> Iterator[Assistant]:
    """The whole stack in ``folder`` with the Bot API emulator, for a fixture to yield from.

    Fails the fixture's teardown when any server logged a traceback.
    """
    logs: list[str] = []
    emulator = start_telegram_emulator()  # Telegram's Bot API, for the Telegram channel
    try:
        rasa_port = processes.free_port()
        telegram = Telegram.for_rasa_port(emulator.url, rasa_port)
        stack = processes.start_stack(folder, fixed_now=PINNED_NOW, sink=logs.append,
                                      extra_env={**telegram.env(), **(extra_env or {})},
                                      rasa_port=rasa_port)
        yield Assistant(stack.url, stack.token, folder / "shop.db", stack, telegram=telegram)
        stack.stop()
    finally:
        emulator.stop()
    tracebacks = [line for line in logs if "Traceback" in line]
    assert not tracebacks, "a server logged a traceback:\n" + "\n".join(logs[-80:])


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    yield from serve_assistant(tmp_path_factory.mktemp("assistant"))
