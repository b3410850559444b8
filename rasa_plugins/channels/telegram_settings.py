"""Settings of the Telegram channel: credentials.yml first, then the environment.

credentials.yml names the channel without values
(``rasa_plugins.channels.telegram.TelegramChannel:``) because Rasa refuses to start when
a ``${VAR}`` there is unset; every value falls back to an environment variable instead.
Without a bot token the channel is off and the rest of the server runs as usual; a token
with missing or malformed companions is an operator error that stops the start with a
message naming the variable to fix. Pure Python (no Rasa imports), so the tests import
it from the services' environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contract.settings import SettingsError as BaseSettingsError

DEFAULT_API_BASE_URL = "https://api.telegram.org"
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
URL_RE = re.compile(r"https?://[^\s/?#]+(?:[/?#]\S*)?")

# credentials.yml key -> environment variable
VARIABLES = {
    "access_token": "TELEGRAM_BOT_TOKEN",
    "webhook_url": "TELEGRAM_WEBHOOK_URL",
    "secret_token": "TELEGRAM_SECRET_TOKEN",
    "api_base_url": "TELEGRAM_API_BASE_URL",
}


class SettingsError(BaseSettingsError):
    """The Telegram settings cannot work; the message names the setting to fix."""


@dataclass(frozen=True)
class TelegramSettings:
    token: str | None
    webhook_url: str | None
    secret_token: str | None
    api_base_url: str = DEFAULT_API_BASE_URL

    @property
    def enabled(self) -> bool:
        return self.token is not None


def _value(credentials: Mapping[str, Any], environ: Mapping[str, str], key: str) -> str | None:
    raw = credentials.get(key)
    if raw is None or str(raw).strip() == "":
        raw = environ.get(VARIABLES[key])
    text = str(raw).strip() if raw is not None else ""
    return text or None


def load_settings(credentials: Mapping[str, Any] | None,
                  environ: Mapping[str, str]) -> TelegramSettings:
    """The channel's settings; raises ``SettingsError`` when a token is set but unusable."""
    values = credentials or {}
    token = _value(values, environ, "access_token")
    webhook_url = _value(values, environ, "webhook_url")
    secret = _value(values, environ, "secret_token")
    base = (_value(values, environ, "api_base_url") or DEFAULT_API_BASE_URL).rstrip("/")
    if token is None:
        return TelegramSettings(None, webhook_url, secret, base)
    if not TOKEN_RE.fullmatch(token):
        raise SettingsError("TELEGRAM_BOT_TOKEN is malformed: BotFather's token looks like "
                            "123456789:AA... (digits, a colon, letters, digits, _ or -)")
    if secret is None:
        raise SettingsError("TELEGRAM_SECRET_TOKEN is required when TELEGRAM_BOT_TOKEN is set: "
                            "1 to 256 characters A-Z a-z 0-9 _ - (Telegram sends it with "
                            "every update, so forged updates can be told apart)")
    if not SECRET_RE.fullmatch(secret):
        raise SettingsError("TELEGRAM_SECRET_TOKEN must be 1 to 256 characters "
                            "A-Z a-z 0-9 _ - (Telegram refuses others)")
    if webhook_url is None:
        raise SettingsError("TELEGRAM_WEBHOOK_URL is required when TELEGRAM_BOT_TOKEN is set: "
                            "the public https URL of /webhooks/telegram/webhook")
    if not URL_RE.fullmatch(webhook_url):
        raise SettingsError(f"TELEGRAM_WEBHOOK_URL is not an http(s) URL: {webhook_url!r}")
    if not URL_RE.fullmatch(base):
        raise SettingsError(f"TELEGRAM_API_BASE_URL is not an http(s) URL: {base!r}")
    return TelegramSettings(token, webhook_url, secret, base)
