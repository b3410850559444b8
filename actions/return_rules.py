"""Return rules: which item of an order may go back, at what cost, and by when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from actions.calendar import ShopCalendar
from actions.policy import Policy
from actions.shop.base import Order, OrderHistory, OrderItem

# Why an order or an item cannot be returned; each code has a response in every language.
NOT_DELIVERED_CANCEL = "not_delivered_cancel"  # still cancellable: cancel instead
NOT_DELIVERED_REFUSE = "not_delivered_refuse"  # with the carrier: refuse the parcel
ORDER_CANCELLED = "order_cancelled"
ORDER_RETURNED = "order_returned"
WINDOW_EXPIRED = "window_expired"
NON_RETURNABLE_CATEGORY = "non_returnable_category"
PERSONALISED = "personalised"
ALREADY_RETURNED = "already_returned"
HYGIENE_SEAL = "hygiene_seal_broken"

REASONS = ("defective", "wrong_item", "changed_mind", "other")


@dataclass(frozen=True)
class ReturnEligibility:
    eligible: bool
    reason: str | None = None
    deadline: date | None = None  # last day of the return window
    rma: str | None = None  # the existing return, for ALREADY_RETURNED


class ReturnRules:
    def __init__(self, policy: Policy, calendar: ShopCalendar) -> None:
        self.policy = policy
        self.calendar = calendar

    def order_block(self, order: Order) -> str | None:
        """Why nothing of this order can be returned, or None."""
        if order.status in self.policy.cancellable_statuses:
            return NOT_DELIVERED_CANCEL
        if order.status in ("shipped", "out_for_delivery"):
            return NOT_DELIVERED_REFUSE
        if order.status == "cancelled":
            return ORDER_CANCELLED
        if order.status == "returned":
            return ORDER_RETURNED
        if order.delivered_at is None:
            return NOT_DELIVERED_REFUSE
        return None

    def deadline(self, order: Order) -> date | None:
        if order.delivered_at is None:
            return None
        delivered = self.calendar.local(order.delivered_at).date()
        return delivered + timedelta(days=self.policy.return_window_days)

    def item_eligibility(
        self, order: Order, item: OrderItem, history: OrderHistory, now: datetime
    ) -> ReturnEligibility:
        block = self.order_block(order)
        if block:
            return ReturnEligibility(False, block)
        deadline = self.deadline(order)
        existing = history.return_for(item.sku)
        if existing is not None:
            return ReturnEligibility(False, ALREADY_RETURNED, deadline, existing.rma)
        if item.category in self.policy.non_returnable_categories:
            return ReturnEligibility(False, NON_RETURNABLE_CATEGORY, deadline)
        if item.personalised:
            return ReturnEligibility(False, PERSONALISED, deadline)
        today = self.calendar.local(now).date()
        if deadline is None or today > deadline:
            return ReturnEligibility(False, WINDOW_EXPIRED, deadline)
        return ReturnEligibility(True, None, deadline)

    def fee(self, reason: str) -> float:
        """Return shipping deducted from the refund: free for the policy's free reasons."""
        return 0.0 if reason in self.policy.free_return_reasons else self.policy.return_shipping_fee

    def drop_off_by(self, now: datetime) -> datetime:
        return now + timedelta(days=self.policy.return_drop_off_days)

    def refunds_delivery(self, order: Order, history: OrderHistory, sku: str) -> bool:
        """True if returning ``sku`` completes a return of the whole order."""
        returned = {r.sku for r in history.returns if r.status != "cancelled"} | {sku}
        return all(item.sku in returned for item in order.items)
