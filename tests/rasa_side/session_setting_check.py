"""Run with .venv-rasa's Python (tests/bot/test_session_setting.py does):
``SESSION_EXPIRATION_MINUTES`` read and checked, the tracker store refusing a bad value as
Rasa builds it, and the model's domain given the setting's expiry when a processor loads
it. Prints one JSON object of findings."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rasa.shared.core.domain import Domain

from rasa_plugins import model_loading
from rasa_plugins.trackers import SQLTrackerStore

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"
VALUES = ["", "  ", "60", "0.1", "0", "1e-3", "abc", "-1", "nan", "inf", "10 min"]


def parsed(raw: str) -> Any:
    try:
        return model_loading.session_minutes({"SESSION_EXPIRATION_MINUTES": raw})
    except model_loading.SessionSettingError as exc:
        return f"error: {exc}"


def store_error(folder: str, raw: str) -> str | None:
    os.environ["SESSION_EXPIRATION_MINUTES"] = raw
    try:
        SQLTrackerStore(domain=None, db=str(Path(folder) / "t.db"), dialect="sqlite")
    except model_loading.SessionSettingError as exc:
        return str(exc)
    finally:
        del os.environ["SESSION_EXPIRATION_MINUTES"]
    return None


def loaded(minutes: str | None) -> dict[str, Any]:
    """The session config a processor gets from the model's domain (domain.yml here)."""
    env = {} if minutes is None else {"SESSION_EXPIRATION_MINUTES": minutes}
    model_loading.install(env)
    domain = Domain.load(str(DOMAIN_FILE))
    load = model_loading.with_session_config(
        lambda path: (str(path), SimpleNamespace(domain=domain), None))
    _, metadata, _ = load("model.tar.gz")
    config = metadata.domain.session_config
    return {"minutes": config.session_expiration_time, "carry_over": config.carry_over_slots}


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        found = {
            "parsed": {raw: parsed(raw) for raw in VALUES},
            "store_refuses": store_error(folder, "soon"),
            "store_accepts": store_error(folder, "0.5"),
            "unset": loaded(None),
            "set": loaded("0.1"),
            "patched": model_loading.MessageProcessor._load_model.__name__,
        }
        model_loading.install({})
    print(json.dumps(found))


if __name__ == "__main__":
    main()
