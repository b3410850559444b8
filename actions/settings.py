"""Settings of the action server, read from the environment (see README, "Settings")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


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

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ActionSettings:
        env = dict(os.environ if env is None else env)
        var = ROOT / "var"
        return cls(
            shop_db_url=env.get("SHOP_DB_URL", f"sqlite+aiosqlite:///{var / 'shop.db'}"),
            actions_db_url=env.get("ACTIONS_DB_URL", f"sqlite+aiosqlite:///{var / 'actions.db'}"),
            policy_file=Path(env.get("SHOP_POLICY_FILE", ROOT / "demo_shop" / "policy.yml")),
            seed_file=Path(env.get("SHOP_SEED_FILE", ROOT / "demo_shop" / "orders.json")),
            catalog_file=Path(env.get("SHOP_CATALOG_FILE", ROOT / "demo_shop" / "catalog.yml")),
            seed_on_start=_bool(env.get("SHOP_SEED_ON_START", "true")),
            shop_adapter=env.get("SHOP_ADAPTER", "actions.shop.sql:SQLShop"),
            fixed_now=_moment(env.get("ASSISTANT_FIXED_NOW", "")),
        )


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
