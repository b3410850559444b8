"""The channels' rate limits: settings, the sliding window, and the same scenarios on the
in-process store and on a real Redis (rate_limit_scenarios.py, in Rasa's environment)."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from bot import processes
from rasa_plugins.channels.client_identity import EdgeSettingsError
from rasa_plugins.channels.rate_limits import (
    LimitSettings,
    MemoryStore,
    Verdict,
    load_limits,
    refusal_text,
    wait_for,
)
from tests import servers
from tests.rasa_plugins.channels import rate_limit_scenarios
from tests.rasa_plugins.channels.rate_limit_scenarios import run


def test_settings_defaults_and_errors() -> None:
    assert load_limits({}) == LimitSettings(20, 60, 10, 600.0, None)
    assert load_limits({"SOCKETIO_REDIS_URL": "redis://r/0"}).redis_url == "redis://r/0"
    assert load_limits({"SOCKETIO_REDIS_URL": "redis://r/0",
                        "CHANNEL_LIMITS_REDIS_URL": "redis://l/1"}).redis_url == "redis://l/1"
    assert load_limits({"CHANNEL_NEW_CONVERSATIONS": "0"}).new_conversations == 0
    for variable, value in (("CHANNEL_CLIENT_MESSAGES", "-1"),
                            ("CHANNEL_CONVERSATION_MESSAGES", "many"),
                            ("CHANNEL_NEW_CONVERSATIONS_SECONDS", "0"),
                            ("CHANNEL_MESSAGES_WINDOW_SECONDS", "0")):
        with pytest.raises(EdgeSettingsError, match=variable):
            load_limits({variable: value})


def test_the_wait_is_until_one_more_fits_in_the_sliding_window() -> None:
    assert wait_for(3, 60, 10, 2, 0) == 0
    assert wait_for(3, 60, 0, 3, 0) == 80  # next window, once 1/3 of this one slid out
    assert wait_for(3, 60, 30, 0, 6) == pytest.approx(10)  # the previous window slides out
    assert wait_for(1, 60, 10, 1, 0) == 110


def test_refusals_in_each_language() -> None:
    messages = Verdict(False, 12.2, "conversation-messages")
    conversations = Verdict(False, 301, "new-conversations")
    assert "13 s" in refusal_text("en", messages)
    assert "6 min" in refusal_text("en", conversations)
    for language in ("ru", "uk"):
        assert refusal_text(language, messages) != refusal_text("en", messages)
        assert "13" in refusal_text(language, messages)
    assert refusal_text("de", messages) == refusal_text(None, messages)


def test_scenarios_in_process() -> None:
    store = MemoryStore()
    asyncio.run(run(lambda: store, shared_backend=True))  # one process: one store


def test_scenarios_on_redis_from_rasas_environment() -> None:
    redis = servers.start_redis()
    try:
        result = subprocess.run(
            [str(processes.RASA_ENV / "bin" / "python"), rate_limit_scenarios.__file__,
             redis.url], capture_output=True, text=True, timeout=120, check=False)
    finally:
        redis.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "redis scenarios passed" in result.stdout


def test_the_in_process_store_stays_bounded() -> None:
    store = MemoryStore(size=100)
    asyncio.run(rate_limit_scenarios.run(lambda: store, shared_backend=False))
    assert len(store._counts) <= 100
