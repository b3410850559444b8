from __future__ import annotations

from datetime import UTC, datetime

import pytest

from actions.formatting import opening_hours
from actions.runtime import Runtime


@pytest.mark.parametrize(
    ("moment", "is_open", "next_opening"),
    [
        (datetime(2026, 11, 23, 10, 0, tzinfo=UTC), True, None),  # Mon 11:00 Berlin
        (datetime(2026, 11, 23, 19, 30, tzinfo=UTC), False, "2026-11-24 09:00"),  # Mon 20:30
        (datetime(2026, 11, 28, 8, 59, tzinfo=UTC), False, "2026-11-28 10:00"),  # Sat 09:59
        (datetime(2026, 11, 28, 15, 0, tzinfo=UTC), False, "2026-11-30 09:00"),  # Sat 16:00
        (datetime(2026, 11, 29, 12, 0, tzinfo=UTC), False, "2026-11-30 09:00"),  # Sunday
        (datetime(2026, 7, 4, 7, 30, tzinfo=UTC), False, "2026-07-04 10:00"),  # Sat 09:30 CEST
    ],
)
def test_agent_hours(runtime: Runtime, moment: datetime, is_open: bool,
                     next_opening: str | None) -> None:
    assert runtime.hours.is_open(moment) is is_open
    opening = runtime.hours.next_opening(moment)
    found = opening.strftime("%Y-%m-%d %H:%M") if opening else None
    assert found == next_opening


def test_opening_hours_in_each_language(runtime: Runtime) -> None:
    assert opening_hours(runtime.policy, "en") == "Monday–Friday 09:00–20:00, Saturday 10:00–16:00"
    assert opening_hours(runtime.policy, "ru").startswith("понедельник–пятница 09:00–20:00")
    assert "субота" in opening_hours(runtime.policy, "uk")
