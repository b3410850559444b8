"""The scaled stack's settings (bot/scaled.py) and its endpoints file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot import processes as p
from bot import scaled
from bot.engines import Database
from bot.processes import ROOT

# Where a store lives: these keys differ between endpoints.yml and endpoints.scaled.yml.
LOCATION_KEYS = {"url", "dialect", "port", "db", "username", "password"}


def endpoints(name: str) -> dict[str, dict[str, object]]:
    return dict(yaml.safe_load((ROOT / name).read_text()))


def layout() -> scaled.Layout:
    return scaled.Layout.for_replicas(3, rasa_port=5005, actions_port=5055, handoff_port=5056)


def test_every_variable_of_the_endpoints_file_is_set() -> None:
    env = scaled.scaled_env(layout(), Database("127.0.0.1", 5433, "orbita", "pw"), 6380,
                            "token", "s" * 20, "w" * 20)
    named = set(re.findall(r"\$\{(\w+)\}", (ROOT / scaled.ENDPOINTS).read_text()))
    assert named and named <= set(env)
    assert env["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:5055/webhook"  # the balancer
    assert env["RASA_URL"] == "http://127.0.0.1:5005"
    # Rasa's tracker store and broker table both use a table called `events`.
    assert env["TRACKER_DB"] != env["RASA_EVENTS_DB"]
    assert env["TRACKER_DB_URL"] == "postgresql+asyncpg://orbita:pw@127.0.0.1:5433/rasa_tracker"
    assert {env[key].rsplit("/", 1)[1] for key in env if key.endswith("_DB_URL")} \
        <= set(scaled.DATABASES)


def test_the_scaled_endpoints_use_the_same_stores_as_the_single_process_ones() -> None:
    """endpoints.scaled.yml may only move the stores to shared servers."""
    single, shared = endpoints("endpoints.yml"), endpoints(scaled.ENDPOINTS)
    assert set(shared) == set(single) | {"lock_store"}
    for section, options in single.items():
        same = {k: v for k, v in options.items() if k not in LOCATION_KEYS}
        assert {k: v for k, v in shared[section].items() if k not in LOCATION_KEYS} == same
    assert shared["tracker_store"]["dialect"] == shared["event_broker"]["dialect"] \
        == "postgresql"
    assert shared["lock_store"]["type"] == "rasa_plugins.locks.AtomicRedisLockStore"


def test_processes_get_their_own_loopback_ports() -> None:
    ports = layout()
    assert len(ports.rasa_ports) == len(ports.action_ports) == 3
    assert len({*ports.rasa_ports, *ports.action_ports, 5005, 5055, 5056}) == 9
    assert ports.url == "http://127.0.0.1:5005"
    assert scaled.Layout.for_replicas(1, host="0.0.0.0", rasa_port=8080).url \
        == "http://127.0.0.1:8080"  # noqa: S104
    with pytest.raises(ValueError, match="at least 1"):
        scaled.Layout.for_replicas(0)


def test_what_a_killed_run_left_running_is_found_and_stopped(tmp_path: Path) -> None:
    mine = {**os.environ, scaled.MARKER: str(tmp_path)}
    other = {**os.environ, scaled.MARKER: str(tmp_path / "elsewhere")}
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    left = subprocess.Popen(sleeper, env=mine)
    kept = subprocess.Popen(sleeper, env=other)
    try:
        assert scaled.stop_leftovers(tmp_path, grace_seconds=5) == [left.pid]
        assert left.wait(5) is not None
        assert kept.poll() is None  # another folder's run is left alone
    finally:
        for process in (left, kept):
            process.kill()
            process.wait()


def test_free_ports_are_never_handed_out_twice() -> None:
    """A stack asks for several ports before any is in use: the kernel may offer a closed
    port again, so the launcher remembers what it gave (CI once got one port twice)."""
    ports = [p.free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
