"""Failed verifications counted per order number and per client, across conversations."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from actions.clock import FixedClock
from actions.formatting import plural
from actions.runtime import Runtime, build_runtime, set_runtime
from actions.settings import ActionSettings
from actions.shop.sql import make_engine
from actions.verification_throttle import ThrottleLimits, VerificationThrottle
from tests.actions.form_driver import FormDriver, kwargs_of

EXISTING, MADE_UP = "ORB-104217", "ORB-999999"
DOMAIN = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())


async def fail_once(sender: str, order_id: str, client: str | None = None) -> FormDriver:
    driver = FormDriver(sender=sender, metadata={"client_id": client} if client else {})
    await driver.say(f"where is {order_id} wrong@example.com", "track_order")
    return driver


async def security_events(runtime: Runtime) -> list[dict]:
    rows = await runtime.require_outbox().pending()
    return [body for body in (json.loads(row.body) for row in rows)
            if body.get("kind") == "security_event"]


async def test_order_locks_across_conversations(runtime: Runtime, clock: FixedClock) -> None:
    for n in range(5):  # five conversations, one wrong guess each
        driver = await fail_once(f"guess-{n}", EXISTING)
    assert driver.slots["lookup_throttle"]["scope"] == "order"
    fresh = FormDriver(sender="guess-new")
    turn = await fresh.say(f"where is {EXISTING} anna.schmidt@example.com", "track_order")
    # Even the right details are refused: the order is locked, in every conversation.
    assert turn.responses == ["utter_lookup_throttled"]
    assert fresh.slots["verified_order_id"] is None
    assert fresh.slots["escalation_reason"] is None  # offered a person, not queued
    until = kwargs_of(turn, "utter_lookup_throttled")["until"]
    assert "12:00" in until  # the first guess (11:00 Berlin) frees its slot at 12:00
    events = await security_events(runtime)
    assert [e["event"] for e in events] == ["order_locked", "lookup_refused"]
    assert events[0]["subject"] == EXISTING and events[0]["failures"] == 5
    assert events[0]["until"] == "2026-11-23T11:00:00+00:00"
    # Other orders are not affected.
    other = FormDriver(sender="other")
    turn = await other.say("where is ORB-104388 8 916 555 01 42", "track_order")
    assert "utter_verified" in turn.responses


async def test_lock_ends_after_the_cooling_period(runtime: Runtime, clock: FixedClock) -> None:
    for n in range(5):
        await fail_once(f"c-{n}", EXISTING)
    clock.set(clock.now() + timedelta(minutes=59))
    turn = await FormDriver(sender="early").say(f"{EXISTING} anna.schmidt@example.com",
                                                "track_order")
    assert turn.responses == ["utter_lookup_throttled"]
    clock.set(clock.now() + timedelta(minutes=1))
    turn = await FormDriver(sender="later").say(f"{EXISTING} anna.schmidt@example.com",
                                                "track_order")
    assert "utter_verified" in turn.responses


async def test_cooling_outlasts_the_window(settings: ActionSettings, clock: FixedClock) -> None:
    """Five quick failures at the end of a window still lock for the cooling period."""
    throttle = VerificationThrottle(make_engine(settings.actions_db_url), ThrottleLimits(
        order_failures=2, client_failures=100, window=timedelta(minutes=10),
        cooling=timedelta(minutes=30)))
    await throttle.create_schema()
    for _ in range(2):
        attempt = await throttle.begin("ORB-1", "c", clock.now())
        assert attempt.refused is None
        locks = await throttle.failed(attempt, clock.now())
    assert [(lock.scope, lock.until - clock.now()) for lock in locks] == [
        ("order", timedelta(minutes=30))]
    clock.set(clock.now() + timedelta(minutes=29))
    assert (await throttle.begin("ORB-1", "c", clock.now())).refused is not None
    clock.set(clock.now() + timedelta(minutes=1))
    assert (await throttle.begin("ORB-1", "c", clock.now())).refused is None
    await throttle.engine.dispose()


async def test_success_gives_the_attempt_back(runtime: Runtime) -> None:
    for n in range(4):
        await fail_once(f"s-{n}", EXISTING)
    for n in range(3):  # the real customer verifies, several times: nothing is used up
        turn = await FormDriver(sender=f"real-{n}").say(
            f"{EXISTING} anna.schmidt@example.com", "track_order")
        assert "utter_verified" in turn.responses
    driver = await fail_once("s-last", EXISTING)
    assert driver.slots["lookup_throttle"]["scope"] == "order"


async def test_client_locks_across_orders(runtime: Runtime) -> None:
    for n in range(10):  # ten orders, one guess each, one client, a new chat each time
        await fail_once(f"cl-{n}", f"ORB-2000{n:02d}", client="ip:abc")
    refused = FormDriver(sender="cl-new", metadata={"client_id": "ip:abc"})
    turn = await refused.say("where is ORB-104388 8 916 555 01 42", "track_order")
    assert turn.responses == ["utter_lookup_throttled"]
    assert refused.slots["lookup_throttle"]["scope"] == "client"
    other = FormDriver(sender="cl-other", metadata={"client_id": "ip:def"})
    turn = await other.say("where is ORB-104388 8 916 555 01 42", "track_order")
    assert "utter_verified" in turn.responses
    events = await security_events(runtime)
    assert events[0]["event"] == "client_locked" and events[0]["subject"] == "ip:abc"


async def test_without_client_id_the_conversation_is_the_client(runtime: Runtime) -> None:
    driver = FormDriver(sender="no-meta")
    await driver.say("where is my order", "track_order")
    await driver.say("ORB-300001 wrong@example.com")
    assert await runtime.require_throttle().active_lock("client", "conversation:no-meta",
                                                         runtime.now()) is None
    assert await runtime.require_throttle()._used("client", "conversation:no-meta",
                                                  runtime.now()) == 1


def scrub(value: object, order_id: str) -> str:
    return json.dumps(value, sort_keys=True).replace(order_id, "<ORDER>")


async def test_same_answer_for_existing_and_made_up_orders(runtime: Runtime) -> None:
    seen: dict[str, list[str]] = {}
    for order_id in (EXISTING, MADE_UP):
        transcript = []
        for n in range(6):  # five failures, then a refusal
            driver = FormDriver(sender=f"same-{order_id}-{n}")
            turn = await driver.say(f"where is {order_id} wrong@example.com", "track_order")
            transcript.append(scrub([turn.messages, driver.last_events, driver.slots], order_id))
        seen[order_id] = transcript
    assert seen[EXISTING] == seen[MADE_UP]


async def test_failed_verification_takes_as_long_for_a_made_up_order(
        settings: ActionSettings, clock: FixedClock) -> None:
    """The two paths do the same statements; their times agree within noise."""
    rt = await build_runtime(replace(settings, lookup_order_failures=1000,
                                     lookup_client_failures=1000), clock)
    set_runtime(rt)
    try:
        times: dict[str, list[float]] = {EXISTING: [], MADE_UP: []}
        for n in range(120):
            for order_id in (EXISTING, MADE_UP) if n % 2 else (MADE_UP, EXISTING):
                driver = FormDriver(sender=f"t-{order_id}-{n}")
                await driver.say("where is my order", "track_order")
                start = time.perf_counter()
                await driver.say(f"{order_id} wrong@example.com")
                times[order_id].append(time.perf_counter() - start)
        real, fake = (statistics.median(times[o][20:]) for o in (EXISTING, MADE_UP))
        # Noise on a busy 2-core machine: 25 % or 2 ms, whichever is larger.
        assert abs(real - fake) <= max(0.25 * min(real, fake), 0.002), (real, fake)
    finally:
        set_runtime(None)
        await rt.close()


async def test_concurrent_attempts_never_exceed_the_limit(settings: ActionSettings,
                                                          clock: FixedClock) -> None:
    throttle = VerificationThrottle(make_engine(settings.actions_db_url), ThrottleLimits())
    await throttle.create_schema()
    attempts = await asyncio.gather(*(throttle.begin(EXISTING, f"c{n}", clock.now())
                                      for n in range(20)))
    assert sum(a.refused is None for a in attempts) == 5
    await throttle.engine.dispose()


async def test_postgres_counts_atomically(postgres_url: str, clock: FixedClock) -> None:
    """Two throttles (two action-server processes) on one PostgreSQL database."""
    first = VerificationThrottle(make_engine(postgres_url), ThrottleLimits())
    second = VerificationThrottle(make_engine(postgres_url), ThrottleLimits())
    await first.create_schema()
    attempts = await asyncio.gather(*(
        (first if n % 2 else second).begin("ORB-555555", f"pg{n}", clock.now())
        for n in range(30)))
    granted = [a for a in attempts if a.refused is None]
    assert len(granted) == 5
    locks = await asyncio.gather(*(first.failed(a, clock.now()) for a in granted))
    assert sum(len(found) for found in locks) == 1  # the lock is reported once
    assert (await second.begin("ORB-555555", "pg-late", clock.now())).refused is not None
    await first.engine.dispose()
    await second.engine.dispose()


@pytest.mark.parametrize(("language", "count", "form"), [
    ("en", 1, "one"), ("en", 2, "other"), ("en", 0, "other"),
    ("ru", 1, "one"), ("ru", 2, "few"), ("ru", 5, "many"), ("ru", 21, "one"),
    ("uk", 1, "one"), ("uk", 3, "few"), ("uk", 11, "many"),
])
def test_plural_forms(language: str, count: int, form: str) -> None:
    assert plural(count, language) == form


@pytest.mark.parametrize(("language", "count", "words"), [
    ("en", 1, "1 attempt left"), ("en", 2, "2 attempts left"),
    ("ru", 1, "осталась 1 попытка"), ("ru", 2, "осталось 2 попытки"),
    ("ru", 5, "осталось 5 попыток"),
    ("uk", 1, "залишилася 1 спроба"), ("uk", 2, "залишилося 2 спроби"),
    ("uk", 5, "залишилося 5 спроб"),
])
def test_attempts_left_reads_right(language: str, count: int, words: str) -> None:
    variants = DOMAIN["responses"][f"utter_verification_failed_{plural(count, language)}"]
    text = next(v["text"] for v in variants
                if any(c.get("value") == language for c in v.get("condition") or [])
                or (language == "en" and not v.get("condition")))
    assert words in text.replace("{remaining}", str(count))


async def test_customer_told_the_plural_form(runtime: Runtime) -> None:
    driver = FormDriver(sender="plural", language="ru")
    await driver.say("где мой заказ", "track_order")
    await driver.say(f"{EXISTING} wrong@example.com")
    turn = await driver.say(f"{EXISTING} wrong@example.com")
    assert turn.responses[0] == "utter_verification_failed_one"
    assert kwargs_of(turn, turn.responses[0])["remaining"] == 1


@pytest.mark.parametrize(("name", "value", "message"), [
    ("LOOKUP_ORDER_MAX_FAILURES", "0", "between 1 and 1000"),
    ("LOOKUP_CLIENT_MAX_FAILURES", "ten", "whole number"),
    ("LOOKUP_WINDOW_MINUTES", "2.5", "whole number"),
    ("LOOKUP_COOLING_MINUTES", "-1", "between 1 and"),
])
def test_bad_settings_fail_early(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(name) + ".*" + re.escape(message)):
        ActionSettings.from_env({name: value})


def test_default_settings() -> None:
    settings = ActionSettings.from_env({})
    assert (settings.lookup_order_failures, settings.lookup_client_failures) == (5, 10)
    assert settings.lookup_window == timedelta(hours=1)
    assert settings.lookup_cooling == timedelta(minutes=30)
