"""Readers of Rasa's broker table never move past a row that may still commit."""

from __future__ import annotations

import json

from metrics.records import GAP_GRACE_SECONDS, settled

NOW = 1_800_000_000.0


def row(row_id: int, age: float) -> tuple[int, str, str]:
    return row_id, "c-1", json.dumps({"event": "user", "timestamp": NOW - age})


def test_rows_without_gaps_are_all_read() -> None:
    rows = [row(11, 0.1), row(12, 0.1), row(13, 0.0)]
    assert settled(rows, 10, NOW) == rows


def test_reading_stops_at_a_young_gap_and_goes_on_once_it_is_old() -> None:
    # Rows 11 and 12 were read; 13 is still being committed by another Rasa process.
    young = [row(11, 1), row(12, 1), row(14, 1), row(15, 1)]
    assert settled(young, 10, NOW) == young[:2]
    old = [row(14, GAP_GRACE_SECONDS + 1), row(15, GAP_GRACE_SECONDS + 1)]
    assert settled(old, 12, NOW) == old  # 13 was rolled back: it never comes


def test_a_gap_right_after_the_cursor_counts_too() -> None:
    assert settled([row(13, 0.5)], 11, NOW) == []
    assert settled([row(12, 0.5), row(13, 0.5)], 11, NOW) == [row(12, 0.5), row(13, 0.5)]


def test_the_first_read_has_no_gap_to_wait_for() -> None:
    assert settled([row(500, 0.0)], 0, NOW) == [row(500, 0.0)]


def test_unreadable_data_counts_as_old() -> None:
    assert settled([(14, "c-1", "not json")], 12, NOW) == [(14, "c-1", "not json")]
