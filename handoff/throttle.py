"""Console login throttling: exponential back-off, shared by every handoff process.

Failed logins are counted under three keys, in the ``login_throttle`` table of the handoff
database (so every process and a restart see the same counts):

* *pair*: one username from one client: the back-off starts after
  ``HANDOFF_LOGIN_FAILURES`` failures (5); the first wait is
  ``HANDOFF_LOGIN_BACKOFF_SECONDS`` (1 s) and doubles with each further failure, up to
  ``HANDOFF_LOGIN_MAX_WAIT_SECONDS`` (15 min);
* *client*: every username from one client (password spraying): from
  ``HANDOFF_LOGIN_CLIENT_FAILURES`` (20), the same waits;
* *account*: one username from every client (guessing spread over many addresses): from
  ``HANDOFF_LOGIN_USER_FAILURES`` (10), capped lower, at
  ``HANDOFF_LOGIN_USER_MAX_WAIT_SECONDS`` (60 s): a stranger elsewhere can slow an agent
  down, never lock them out. A browser where the agent has logged in before (the signed
  ``handoff_device`` cookie) is not subject to it; its failures count under its own key
  instead, with the pair's limits.

The client is the peer address; ``X-Forwarded-For`` only counts when the peer is one of
``HANDOFF_TRUSTED_PROXIES``. Every attempt is counted *before* the password hash is
awaited, in one transaction that holds the rows' lock (SQLite: the write lock its first
statement takes; PostgreSQL: ``SELECT ... FOR UPDATE``), so concurrent attempts cannot all
pass the check. A success takes back its own count on the account and resets the client's,
the pair's and the browser's. Counts are forgotten ``HANDOFF_LOGIN_FORGET_SECONDS`` (1 h)
after the last failure. The keys are SHA-256 hashes: the table holds no username or address.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from contract.addresses import Network
from handoff.store import Database, LoginThrottleRow, aware, utcnow

DEVICE_COOKIE = "handoff_device"
DEVICE_COOKIE_DAYS = 180
PRUNE_EVERY_SECONDS = 600.0
REPORT_EVERY_SECONDS = 60.0
MAX_COOKIE_CHARS = 200



@dataclass(frozen=True)
class ThrottleSettings:
    failures: int = 5                  # per username at one client (or one browser)
    client_failures: int = 20          # per client, any usernames
    user_failures: int = 10            # per username, every client without its cookie
    backoff_seconds: float = 1.0       # the first wait; doubles per further failure
    max_wait_seconds: float = 900.0
    user_max_wait_seconds: float = 60.0
    forget_seconds: float = 3600.0
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    free: int       # failures before the first wait
    cap: float      # the longest wait, seconds
    reset_on_success: bool


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may check its password; if not, for how long to wait."""

    allowed: bool
    retry_after: float = 0.0
    counted: tuple[tuple[str, Rule], ...] = field(default=())


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def normalise(username: str) -> str:
    return username.strip().lower()


# Who is asking ------------------------------------------------------------------------------

def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """``HANDOFF_TRUSTED_PROXIES`` entries (addresses or CIDR blocks); ValueError if bad."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False)
                 for value in values if value.strip())


# Browsers where an agent logged in before ---------------------------------------------------

def _device_mac(secret: str, username: str, nonce: str) -> str:
    key = hmac.new(secret.encode(), b"handoff login device cookie", hashlib.sha256).digest()
    return hmac.new(key, f"{normalise(username)}\0{nonce}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def new_device_cookie(secret: str, username: str) -> str:
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_device_mac(secret, username, nonce)}"


def device_of(secret: str, username: str, cookie: str | None) -> str | None:
    """The browser's id if ``cookie`` is this username's device cookie, else None."""
    if not cookie or len(cookie) > MAX_COOKIE_CHARS:
        return None
    nonce, _, mac = cookie.partition(".")
    if not nonce or not mac:
        return None
    return nonce if hmac.compare_digest(mac, _device_mac(secret, username, nonce)) else None


# The counts -----------------------------------------------------------------------------------

class LoginThrottle:
    def __init__(self, db: Database, settings: ThrottleSettings,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.proxies = parse_networks(settings.trusted_proxies)
        self.clock = clock
        self._lock = asyncio.Lock()   # one transaction at a time in this process
        self._pruned = 0.0
        self._refused, self._reported = 0, 0.0
        s = settings
        self.pair = Rule(s.failures, s.max_wait_seconds, reset_on_success=True)
        self.client = Rule(s.client_failures, s.max_wait_seconds, reset_on_success=True)
        self.account = Rule(s.user_failures, s.user_max_wait_seconds, reset_on_success=False)
        self.device = Rule(s.failures, s.max_wait_seconds, reset_on_success=True)

    def wait_after(self, failures: int, rule: Rule) -> float:
        """The wait once a key has ``failures`` failures (0 below the rule's limit)."""
        if failures < rule.free:
            return 0.0
        doublings = min(failures - rule.free, 40)
        return min(rule.cap, self.settings.backoff_seconds * 2.0 ** doublings)

    def keys(self, username: str, client: str,
             device: str | None) -> tuple[tuple[str, Rule], ...]:
        user = normalise(username)
        third = (_hash("device", device), self.device) if device is not None \
            else (_hash("account", user), self.account)
        return ((_hash("pair", user, client), self.pair), (_hash("client", client), self.client),
                third)

    async def attempt(self, username: str, client: str, device: str | None = None) -> Verdict:
        """Check and count an attempt, before its password is checked: refused while any of
        its keys waits; otherwise counted as a failure under every key until ``succeeded``."""
        keys = sorted(self.keys(username, client, device), key=lambda item: item[0])
        async with self._lock:
            now = self.clock()  # once the lock is ours: no earlier than any attempt before
            forget = now - timedelta(seconds=self.settings.forget_seconds)
            await self._prune(now, forget)
            async with self.db.sessions.begin() as session:
                # A write first: on SQLite it takes the database's write lock for the whole
                # transaction; on PostgreSQL the rows are then locked one by one, in order.
                insert = pg_insert if self.db.is_postgres else sqlite_insert
                await session.execute(
                    insert(LoginThrottleRow)
                    .values([{"key": key, "failures": 0, "last_at": now} for key, _ in keys])
                    .on_conflict_do_nothing(index_elements=["key"]))
                rows = {row.key: row for row in await session.scalars(
                    select(LoginThrottleRow)
                    .where(LoginThrottleRow.key.in_([key for key, _ in keys]))
                    .order_by(LoginThrottleRow.key).with_for_update())}
                wait = 0.0
                for key, _rule in keys:
                    row = rows[key]
                    if (aware(row.last_at) or now) < forget:
                        row.failures, row.blocked_until = 0, None
                    blocked = aware(row.blocked_until)
                    if blocked is not None and blocked > now:
                        wait = max(wait, (blocked - now).total_seconds())
                if wait > 0:
                    return Verdict(False, wait)
                for key, rule in keys:
                    row = rows[key]
                    row.failures += 1
                    row.last_at = now
                    pause = self.wait_after(row.failures, rule)
                    row.blocked_until = now + timedelta(seconds=pause) if pause else None
        return Verdict(True, counted=tuple(keys))

    async def succeeded(self, verdict: Verdict) -> None:
        """The attempt's password was right: take back what it counted (statements that
        write first, so SQLite never has to upgrade a read lock)."""
        async with self._lock, self.db.sessions.begin() as session:
            for key, rule in verdict.counted:
                row = LoginThrottleRow.key == key
                if rule.reset_on_success:
                    await session.execute(update(LoginThrottleRow).where(row)
                                          .values(failures=0, blocked_until=None))
                    continue
                await session.execute(update(LoginThrottleRow).where(row).values(
                    failures=case((LoginThrottleRow.failures > 0,
                                   LoginThrottleRow.failures - 1), else_=0)))
                await session.execute(update(LoginThrottleRow)
                                      .where(row, LoginThrottleRow.failures < rule.free)
                                      .values(blocked_until=None))

    def refused_to_report(self) -> int:
        """Count a refusal; every minute at most, how many there were to log (else 0), so
        a flood of attempts cannot flood the log."""
        self._refused += 1
        if time.monotonic() - self._reported < REPORT_EVERY_SECONDS:
            return 0
        count, self._refused, self._reported = self._refused, 0, time.monotonic()
        return count

    async def _prune(self, now: datetime, forget: datetime) -> None:
        """Now and then, drop the counts nobody needs any more (forgotten, not waiting)."""
        if time.monotonic() - self._pruned < PRUNE_EVERY_SECONDS:
            return
        self._pruned = time.monotonic()
        async with self.db.sessions.begin() as session:
            await session.execute(delete(LoginThrottleRow).where(
                LoginThrottleRow.last_at < forget,
                or_(LoginThrottleRow.blocked_until.is_(None),
                    LoginThrottleRow.blocked_until < now)))
