"""The one settings reader every part uses (contract/settings.py)."""

from __future__ import annotations

import pytest

from actions.settings import ActionSettings
from contract.settings import ROOT, SettingsError, database_url, flag, integer, number
from metrics.erase import RetentionSettings, Stores
from rasa_plugins.channels.client_identity import EdgeSettingsError
from rasa_plugins.channels.rate_limits import load_limits


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_unset_or_blank_is_the_default(raw: str | None) -> None:
    env = {} if raw is None else {"X": raw}
    assert number(env, "X", 1.5, 0, 2) == 1.5
    assert integer(env, "X", 7, 0, 9) == 7
    assert flag(env, "X", True) is True


def test_values_are_read_with_surrounding_space() -> None:
    assert number({"X": " 0.25 "}, "X", 1, 0, 1) == 0.25
    assert integer({"X": "42\n"}, "X", 1, 0) == 42


@pytest.mark.parametrize(("call", "message"), [
    (lambda: number({"X": "lots"}, "X", 1), "X must be a number, got 'lots'"),
    (lambda: number({"X": "nan"}, "X", 1), "X must be a number, got 'nan'"),
    (lambda: number({"X": "inf"}, "X", 1, 0), "X must be a number, got 'inf'"),
    (lambda: number({"X": "1.5"}, "X", 1, 0, 1), "X must be between 0 and 1, got 1.5"),
    (lambda: number({"X": "-1"}, "X", 1, 0), "X must be at least 0, got -1"),
    (lambda: number({"X": "5"}, "X", 1, high=3), "X must be at most 3, got 5"),
    (lambda: integer({"X": "2.5"}, "X", 1, 0), "X must be a whole number, got '2.5'"),
    (lambda: integer({"X": "-2"}, "X", 1, 0, what="a whole number >= 0",
                     hint=" (0 turns it off)"), "X must be at least 0 (0 turns it off), got -2"),
    (lambda: flag({"X": "maybe"}, "X"), "X must be true or false, got 'maybe'"),
])
def test_a_wrong_value_names_the_variable_and_what_it_must_be(call, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        call()
    assert str(raised.value) == message


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("TRUE", True), ("yes", True),
                                                ("on", True), ("0", False), ("False", False),
                                                ("no", False), ("off", False)])
def test_flags(raw: str, expected: bool) -> None:
    assert flag({"X": raw}, "X", not expected) is expected


def test_database_urls_default_to_one_file_per_store_in_var() -> None:
    default = f"sqlite+aiosqlite:///{ROOT / 'var' / 'handoff.db'}"
    assert database_url({}, "HANDOFF_DB_URL") == default
    assert database_url({"HANDOFF_DB_URL": " "}, "HANDOFF_DB_URL").endswith("/var/handoff.db")
    url = "postgresql+asyncpg://orbita@db/handoff"
    assert database_url({"HANDOFF_DB_URL": url}, "HANDOFF_DB_URL") == url


def test_every_part_opens_a_store_at_the_same_default() -> None:
    actions, stores = ActionSettings.from_env({}), Stores.from_env({})
    assert actions.actions_db_url == stores.actions == database_url({}, "ACTIONS_DB_URL")
    assert actions.metrics_db_url == stores.metrics == database_url({}, "METRICS_DB_URL")


def test_each_part_raises_the_shared_error() -> None:
    with pytest.raises(SettingsError, match="RETENTION_DAYS must be at least 1"):
        RetentionSettings.from_env({"RETENTION_DAYS": "0"})
    with pytest.raises(SettingsError, match="HANDOFF_NEGATIVE_IN_A_ROW must be a whole number"):
        ActionSettings.from_env({"HANDOFF_NEGATIVE_IN_A_ROW": "two"})
    # the channels keep their own kind, which is the shared one
    with pytest.raises(EdgeSettingsError, match=r"CHANNEL_CLIENT_MESSAGES .*0 turns the limit off"):
        load_limits({"CHANNEL_CLIENT_MESSAGES": "-3"})
    assert issubclass(EdgeSettingsError, SettingsError)
