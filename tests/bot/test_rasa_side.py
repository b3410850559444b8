"""Rasa-side plugins in Rasa's own environment (.venv-rasa): the tracker store stores
and publishes exactly what Rasa's does, and the action servers' answers are checked as
Rasa checks them (tests/rasa_side/tracker_store_check.py runs there)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


@pytest.fixture(scope="module")
def findings() -> dict[str, object]:
    if not RASA_PYTHON.exists():
        pytest.fail(f"{RASA_PYTHON} is missing: run `make setup`")
    result = subprocess.run(
        [str(RASA_PYTHON), str(ROOT / "tests" / "rasa_side" / "tracker_store_check.py")],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    assert result.returncode == 0, result.stderr[-2000:]
    found: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_the_tracker_store_stores_and_publishes_what_rasas_does(
        findings: dict[str, object]) -> None:
    assert findings["same"], (findings["rasa"], findings["ours"])
    assert findings["events"] == findings["published"] == 18  # each event once
    assert findings["journal"] == "wal"


def test_models_loaded_for_serving_answer_exactly_as_rasas_loader_does() -> None:
    """DIET's parse and TED's next-action probabilities, message by message, from the
    trained model loaded both ways (tests/rasa_side/model_loading_check.py)."""
    result = subprocess.run(
        [str(RASA_PYTHON), str(ROOT / "tests" / "rasa_side" / "model_loading_check.py")],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["messages"] >= 20 and found["predictions"] >= 20
    assert found["parse_differences"] == [], found["sample"]
    assert found["prediction_differences"] == [], found["sample"]
    assert found["fast_seconds"] < found["stock_seconds"]


def test_action_answers_are_checked_as_rasa_checks_them(findings: dict[str, object]) -> None:
    """Valid and invalid answers: the same verdict and the same error message as Rasa's."""
    answers = findings["answers"]
    assert isinstance(answers, list) and len(answers) == 15
    for rasa, ours in answers:
        assert ours == rasa
    assert sum(rasa == "valid" for rasa, _ in answers) >= 5
    assert sum(rasa != "valid" for rasa, _ in answers) >= 5
    assert "is not valid under any of the given schemas" in str(findings["rasa_bad"])
