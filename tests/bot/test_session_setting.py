"""``SESSION_EXPIRATION_MINUTES`` in Rasa's own environment (tests/rasa_side/
session_setting_check.py runs there): read and checked with a clear message naming the
variable, refused as Rasa builds the tracker store, and given to the loaded model's domain."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


@pytest.fixture(scope="module")
def found() -> dict[str, Any]:
    if not RASA_PYTHON.exists():
        pytest.fail(f"{RASA_PYTHON} is missing: run `make setup`")
    env = {k: v for k, v in os.environ.items() if k != "SESSION_EXPIRATION_MINUTES"}
    result = subprocess.run(
        [str(RASA_PYTHON), str(ROOT / "tests" / "rasa_side" / "session_setting_check.py")],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
        env={**env, "RASA_TELEMETRY_ENABLED": "false"})
    assert result.returncode == 0, result.stderr[-2000:]
    findings: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return findings


def test_numbers_of_minutes_are_read_and_anything_else_is_refused_clearly(
        found: dict[str, Any]) -> None:
    parsed = found["parsed"]
    assert (parsed[""], parsed["  "]) == (None, None)  # unset: the model's own
    assert (parsed["60"], parsed["0.1"], parsed["0"], parsed["1e-3"]) == (60, 0.1, 0, 0.001)
    for bad in ("abc", "-1", "nan", "inf", "10 min"):
        assert parsed[bad].startswith(f"error: SESSION_EXPIRATION_MINUTES={bad!r}:"), parsed[bad]
        assert "a number >= 0" in parsed[bad]


def test_rasa_does_not_start_with_a_bad_value(found: dict[str, Any]) -> None:
    assert "SESSION_EXPIRATION_MINUTES='soon'" in found["store_refuses"]
    assert found["store_accepts"] is None


def test_the_loaded_model_gets_the_settings_expiry(found: dict[str, Any]) -> None:
    assert found["unset"] == {"minutes": 60, "carry_over": True}  # domain.yml's
    assert found["set"] == {"minutes": 0.1, "carry_over": True}
    assert found["patched"] == "load"
