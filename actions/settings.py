"""Settings of the action server, read from the environment (see README, "Settings")."""

from __future__ import annotations

import os
from dataclasses import dataclass
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
    default_language: str

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
            default_language=env.get("DEFAULT_LANGUAGE", "en"),
        )
