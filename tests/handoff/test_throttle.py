"""Login throttling: counted before the hash, atomic, shared through the database, and a
stranger elsewhere cannot lock a real agent out.

The HTTP tests run the whole handoff app on loopback; clients at different addresses are
real connections from 127.0.0.2, 127.0.0.3, ... (Linux routes all of 127/8 to loopback).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from contract.addresses import client_address
from handoff import api
from handoff.app import create_app
from handoff.settings import HandoffSettings, SettingsError
from handoff.store import Database, open_database
from handoff.throttle import (
    LoginThrottle,
    ThrottleSettings,
    device_of,
    new_device_cookie,
    parse_networks,
)
from tests.handoff.clocks import Clock
from tests.handoff.conftest import app_env

PASSWORD = "a long enough password"  # noqa: S105 - a test account


# The counts, with a pinned clock -------------------------------------------------------------

def throttle(db: Database, clock: Clock, **options: Any) -> LoginThrottle:
    return LoginThrottle(db, replace(ThrottleSettings(), **options), clock=clock)


async def test_the_wait_doubles_after_the_limit_up_to_the_cap(db: Database) -> None:
    clock = Clock()
    guard = throttle(db, clock, failures=5, client_failures=100, user_failures=100,
                     backoff_seconds=1, max_wait_seconds=8)
    for _ in range(5):
        assert (await guard.attempt("anna", "10.0.0.1")).allowed
    waits = []
    for _ in range(6):
        refused = await guard.attempt("anna", "10.0.0.1")
        assert not refused.allowed
        waits.append(refused.retry_after)
        clock.advance(refused.retry_after)
        assert (await guard.attempt("anna", "10.0.0.1")).allowed  # one try, then wait again
    assert waits == [1, 2, 4, 8, 8, 8]
    # Another account from the same client and the same account elsewhere are not waiting.
    assert (await guard.attempt("boris", "10.0.0.1")).allowed
    assert (await guard.attempt("anna", "10.0.0.2")).allowed


async def test_a_success_resets_the_client_and_takes_back_only_its_own_account_count(
        db: Database) -> None:
    clock = Clock()
    guard = throttle(db, clock, failures=3, client_failures=100, user_failures=6,
                     backoff_seconds=30, user_max_wait_seconds=10)
    for _ in range(3):  # a stranger, elsewhere
        assert (await guard.attempt("anna", "10.0.0.66")).allowed
    for _ in range(2):  # anna mistypes twice at her desk, then gets it right
        assert (await guard.attempt("anna", "10.0.0.1")).allowed
    right = await guard.attempt("anna", "10.0.0.1")
    assert right.allowed
    await guard.succeeded(right)
    # Her client and pair start afresh (else a 30 s wait), and her success is not counted
    # against the account (else it would be at its limit of 6 and wait)...
    assert (await guard.attempt("anna", "10.0.0.1")).allowed
    # ...but the stranger's failures still count there: 3 + 2 + 1, over the limit, 10 s cap.
    refused = await guard.attempt("anna", "10.0.0.1")
    assert not refused.allowed and refused.retry_after == 10
    clock.advance(3600)  # forgotten an hour after the last failure
    assert (await guard.attempt("anna", "10.0.0.1")).allowed


async def test_a_known_browser_is_not_slowed_by_failures_elsewhere(db: Database) -> None:
    clock = Clock()
    guard = throttle(db, clock, failures=5, user_failures=10, backoff_seconds=30)
    let_in = [sum([(await guard.attempt("anna", f"203.0.113.{n}")).allowed for _ in range(6)])
              for n in range(4)]  # strangers at four addresses
    assert let_in == [5, 5, 0, 0]   # the account waits after 10, whatever the address
    fresh = await guard.attempt("anna", "10.0.0.1")
    assert not fresh.allowed and 0 < fresh.retry_after <= 60  # moderate, never a lock
    known = await guard.attempt("anna", "10.0.0.1", device="her-browser")
    assert known.allowed


async def test_concurrent_attempts_cannot_all_pass(db: Database) -> None:
    """Two throttles on their own connections (two processes) and 40 attempts at once:
    exactly the limit gets through."""
    clock = Clock()
    other = Database(*_reopen(db))
    try:
        first = throttle(db, clock, backoff_seconds=60)
        second = throttle(other, clock, backoff_seconds=60)
        verdicts = await asyncio.gather(*(
            (first if n % 2 else second).attempt("anna", "10.0.0.1") for n in range(40)))
        assert sum(v.allowed for v in verdicts) == 5
    finally:
        await other.engine.dispose()


def _reopen(db: Database) -> tuple[Any, Any]:
    again = open_database(db.engine.url.render_as_string(hide_password=False))
    return again.engine, again.sessions


def test_the_client_is_the_peer_unless_it_is_a_trusted_proxy(tmp_path: Path) -> None:
    proxies = parse_networks(["10.0.0.0/8", "::1"])
    spoofed = "198.51.100.7"
    assert client_address("203.0.113.5", spoofed, proxies) == "203.0.113.5"
    assert client_address("203.0.113.5", spoofed, ()) == "203.0.113.5"
    assert client_address("10.1.2.3", f"{spoofed}, 203.0.113.5", proxies) == "203.0.113.5"
    assert client_address("::1", "203.0.113.5, 10.9.9.9", proxies) == "203.0.113.5"
    assert client_address("10.1.2.3", "10.7.7.7", proxies) == "10.7.7.7"
    assert client_address(None, None, proxies) == "unknown"
    with pytest.raises(SettingsError, match="HANDOFF_TRUSTED_PROXIES"):
        HandoffSettings.from_env(app_env(tmp_path, HANDOFF_TRUSTED_PROXIES="10.0.0.300"))


def test_device_cookies_are_bound_to_the_username_and_the_secret() -> None:
    cookie = new_device_cookie("s" * 32, "anna")
    assert device_of("s" * 32, " Anna", cookie) == cookie.split(".")[0]
    assert device_of("s" * 32, "boris", cookie) is None
    assert device_of("t" * 32, "anna", cookie) is None
    tampered = cookie[:-1] + ("1" if cookie.endswith("0") else "0")  # always a change
    assert device_of("s" * 32, "anna", tampered) is None
    assert device_of("s" * 32, "anna", "junk") is None


# Through the real app -----------------------------------------------------------------------

@dataclass
class Console:
    server: TestServer
    settings: HandoffSettings

    @property
    def url(self) -> str:
        return str(self.server.make_url(""))

    async def add_agent(self, username: str) -> None:
        await self.server.app[api.ACCOUNTS].add(username, username.title(), PASSWORD, 3)


class Browser:
    """One browser at one loopback address, with its own cookies."""

    def __init__(self, console: Console, address: str = "127.0.0.1",
                 forwarded_for: str | None = None) -> None:
        self.console = console
        self.forwarded_for = forwarded_for
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(address, 0)),
            cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def login(self, username: str, password: str) -> tuple[int, dict[str, Any], str]:
        """(status, body, Retry-After) of one login."""
        if not self.csrf:
            async with self.http.get(self.console.url + "/console/login") as page:
                await page.read()
            self.csrf = next(c.value for c in self.http.cookie_jar if c.key == "handoff_csrf")
        headers = {"X-CSRF-Token": self.csrf}
        if self.forwarded_for:
            headers["X-Forwarded-For"] = self.forwarded_for
        async with self.http.post(self.console.url + "/api/login", headers=headers,
                                  json={"username": username, "password": password}) as r:
            return r.status, await r.json(), r.headers.get("Retry-After", "")

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def start_console(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    servers: list[TestServer] = []
    browsers: list[Browser] = []

    async def start(**env: str) -> Console:
        settings = HandoffSettings.from_env(app_env(tmp_path, **env))
        server = TestServer(create_app(settings), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return Console(server, settings)

    start.browsers = browsers  # type: ignore[attr-defined]
    yield start
    for browser in browsers:
        await browser.close()
    for server in reversed(servers):
        await server.close()


def browser(start: Any, console: Console, address: str = "127.0.0.1", **kw: Any) -> Browser:
    made = Browser(console, address, **kw)
    start.browsers.append(made)
    return made


async def test_forty_concurrent_wrong_logins_get_five_401_and_the_rest_429(
        start_console: Any) -> None:
    console = await start_console(HANDOFF_LOGIN_BACKOFF_SECONDS="30")
    await console.add_agent("anna")
    attacker = browser(start_console, console)
    answers = await asyncio.gather(*(attacker.login("anna", f"guess {n}") for n in range(40)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses.count(401) == 5 and statuses.count(429) == 35
    refused = [(body, after) for status, body, after in answers if status == 429]
    assert all(1 <= int(after) <= 30 and f"try again in {after} s" in body["error"]
               for body, after in refused)
    # Right now even the right password waits at this client...
    assert (await attacker.login("anna", PASSWORD))[0] == 429
    # ...but anna, at her own desk, logs straight in.
    assert (await browser(start_console, console, "127.0.0.2").login("anna", PASSWORD))[0] == 200


async def test_a_stranger_elsewhere_cannot_lock_the_agent_out(start_console: Any) -> None:
    console = await start_console(HANDOFF_LOGIN_BACKOFF_SECONDS="30")
    await console.add_agent("anna")
    desk = browser(start_console, console, "127.0.0.2")
    assert (await desk.login("anna", PASSWORD))[0] == 200  # her browser is known from now on
    for n in range(3, 7):  # strangers at four other addresses
        stranger = browser(start_console, console, f"127.0.0.{n}")
        statuses = [(await stranger.login("anna", "guess"))[0] for _ in range(6)]
        # The pair waits after 5; the account after 10, from any address.
        assert statuses == ([401] * 5 + [429] if n < 5 else [429] * 6)
    # Her own browser logs in at once; a browser she never used waits, at most a minute.
    assert (await desk.login("anna", PASSWORD))[0] == 200
    status, body, after = await browser(start_console, console, "127.0.0.2").login(
        "anna", PASSWORD)
    assert status == 429 and 1 <= int(after) <= 60, body


async def test_forwarded_for_counts_only_from_trusted_proxies(start_console: Any,
                                                             tmp_path: Path) -> None:
    console = await start_console(HANDOFF_LOGIN_BACKOFF_SECONDS="30")
    await console.add_agent("anna")
    # Untrusted: a made-up X-Forwarded-For changes nothing.
    rotating = [browser(start_console, console, forwarded_for=f"198.51.100.{n}")
                for n in range(6)]
    assert [(await b.login("anna", "guess"))[0] for b in rotating] == [401] * 5 + [429]

    proxied = await start_console(HANDOFF_LOGIN_BACKOFF_SECONDS="30",
                                  HANDOFF_TRUSTED_PROXIES="127.0.0.8",
                                  HANDOFF_DB_URL=f"sqlite+aiosqlite:///{tmp_path / 'proxy.db'}")
    await proxied.add_agent("anna")
    behind = [browser(start_console, proxied, "127.0.0.8", forwarded_for=f"198.51.100.{n}")
              for n in range(2)]
    assert [(await behind[0].login("anna", "guess"))[0] for _ in range(6)] == [401] * 5 + [429]
    assert (await behind[1].login("anna", PASSWORD))[0] == 200  # another client behind it


async def test_the_counts_are_shared_by_processes_and_survive_a_restart(
        start_console: Any) -> None:
    first = await start_console(HANDOFF_LOGIN_BACKOFF_SECONDS="30")
    await first.add_agent("anna")
    second = await start_console(HANDOFF_LOGIN_BACKOFF_SECONDS="30")  # same database
    one, two = browser(start_console, first), browser(start_console, second)
    assert [(await (one if n % 2 else two).login("anna", "guess"))[0] for n in range(5)] \
        == [401] * 5
    assert (await one.login("anna", PASSWORD))[0] == 429
    assert (await two.login("anna", PASSWORD))[0] == 429
    await first.server.close()
    await second.server.close()
    again = await start_console(HANDOFF_LOGIN_BACKOFF_SECONDS="30")
    assert (await browser(start_console, again).login("anna", PASSWORD))[0] == 429


async def test_known_and_unknown_usernames_take_as_long(start_console: Any) -> None:
    console = await start_console()
    await console.add_agent("anna")
    times: dict[str, list[float]] = {"anna": [], "nobody-here": []}
    for n in range(8):
        for side, (username, spent) in enumerate(times.items()):
            # Each from its own address: no back-off in the way.
            client = browser(start_console, console, f"127.0.1.{2 * n + side + 1}")
            started = time.perf_counter()
            status, _, _ = await client.login(username, "wrong password")
            spent.append(time.perf_counter() - started)
            assert status == 401
    known, unknown = (statistics.median(spent) for spent in times.values())
    # Both spend a scrypt hash (tens of ms); without one, an unknown name would answer in ~1 ms.
    assert 0.5 < unknown / known < 2, (known, unknown)
