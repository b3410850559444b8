"""Reading settings from the environment, one way for every part: an unset or blank value
is the default, anything else must parse and lie in range, or ``SettingsError`` names the
variable, what it must be and what it got. Pure standard library, so Rasa's environment
(the channels) and the services' (action server, handoff service) both import it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names it."""


def _raw(env: Mapping[str, str], name: str) -> str:
    return (env.get(name) or "").strip()


def _in_range(name: str, raw: str, value: float, low: float, high: float, hint: str) -> None:
    if low <= value <= high:
        return
    if high == math.inf:
        bound = f"at least {low:g}"
    elif low == -math.inf:
        bound = f"at most {high:g}"
    else:
        bound = f"between {low:g} and {high:g}"
    raise SettingsError(f"{name} must be {bound}{hint}, got {raw}")


Parsed = TypeVar("Parsed", int, float)


def _parsed(env: Mapping[str, str], name: str, default: Parsed,
            convert: Callable[[str], Parsed], low: float, high: float,
            what: str, hint: str) -> Parsed:
    raw = _raw(env, name)
    if not raw:
        return default
    try:
        value = convert(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be {what}{hint}, got {raw!r}") from exc
    if not math.isfinite(value):
        raise SettingsError(f"{name} must be {what}{hint}, got {raw!r}")
    _in_range(name, raw, value, low, high, hint)
    return value


def number(env: Mapping[str, str], name: str, default: float, low: float = -math.inf,
           high: float = math.inf, *, what: str = "a number", hint: str = "") -> float:
    """``name`` as a float in [low, high]; ``what`` and ``hint`` word the error message."""
    return _parsed(env, name, default, float, low, high, what, hint)


def integer(env: Mapping[str, str], name: str, default: int, low: float = -math.inf,
            high: float = math.inf, *, what: str = "a whole number", hint: str = "") -> int:
    """``name`` as an int in [low, high]."""
    return _parsed(env, name, default, int, low, high, what, hint)


TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


def flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    """``name`` as true (1, true, yes, on) or false (0, false, no, off), any case."""
    raw = _raw(env, name).lower()
    if not raw:
        return default
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


# Where each store lives when its variable is unset: a SQLite file in var/ of the checkout,
# the same for every process that opens it (the action server, the handoff service, erasure).
ROOT = Path(__file__).resolve().parent.parent
DATABASE_FILES = {
    "SHOP_DB_URL": "shop.db",
    "ACTIONS_DB_URL": "actions.db",
    "HANDOFF_DB_URL": "handoff.db",
    "METRICS_DB_URL": "metrics.db",
    "RASA_EVENTS_DB_URL": "events.db",
}


def database_url(env: Mapping[str, str], name: str) -> str:
    """The SQLAlchemy URL in ``name``, or the default SQLite file of that store."""
    return _raw(env, name) or f"sqlite+aiosqlite:///{ROOT / 'var' / DATABASE_FILES[name]}"
