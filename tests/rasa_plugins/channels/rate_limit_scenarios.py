"""Scenarios of the channels' rate limits (rasa_plugins/channels/rate_limits.py), run against a
store
with a pinned clock: the in-process store by test_rate_limits.py, and Redis by

    .venv-rasa/bin/python tests/rasa_plugins/channels/rate_limit_scenarios.py redis://127.0.0.1:<port>/0

(the Redis client is in Rasa's environment, where the channels run). Plain asserts, no
pytest, so both environments run the same checks.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from rasa_plugins.channels.rate_limits import (
    Limiter,
    LimitSettings,
    RedisStore,
    Store,
    Verdict,
)

START = 1_800_000_000.0  # a window boundary for 60 s and 600 s windows


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def limiter(store: Store, clock: Clock, **limits: int) -> Limiter:
    return Limiter(LimitSettings(**limits), store=store, clock=clock)  # type: ignore[arg-type]


async def conversation_budget(make_store: Callable[[], Store]) -> None:
    clock = Clock()
    limits = limiter(make_store(), clock, conversation_messages=3, client_messages=100,
                     new_conversations=100)
    client, chat = f"ip:{uuid.uuid4().hex}", f"rest:{uuid.uuid4().hex}"
    assert [(await limits.message(client, chat)).allowed for _ in range(3)] == [True] * 3
    refused = await limits.message(client, chat)
    assert refused == Verdict(False, 80.0, "conversation-messages", False), refused
    assert refused.retry_seconds == 80
    # refused messages are not counted: the wait does not grow while the client waits
    clock.now = START + 79.5
    assert not (await limits.message(client, chat)).allowed
    clock.now = START + 80.0
    assert (await limits.message(client, chat)).allowed
    # another conversation of the same client has its own budget
    assert (await limits.message(client, f"rest:{uuid.uuid4().hex}")).allowed


async def client_budget_and_new_conversations(make_store: Callable[[], Store]) -> None:
    clock = Clock()
    limits = limiter(make_store(), clock, conversation_messages=100, client_messages=5,
                     new_conversations=2, new_conversations_seconds=600)
    client = f"ip:{uuid.uuid4().hex}"
    first, second, third = (f"rest:{uuid.uuid4().hex}" for _ in range(3))
    opened = await limits.message(client, first)
    assert opened.allowed and opened.new
    again = await limits.message(client, first)
    assert again.allowed and not again.new
    assert (await limits.message(client, second)).new
    refused = await limits.message(client, third)
    assert not refused.allowed and refused.refused_by == "new-conversations" and refused.new
    assert refused.retry_after > 60
    # known conversations go on; the client's message budget is the next to run out
    assert (await limits.message(client, first)).allowed
    assert (await limits.message(client, second)).allowed
    over = await limits.message(client, first)
    assert not over.allowed and over.refused_by == "client-messages", over
    # a third conversation is refused still; once counted-in conversations are older than
    # the window, it opens
    assert not (await limits.message(client, third)).allowed
    clock.now = START + 1200
    assert (await limits.message(client, third)).new
    # a session opened without a message (the widget) counts as a new conversation
    other = f"ip:{uuid.uuid4().hex}"
    assert (await limits.new_conversation(other)).allowed
    assert (await limits.new_conversation(other)).allowed
    assert (await limits.new_conversation(other)).refused_by == "new-conversations"
    # ... and an opening message with opens=True (Telegram's /restart) too
    assert (await limits.message(other, "tg-1", opens=True)).refused_by == "new-conversations"
    assert (await limits.message(other, "tg-1", opens=False)).allowed


async def off_and_once(make_store: Callable[[], Store]) -> None:
    clock = Clock()
    limits = limiter(make_store(), clock, conversation_messages=0, client_messages=0,
                     new_conversations=0)
    client = f"ip:{uuid.uuid4().hex}"
    assert all([(await limits.message(client, "c")).allowed for _ in range(50)])
    key = uuid.uuid4().hex
    assert await limits.once(key, 60) and not await limits.once(key, 60)


async def shared_between_limiters(make_store: Callable[[], Store]) -> None:
    """Two processes: two limiters with stores of their own, on the same backend."""
    clock = Clock()
    one = limiter(make_store(), clock, conversation_messages=4)
    two = limiter(make_store(), clock, conversation_messages=4)
    client, chat = f"ip:{uuid.uuid4().hex}", f"web-{uuid.uuid4().hex}"
    results = await asyncio.gather(*[(one if i % 2 else two).message(client, chat, opens=False)
                                     for i in range(10)])
    assert sum(v.allowed for v in results) == 4, results


async def run(make_store: Callable[[], Store], shared_backend: bool) -> None:
    await conversation_budget(make_store)
    await client_budget_and_new_conversations(make_store)
    await off_and_once(make_store)
    if shared_backend:
        await shared_between_limiters(make_store)


async def a_failing_store_lets_messages_through(url: str) -> None:
    warnings: list[str] = []
    limits = Limiter(LimitSettings(conversation_messages=1), store=RedisStore(url),
                     warn=warnings.append)
    assert all([(await limits.message("ip:x", "c")).allowed for _ in range(3)])
    assert len(warnings) == 1 and "CHANNEL_LIMITS_REDIS_URL" in warnings[0], warnings


def main() -> None:
    url = sys.argv[1]
    asyncio.run(run(lambda: RedisStore(url), shared_backend=True))
    asyncio.run(a_failing_store_lets_messages_through("redis://127.0.0.1:1/0"))
    print("redis scenarios passed")


if __name__ == "__main__":
    main()

