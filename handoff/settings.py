"""Settings of the handoff service, read from the environment (README, "Settings")."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from contract.settings import SettingsError, database_url, flag, integer, number
from handoff.throttle import ThrottleSettings, parse_networks
from metrics.erase import RetentionSettings, Stores

__all__ = ["HandoffSettings", "SettingsError"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class HandoffSettings:
    db_url: str
    webhook_secret: str
    rasa_url: str
    rasa_token: str
    events_db_url: str                # Rasa's SQL event broker table (endpoints.yml)
    host: str = "127.0.0.1"
    port: int = 5056
    cookie_secure: str = "auto"       # auto: Secure when the request came over HTTPS
    trusted_proxy: bool = False       # believe X-Forwarded-Proto from a reverse proxy
    pickup_target_seconds: int = 240  # policy section 5: a person within 4 minutes
    priority_step_seconds: float = 120.0
    default_pickup_seconds: float = 120.0
    default_max_chats: int = 3
    customer_timeout_seconds: float = 1800.0
    session_hours: float = 12.0
    feed_poll_seconds: float = 0.25
    signature_tolerance_seconds: int = 300
    # Service quality (README, "Service quality"): the metrics record, the databases the
    # collector reads besides Rasa's broker table, and the shop's time zone for days.
    metrics_db_url: str = ""
    actions_db_url: str = ""
    timezone: str = "UTC"
    # A conversation quiet this long gets the satisfaction survey (0: never by quietness).
    survey_quiet_seconds: float = 900.0
    # Where a chat waiting past the pickup target in agent hours is posted (supervisors'
    # chat); empty: consoles only.
    alert_webhook_url: str = ""
    alert_poll_seconds: float = 5.0
    # An alert the webhook did not acknowledge is tried again after this, doubling up to
    # the maximum, until it is acknowledged or the chat is picked up or closed.
    alert_retry_first_seconds: float = 2.0
    alert_retry_max_seconds: float = 300.0
    # GET /metrics (Prometheus) needs "Authorization: Bearer <token>"; without a token it
    # refuses every scrape unless metrics_open says it may be open.
    metrics_token: str = ""
    metrics_open: bool = False
    # Console login throttle (handoff/throttle.py); X-Forwarded-For counts only from
    # these proxies (addresses or CIDR blocks).
    login: ThrottleSettings = field(default_factory=ThrottleSettings)
    # The retention job and every store a conversation is erased from (metrics.erase).
    retention: RetentionSettings | None = None
    stores: Stores | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> HandoffSettings:
        env = dict(os.environ if env is None else env)
        secret = env.get("HANDOFF_WEBHOOK_SECRET", "")
        if len(secret) < 16:
            raise SettingsError("HANDOFF_WEBHOOK_SECRET must be set (at least 16 characters), "
                                "the same value as the action server's")
        token = env.get("RASA_API_TOKEN", "")
        if not token:
            raise SettingsError("RASA_API_TOKEN must be set: the handoff service pauses, "
                                "resumes and writes to conversations over Rasa's HTTP API")
        cookie_secure = env.get("HANDOFF_COOKIE_SECURE", "auto").strip().lower()
        if cookie_secure not in {"auto", "true", "false"}:
            raise SettingsError("HANDOFF_COOKIE_SECURE must be auto, true or false")
        return cls(
            db_url=database_url(env, "HANDOFF_DB_URL"),
            webhook_secret=secret,
            rasa_url=env.get("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_token=token,
            events_db_url=database_url(env, "RASA_EVENTS_DB_URL"),
            host=env.get("HANDOFF_HOST", "127.0.0.1"),
            port=integer(env, "HANDOFF_PORT", 5056, 1),
            cookie_secure=cookie_secure,
            trusted_proxy=flag(env, "HANDOFF_TRUSTED_PROXY"),
            pickup_target_seconds=integer(env, "HANDOFF_PICKUP_TARGET_SECONDS", 240, 1),
            priority_step_seconds=number(env, "HANDOFF_PRIORITY_STEP_SECONDS", 120, 0),
            default_pickup_seconds=number(env, "HANDOFF_DEFAULT_PICKUP_SECONDS", 120, 1),
            default_max_chats=integer(env, "HANDOFF_MAX_CHATS", 3, 1),
            customer_timeout_seconds=number(env, "HANDOFF_CUSTOMER_TIMEOUT_SECONDS", 1800, 10),
            session_hours=number(env, "HANDOFF_SESSION_HOURS", 12, 0.1),
            feed_poll_seconds=number(env, "HANDOFF_FEED_POLL_SECONDS", 0.25, 0.05),
            metrics_db_url=database_url(env, "METRICS_DB_URL"),
            actions_db_url=database_url(env, "ACTIONS_DB_URL"),
            timezone=_timezone(env),
            survey_quiet_seconds=number(env, "SURVEY_QUIET_SECONDS", 900, 0),
            alert_webhook_url=_url(env, "PICKUP_ALERT_WEBHOOK_URL"),
            alert_poll_seconds=number(env, "PICKUP_ALERT_POLL_SECONDS", 5, 0.2),
            alert_retry_first_seconds=number(env, "PICKUP_ALERT_RETRY_FIRST_SECONDS", 2, 0.01),
            alert_retry_max_seconds=number(env, "PICKUP_ALERT_RETRY_MAX_SECONDS", 300, 0.01),
            metrics_token=env.get("HANDOFF_METRICS_TOKEN", ""),
            metrics_open=flag(env, "HANDOFF_METRICS_OPEN"),
            login=_login(env),
            retention=RetentionSettings.from_env(env),
            stores=Stores.from_env(env),
        )


def _login(env: dict[str, str]) -> ThrottleSettings:
    proxies = tuple(p.strip() for p in env.get("HANDOFF_TRUSTED_PROXIES", "").split(",")
                    if p.strip())
    try:
        parse_networks(proxies)
    except ValueError as exc:
        raise SettingsError("HANDOFF_TRUSTED_PROXIES must be IP addresses or CIDR blocks, "
                            f"comma-separated: {exc}") from exc
    return ThrottleSettings(
        failures=integer(env, "HANDOFF_LOGIN_FAILURES", 5, 1),
        client_failures=integer(env, "HANDOFF_LOGIN_CLIENT_FAILURES", 20, 1),
        user_failures=integer(env, "HANDOFF_LOGIN_USER_FAILURES", 10, 1),
        backoff_seconds=number(env, "HANDOFF_LOGIN_BACKOFF_SECONDS", 1, 0.01),
        max_wait_seconds=number(env, "HANDOFF_LOGIN_MAX_WAIT_SECONDS", 900, 0.01),
        user_max_wait_seconds=number(env, "HANDOFF_LOGIN_USER_MAX_WAIT_SECONDS", 60, 0.01),
        forget_seconds=number(env, "HANDOFF_LOGIN_FORGET_SECONDS", 3600, 1),
        trusted_proxies=proxies,
    )


def _url(env: dict[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if value and not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def _timezone(env: dict[str, str]) -> str:
    """SHOP_TIMEZONE, else the shop policy's time zone (the days of the metrics)."""
    name = env.get("SHOP_TIMEZONE", "").strip()
    if not name:
        policy = Path(env.get("SHOP_POLICY_FILE", ROOT / "demo_shop" / "policy.yml"))
        try:
            name = str((yaml.safe_load(policy.read_text(encoding="utf-8")) or {})
                       .get("timezone") or "UTC")
        except OSError as exc:
            raise SettingsError(f"SHOP_POLICY_FILE {policy} cannot be read: {exc}") from exc
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"unknown time zone {name!r} (SHOP_TIMEZONE or the policy)") from exc
    return name
