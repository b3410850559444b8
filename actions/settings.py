"""Settings of the action server, read from the environment (see README, "Settings")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from contract.settings import database_url, flag, integer, number

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ActionSettings:
    shop_db_url: str
    actions_db_url: str
    policy_file: Path
    seed_file: Path
    catalog_file: Path
    seed_on_start: bool
    shop_adapter: str
    # Pins "now" for every rule (ISO 8601 with offset): demos and end-to-end tests only.
    fixed_now: datetime | None = None
    # Escalation to people (README, "Handoff"): where the signed webhook goes and its secret.
    handoff_webhook_url: str = "http://127.0.0.1:5056/webhooks/escalations"
    handoff_secret: str = ""
    # One message at least this likely to be strongly negative escalates...
    strong_negative: float = 0.6
    # ...and so do this many negative messages in a row, each at least this likely negative.
    negative_in_a_row: int = 2
    negative_threshold: float = 0.6
    # Low-confidence answers / "that did not help" in a row before a person takes over.
    unresolved_limit: int = 2
    sentiment_model_file: Path = ROOT / "models" / "sentiment" / "classifier.json"
    # Service-quality record shared with the handoff service (surveys are written here).
    metrics_db_url: str = database_url({}, "METRICS_DB_URL")
    # Where "what's happening with my request to talk to someone?" is asked (signed POST).
    handoff_status_url: str = "http://127.0.0.1:5056/webhooks/status"
    # Failed verifications across conversations (README, "Settings"): per order number and
    # per client within the window; then the subject refuses look-ups for the cooling period.
    lookup_order_failures: int = 5
    lookup_client_failures: int = 10
    lookup_window: timedelta = timedelta(hours=1)
    lookup_cooling: timedelta = timedelta(minutes=30)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ActionSettings:
        env = dict(os.environ if env is None else env)
        webhook_url = env.get("HANDOFF_WEBHOOK_URL", "http://127.0.0.1:5056/webhooks/escalations")
        return cls(
            shop_db_url=database_url(env, "SHOP_DB_URL"),
            actions_db_url=database_url(env, "ACTIONS_DB_URL"),
            policy_file=Path(env.get("SHOP_POLICY_FILE", ROOT / "demo_shop" / "policy.yml")),
            seed_file=Path(env.get("SHOP_SEED_FILE", ROOT / "demo_shop" / "orders.json")),
            catalog_file=Path(env.get("SHOP_CATALOG_FILE", ROOT / "demo_shop" / "catalog.yml")),
            seed_on_start=flag(env, "SHOP_SEED_ON_START", True),
            shop_adapter=env.get("SHOP_ADAPTER", "actions.shop.sql:SQLShop"),
            fixed_now=_moment(env.get("ASSISTANT_FIXED_NOW", "")),
            handoff_webhook_url=webhook_url,
            handoff_secret=env.get("HANDOFF_WEBHOOK_SECRET", ""),
            strong_negative=number(env, "HANDOFF_STRONG_NEGATIVE", 0.6, 0.0, 1.0),
            negative_in_a_row=integer(env, "HANDOFF_NEGATIVE_IN_A_ROW", 2, 1, 100),
            negative_threshold=number(env, "HANDOFF_NEGATIVE_THRESHOLD", 0.6, 0.0, 1.0),
            unresolved_limit=integer(env, "HANDOFF_UNRESOLVED_TURNS", 2, 1, 100),
            sentiment_model_file=Path(env.get("SENTIMENT_MODEL_FILE",
                                              ROOT / "models" / "sentiment" / "classifier.json")),
            metrics_db_url=database_url(env, "METRICS_DB_URL"),
            handoff_status_url=env.get("HANDOFF_STATUS_URL") or status_url_of(webhook_url),
            lookup_order_failures=integer(env, "LOOKUP_ORDER_MAX_FAILURES", 5, 1, 1000),
            lookup_client_failures=integer(env, "LOOKUP_CLIENT_MAX_FAILURES", 10, 1, 1000),
            lookup_window=timedelta(minutes=integer(env, "LOOKUP_WINDOW_MINUTES", 60, 1,
                                                    7 * 24 * 60)),
            lookup_cooling=timedelta(minutes=integer(env, "LOOKUP_COOLING_MINUTES", 30, 1,
                                                     7 * 24 * 60)),
        )


def status_url_of(webhook_url: str) -> str:
    """The handoff service's status endpoint, next to its escalation webhook."""
    parts = urlsplit(webhook_url)
    return urlunsplit((parts.scheme, parts.netloc, "/webhooks/status", "", ""))


def _moment(value: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"ASSISTANT_FIXED_NOW must be ISO 8601, got {value!r}") from exc
    if moment.tzinfo is None:
        raise ValueError("ASSISTANT_FIXED_NOW needs a UTC offset, e.g. 2026-11-23T10:00+00:00")
    return moment
