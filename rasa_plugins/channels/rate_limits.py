"""Per-client rate limits of the channels: messages per minute, new conversations per window.

Budgets (README, settings table):

* ``CHANNEL_CONVERSATION_MESSAGES`` [20] per ``CHANNEL_MESSAGES_WINDOW_SECONDS`` [60]: one
  conversation (a REST sender, a widget session token with all its sockets and tabs, a
  Telegram chat). A person types a message every few seconds at most; 20 a minute leaves
  room for quick button presses.
* ``CHANNEL_CLIENT_MESSAGES`` [60] per ``CHANNEL_MESSAGES_WINDOW_SECONDS``: one client (an
  address for REST and the widget, a user id for Telegram), over all its conversations: a
  few people behind one office or carrier NAT still fit.
* ``CHANNEL_NEW_CONVERSATIONS`` [10] per ``CHANNEL_NEW_CONVERSATIONS_SECONDS`` [600]: new
  conversations one client opens (REST senders not seen before, widget sessions without a
  valid token, Telegram ``/start`` and ``/restart``). Nobody needs more than a few new chats
  with one shop in ten minutes; a script rotating conversation ids to start afresh does.

0 turns a budget off. Counting is a sliding window (this window's count plus the previous
window's, weighted by how much of it is still inside the last window), exact enough and
two counters per budget. Only accepted messages are counted, so a client that waits the
``Retry-After`` it was given gets through.

Where: with ``CHANNEL_LIMITS_REDIS_URL`` (default ``SOCKETIO_REDIS_URL``) in Redis, one
atomic script per message for all its budgets, shared by every Rasa process (``make
run-scaled`` sets it); without, in this process (one Rasa process: ``make run``).

Pure Python (redis is imported only when used), so the tests import it from the services'
environment.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from contract.settings import SettingsError, integer
from rasa_plugins.channels.client_identity import EdgeSettingsError

CONVERSATION_TTL_SECONDS = 24 * 3600.0  # a conversation quiet this long counts as new again
MEMORY_KEYS = 200_000
KEY_PREFIX = "orbita:channel-limits:"
STRINGS = yaml.safe_load((Path(__file__).with_name("strings") / "limits.yml")
                         .read_text(encoding="utf-8"))


def refusal_text(language: str | None, verdict: Verdict) -> str:
    """What the customer is told when a budget refuses their message, in their language."""
    table = STRINGS.get(language or "en") or STRINGS["en"]
    if verdict.refused_by == "new-conversations":
        minutes = max(1, math.ceil(verdict.retry_after / 60))
        return str(table["conversations"]).format(minutes=minutes)
    return str(table["messages"]).format(seconds=verdict.retry_seconds)


@dataclass(frozen=True)
class LimitSettings:
    conversation_messages: int = 20
    client_messages: int = 60
    new_conversations: int = 10
    new_conversations_seconds: float = 600.0
    redis_url: str | None = None
    messages_seconds: float = 60.0


def _count(environ: Mapping[str, str], variable: str, default: int) -> int:
    try:
        return integer(environ, variable, default, 0, what="a whole number >= 0",
                       hint=" (0 turns the limit off)")
    except SettingsError as exc:
        raise EdgeSettingsError(str(exc)) from exc


def load_limits(environ: Mapping[str, str]) -> LimitSettings:
    seconds = {}
    for variable, default in (("CHANNEL_NEW_CONVERSATIONS_SECONDS", 600),
                              ("CHANNEL_MESSAGES_WINDOW_SECONDS", 60)):
        seconds[variable] = _count(environ, variable, default)
        if seconds[variable] < 1:
            raise EdgeSettingsError(f"{variable} must be a whole number of seconds, at least 1")
    redis_url = (environ.get("CHANNEL_LIMITS_REDIS_URL") or environ.get("SOCKETIO_REDIS_URL")
                 or "").strip() or None
    return LimitSettings(
        conversation_messages=_count(environ, "CHANNEL_CONVERSATION_MESSAGES", 20),
        client_messages=_count(environ, "CHANNEL_CLIENT_MESSAGES", 60),
        new_conversations=_count(environ, "CHANNEL_NEW_CONVERSATIONS", 10),
        new_conversations_seconds=float(seconds["CHANNEL_NEW_CONVERSATIONS_SECONDS"]),
        redis_url=redis_url,
        messages_seconds=float(seconds["CHANNEL_MESSAGES_WINDOW_SECONDS"]))


@dataclass(frozen=True)
class Budget:
    """At most ``limit`` per ``window`` seconds for ``subject`` (e.g. ``client:ip:ab12``).
    ``new_only`` budgets count only the message that opens a conversation."""

    name: str
    subject: str
    limit: int
    window: float
    new_only: bool = False


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float = 0.0
    refused_by: str | None = None  # the budget's name
    new: bool = False              # the message opened a conversation

    @property
    def retry_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after))


def wait_for(limit: int, window: float, elapsed: float, current: float,
             previous: float) -> float:
    """Seconds until one more fits, given this window's and the previous window's counts
    and the time ``elapsed`` into this window (0 if it fits now)."""
    if previous * (window - elapsed) / window + current + 1 <= limit:
        return 0.0
    if current + 1 <= limit and previous > 0:  # fits once enough of the previous slides out
        return max(0.0, (window - elapsed) - window * (limit - 1 - current) / previous)
    # not in this window: in the next one, once enough of this one slides out
    return (window - elapsed) + window * max(0.0, 1 - (limit - 1) / current)


class Store(Protocol):
    async def take(self, budgets: Sequence[Budget], conversation: str | None,
                   force_new: bool, now: float) -> Verdict: ...

    async def once(self, key: str, seconds: float) -> bool: ...


def _window_keys(budget: Budget, now: float) -> tuple[str, str, float]:
    index = int(now // budget.window)
    base = f"{KEY_PREFIX}{budget.name}:{budget.subject}:"
    return f"{base}{index}", f"{base}{index - 1}", now - index * budget.window


class MemoryStore:
    """In this process: enough for one Rasa process."""

    def __init__(self, size: int = MEMORY_KEYS) -> None:
        self.size = size
        self._counts: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key: count, expiry

    def _get(self, key: str, now: float) -> float:
        found = self._counts.get(key)
        return found[0] if found is not None and found[1] > now else 0.0

    def _set(self, key: str, value: float, expiry: float) -> None:
        self._counts[key] = (value, expiry)
        self._counts.move_to_end(key)
        while len(self._counts) > self.size:
            self._counts.popitem(last=False)

    async def take(self, budgets: Sequence[Budget], conversation: str | None,
                   force_new: bool, now: float) -> Verdict:
        new = force_new
        conversation_key = f"{KEY_PREFIX}conversation:{conversation}" if conversation else None
        if conversation_key is not None:
            new = self._get(conversation_key, now) == 0
        worst: Verdict | None = None
        plans = []
        for budget in budgets:
            if budget.limit <= 0 or (budget.new_only and not new):
                continue
            current_key, previous_key, elapsed = _window_keys(budget, now)
            wait = wait_for(budget.limit, budget.window, elapsed, self._get(current_key, now),
                            self._get(previous_key, now))
            if wait > 0 and (worst is None or wait > worst.retry_after):
                worst = Verdict(False, wait, budget.name, new)
            plans.append((budget, current_key))
        if worst is not None:
            return worst
        for budget, current_key in plans:
            self._set(current_key, self._get(current_key, now) + 1, now + 2 * budget.window)
        if conversation_key is not None:
            self._set(conversation_key, 1, now + CONVERSATION_TTL_SECONDS)
        return Verdict(True, new=new)

    async def once(self, key: str, seconds: float) -> bool:
        now = time.time()
        full = f"{KEY_PREFIX}once:{key}"
        if self._get(full, now):
            return False
        self._set(full, 1, now + seconds)
        return True


# One round trip per message: every budget checked, then all counted or none.
# KEYS[1] conversation key (or ""), then per budget its current and previous window keys.
# ARGV[1] conversation TTL, ARGV[2] force_new, ARGV[3] budget count, then per budget:
# limit, window, elapsed, new_only. Returns {allowed, wait in ms, refusing budget, new}.
TAKE_SCRIPT = """
local new = tonumber(ARGV[2])
if KEYS[1] ~= '' then
  if redis.call('EXISTS', KEYS[1]) == 1 then new = 0 else new = 1 end
end
local n = tonumber(ARGV[3])
local worst, refused = 0, 0
for i = 1, n do
  local limit = tonumber(ARGV[4 + (i - 1) * 4])
  local window = tonumber(ARGV[5 + (i - 1) * 4])
  local elapsed = tonumber(ARGV[6 + (i - 1) * 4])
  local new_only = tonumber(ARGV[7 + (i - 1) * 4])
  if limit > 0 and (new_only == 0 or new == 1) then
    local cur = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
    local prev = tonumber(redis.call('GET', KEYS[2 * i + 1]) or '0')
    local wait = 0
    if prev * (window - elapsed) / window + cur + 1 > limit then
      if cur + 1 <= limit and prev > 0 then
        wait = (window - elapsed) - window * (limit - 1 - cur) / prev
        if wait < 0 then wait = 0 end
      else
        local rest = 1 - (limit - 1) / cur
        if rest < 0 then rest = 0 end
        wait = (window - elapsed) + window * rest
      end
    end
    if wait > worst then worst, refused = wait, i end
  end
end
if refused > 0 then return {0, math.ceil(worst * 1000), refused, new} end
for i = 1, n do
  local limit = tonumber(ARGV[4 + (i - 1) * 4])
  local window = tonumber(ARGV[5 + (i - 1) * 4])
  local new_only = tonumber(ARGV[7 + (i - 1) * 4])
  if limit > 0 and (new_only == 0 or new == 1) then
    redis.call('INCR', KEYS[2 * i])
    redis.call('EXPIRE', KEYS[2 * i], math.ceil(window * 2))
  end
end
if KEYS[1] ~= '' then redis.call('SET', KEYS[1], '1', 'EX', tonumber(ARGV[1])) end
return {1, 0, 0, new}
"""


class RedisStore:
    """In Redis, shared by every Rasa process."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # noqa: PLC0415 (the Rasa environment has it)

        self.url = url
        self.client: Any = redis.Redis.from_url(url)
        self.script: Any = self.client.register_script(TAKE_SCRIPT)

    async def take(self, budgets: Sequence[Budget], conversation: str | None,
                   force_new: bool, now: float) -> Verdict:
        keys = [f"{KEY_PREFIX}conversation:{conversation}" if conversation else ""]
        args: list[Any] = [int(CONVERSATION_TTL_SECONDS), int(force_new), len(budgets)]
        for budget in budgets:
            current_key, previous_key, elapsed = _window_keys(budget, now)
            keys += [current_key, previous_key]
            args += [budget.limit, budget.window, elapsed, int(budget.new_only)]
        allowed, wait_ms, refused, new = await self.script(keys=keys, args=args)
        if allowed:
            return Verdict(True, new=bool(new))
        return Verdict(False, int(wait_ms) / 1000, budgets[int(refused) - 1].name, bool(new))

    async def once(self, key: str, seconds: float) -> bool:
        return bool(await self.client.set(f"{KEY_PREFIX}once:{key}", "1", nx=True,
                                          ex=max(1, math.ceil(seconds))))


class Limiter:
    """The channels' budgets over one store. A store that fails (Redis down) lets the
    message through and says so in the log, once a minute: a limit is no reason to lose
    a customer's message."""

    def __init__(self, settings: LimitSettings, store: Store | None = None,
                 clock: Callable[[], float] = time.time,
                 warn: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.store: Store = store or (RedisStore(settings.redis_url) if settings.redis_url
                                      else MemoryStore())
        self.clock = clock
        self.warn = warn
        self._warned_at = -math.inf

    @classmethod
    def from_env(cls, environ: Mapping[str, str],
                 warn: Callable[[str], None] | None = None) -> Limiter:
        return cls(load_limits(environ), warn=warn)

    @property
    def where(self) -> str:
        return "Redis" if isinstance(self.store, RedisStore) else "this process"

    def budgets(self, client: str, conversation: str | None) -> list[Budget]:
        s = self.settings
        found = [Budget("client-messages", client, s.client_messages, s.messages_seconds),
                 Budget("new-conversations", client, s.new_conversations,
                        s.new_conversations_seconds, new_only=True)]
        if conversation is not None:
            found.insert(0, Budget("conversation-messages", conversation,
                                   s.conversation_messages, s.messages_seconds))
        return found

    async def message(self, client: str, conversation: str, *, opens: bool | None = None
                      ) -> Verdict:
        """One message of ``client`` in ``conversation``. ``opens``: whether it opens a
        conversation; None lets the store tell (a conversation it has not seen lately)."""
        return await self._take(self.budgets(client, conversation),
                                conversation if opens is None else None, bool(opens))

    async def new_conversation(self, client: str) -> Verdict:
        """A conversation ``client`` opens without a message yet (a widget session)."""
        return await self._take([b for b in self.budgets(client, None) if b.new_only],
                                None, True)

    async def once(self, key: str, seconds: float) -> bool:
        """True the first time in ``seconds`` (a refusal said once per window)."""
        try:
            return await self.store.once(key, seconds)
        except Exception as exc:  # Redis down or slow (its errors are not imported here)
            self._complain(exc)
            return True

    async def _take(self, budgets: list[Budget], conversation: str | None,
                    force_new: bool) -> Verdict:
        if not any(b.limit > 0 for b in budgets):
            return Verdict(True)
        try:
            return await self.store.take(budgets, conversation, force_new, self.clock())
        except Exception as exc:  # Redis down or slow: answer rather than lose the message
            self._complain(exc)
            return Verdict(True)

    def _complain(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.warn is not None and now - self._warned_at > 60:
            self._warned_at = now
            self.warn(f"channel rate limits not applied: the store at {self.where} failed "
                      f"({type(exc).__name__}: {exc}); check CHANNEL_LIMITS_REDIS_URL")


_shared: dict[str, Limiter] = {}


def shared(environ: Mapping[str, str], warn: Callable[[str], None] | None = None) -> Limiter:
    """This process's limiter, one for all channels, so a client's budget is the same on
    REST, the widget and Telegram."""
    if "limiter" not in _shared:
        _shared["limiter"] = Limiter.from_env(environ, warn=warn)
    return _shared["limiter"]
