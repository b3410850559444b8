"""When human agents are at work, from the policy's agent hours."""

from __future__ import annotations

from datetime import datetime, timedelta

from actions.calendar import ShopCalendar
from actions.policy import Policy

MAX_DAYS_AHEAD = 14


class SupportHours:
    def __init__(self, policy: Policy, calendar: ShopCalendar) -> None:
        self.policy = policy
        self.calendar = calendar

    def is_open(self, now: datetime) -> bool:
        local = self.calendar.local(now)
        return any(
            local.isoweekday() in block.days and block.open <= local.time() < block.close
            for block in self.policy.agent_hours
        )

    def next_opening(self, now: datetime) -> datetime | None:
        """The next moment agents start work (local time), or None if now is open."""
        if self.is_open(now):
            return None
        local = self.calendar.local(now)
        for offset in range(MAX_DAYS_AHEAD):
            day = local.date() + timedelta(days=offset)
            opens = sorted(
                block.open for block in self.policy.agent_hours if day.isoweekday() in block.days
            )
            for opening in opens:
                candidate = datetime.combine(day, opening, tzinfo=self.calendar.zone)
                if candidate > local:
                    return candidate
        return None
