"""Order rules: delivery estimates, lost parcels, what may still be cancelled or changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from actions.calendar import ShopCalendar
from actions.policy import Policy
from actions.shop.base import Order

IN_TRANSIT = frozenset({"shipped", "out_for_delivery"})


@dataclass(frozen=True)
class DeliveryEstimate:
    earliest: date
    latest: date
    ships_on: date | None = None  # for orders not yet handed to the carrier


@dataclass(frozen=True)
class LostParcelCheck:
    """Whether an order in transit counts as lost, and since when tracking is still."""

    applicable: bool  # False when the order is not with the carrier
    lost: bool
    last_movement: date | None
    business_days_still: int
    lost_from: date | None  # the day it will count as lost if nothing moves


class OrderRules:
    def __init__(self, policy: Policy, calendar: ShopCalendar) -> None:
        self.policy = policy
        self.calendar = calendar

    def local_date(self, moment: datetime) -> date:
        return self.calendar.local(moment).date()

    def shipping_fee(self, order: Order) -> float:
        option = self.policy.delivery.get(order.delivery or "standard")
        if option is None:
            return 0.0
        if option.free_from is not None and order.total >= option.free_from:
            return 0.0
        return option.fee

    def ship_date(self, order: Order, now: datetime) -> date:
        """When an order not yet shipped leaves the warehouse, at the earliest.

        Express orders placed before the cut-off on a business day ship that day; any
        other order ships on the next business day after today at the earliest.
        """
        option = self.policy.delivery.get(order.delivery or "standard")
        today = self.local_date(now)
        placed_local = self.calendar.local(order.placed_at)
        if (
            option is not None
            and option.same_day_cutoff is not None
            and placed_local.date() == today
            and self.calendar.is_business_day(today)
            and placed_local.time() < option.same_day_cutoff
        ):
            return today
        return self.calendar.add_business_days(today, 1)

    def delivery_estimate(self, order: Order, now: datetime) -> DeliveryEstimate | None:
        """Expected delivery window from the policy's business-day ranges.

        Shipped orders count from the shipping date; orders being processed from the day
        they will ship; unpaid, delivered, cancelled and returned orders have none.
        """
        option = self.policy.delivery.get(order.delivery or "standard")
        if option is None:
            return None
        today = self.local_date(now)
        if order.status in IN_TRANSIT and order.shipped_at is not None:
            start = self.local_date(order.shipped_at)
            ships_on = None
        elif order.status == "processing":
            start = ships_on = self.ship_date(order, now)
        else:
            return None
        earliest = self.calendar.add_business_days(start, option.min_business_days)
        latest = self.calendar.add_business_days(start, option.max_business_days)
        if order.status == "out_for_delivery":
            earliest = latest = today
        elif earliest < today <= latest:
            earliest = today
        return DeliveryEstimate(earliest=earliest, latest=latest, ships_on=ships_on)

    def is_overdue(self, order: Order, now: datetime) -> bool:
        estimate = self.delivery_estimate(order, now)
        return bool(
            estimate and order.status in IN_TRANSIT and self.local_date(now) > estimate.latest
        )

    def lost_parcel(self, order: Order, now: datetime) -> LostParcelCheck:
        if order.status not in IN_TRANSIT:
            return LostParcelCheck(False, False, None, 0, None)
        moved = order.last_tracking_event_at or order.shipped_at
        if moved is None:
            return LostParcelCheck(False, False, None, 0, None)
        last = self.local_date(moved)
        still = self.calendar.business_days_between(last, self.local_date(now))
        threshold = self.policy.lost_after_business_days
        return LostParcelCheck(
            applicable=True,
            lost=still >= threshold,
            last_movement=last,
            business_days_still=still,
            lost_from=self.calendar.add_business_days(last, threshold),
        )

    def can_cancel(self, order: Order) -> bool:
        return order.status in self.policy.cancellable_statuses

    def can_change_address(self, order: Order) -> bool:
        return order.status in self.policy.address_changeable_statuses

    def bank_transfer_deadline(self, order: Order) -> date | None:
        if order.status != "pending_payment" or order.payment != "bank_transfer":
            return None
        return self.local_date(order.placed_at) + timedelta(
            days=self.policy.bank_transfer_deadline_days
        )
