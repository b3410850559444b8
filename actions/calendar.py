"""Business days and local time in the shop's time zone, as the policy defines them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

from actions.policy import Policy


class ShopCalendar:
    """Monday to Friday, minus the public holidays of the shop's region."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.zone = ZoneInfo(policy.timezone)

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        if not self.policy.holiday_country:
            return holidays.HolidayBase()
        return holidays.country_holidays(
            self.policy.holiday_country, subdiv=self.policy.holiday_subdivision
        )

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def add_business_days(self, start: date, count: int) -> date:
        """The business day ``count`` business days after ``start`` (start itself not counted)."""
        day = start
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_business_day(day):
                remaining -= 1
        return day

    def next_business_day(self, day: date, include_today: bool = True) -> date:
        if include_today and self.is_business_day(day):
            return day
        return self.add_business_days(day, 1)

    def business_days_between(self, start: date, end: date) -> int:
        """Business days after ``start`` up to and including ``end`` (0 if end <= start)."""
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_business_day(day):
                count += 1
        return count
