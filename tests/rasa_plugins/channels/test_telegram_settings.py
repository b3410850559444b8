"""The Telegram channel's settings: credentials first, then the environment; fail fast."""

from __future__ import annotations

import pytest

from rasa_plugins.channels.telegram_settings import (
    DEFAULT_API_BASE_URL,
    SettingsError,
    load_settings,
)

ENV = {"TELEGRAM_BOT_TOKEN": "123456:AAbb_cc-DD",
       "TELEGRAM_WEBHOOK_URL": "https://bot.shop.example/webhooks/telegram/webhook",
       "TELEGRAM_SECRET_TOKEN": "Secret_token-1"}


def test_no_token_means_off() -> None:
    settings = load_settings(None, {})
    assert not settings.enabled
    assert settings.api_base_url == DEFAULT_API_BASE_URL


def test_from_the_environment() -> None:
    settings = load_settings(None, {**ENV, "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/"})
    assert settings.enabled
    assert settings.token == ENV["TELEGRAM_BOT_TOKEN"]
    assert settings.secret_token == ENV["TELEGRAM_SECRET_TOKEN"]
    assert settings.api_base_url == "http://127.0.0.1:8081"


def test_credentials_win_and_empty_values_fall_back() -> None:
    token = "99:zz"  # noqa: S105 (a test value)
    settings = load_settings({"access_token": token, "webhook_url": "", "secret_token": None},
                             ENV)
    assert settings.token == token
    assert settings.webhook_url == ENV["TELEGRAM_WEBHOOK_URL"]
    assert settings.secret_token == ENV["TELEGRAM_SECRET_TOKEN"]


@pytest.mark.parametrize(("change", "named"), [
    ({"TELEGRAM_SECRET_TOKEN": ""}, "TELEGRAM_SECRET_TOKEN is required"),
    ({"TELEGRAM_SECRET_TOKEN": "has space"}, "TELEGRAM_SECRET_TOKEN must be"),
    ({"TELEGRAM_SECRET_TOKEN": "x" * 257}, "TELEGRAM_SECRET_TOKEN must be"),
    ({"TELEGRAM_SECRET_TOKEN": "ключ"}, "TELEGRAM_SECRET_TOKEN must be"),
    ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN is malformed"),
    ({"TELEGRAM_WEBHOOK_URL": ""}, "TELEGRAM_WEBHOOK_URL is required"),
    ({"TELEGRAM_WEBHOOK_URL": "bot.shop.example/hook"}, "TELEGRAM_WEBHOOK_URL is not"),
    ({"TELEGRAM_API_BASE_URL": "api.telegram.org"}, "TELEGRAM_API_BASE_URL is not"),
])
def test_a_token_with_unusable_companions_is_refused(change: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(None, {**ENV, **change})


def test_the_longest_secret_is_accepted() -> None:
    assert load_settings(None, {**ENV, "TELEGRAM_SECRET_TOKEN": "a" * 256}).enabled
