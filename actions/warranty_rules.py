"""Warranty rules: coverage per item, dead on arrival, and what is never covered."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from dateutil.relativedelta import relativedelta

from actions.calendar import ShopCalendar
from actions.policy import Policy
from actions.shop.base import Order, OrderHistory, OrderItem

NOT_DELIVERED = "not_delivered"
ORDER_CANCELLED = "order_cancelled"
RETURNED = "returned"  # the item went back to the shop
NO_WARRANTY = "no_warranty"  # gift cards, software: nothing to repair
EXPIRED = "expired"
OPEN_CLAIM = "open_claim"

KIND_REPAIR = "repair"
KIND_DOA = "doa_exchange"

# Words that describe accidental damage, which the warranty does not cover. Matched on
# word starts so that inflected Russian and Ukrainian forms are found too.
_ACCIDENT_STEMS = (
    # English
    "drop", "fell", "fall", "crack", "shatter", "smash", "liquid", "water", "spill", "wet",
    "coffee", "rain", "sat on", "stepped on", "ran over", "hit", "broke the screen",
    # Russian
    "упал", "урон", "разбил", "разбит", "трещин", "треснул", "залил", "залит", "вод",
    "жидкост", "намок", "утопил", "наступил", "сел на", "удар",
    # Ukrainian
    "впав", "впала", "упустив", "розбив", "розбит", "тріщин", "тріснув", "залив", "залит",
    "рідин", "намок", "наступив",
)
_ACCIDENT_RE = re.compile(
    r"(?<!\w)(?:" + "|".join(re.escape(stem) for stem in _ACCIDENT_STEMS) + r")", re.IGNORECASE
)


@dataclass(frozen=True)
class WarrantyCoverage:
    covered: bool
    reason: str | None = None
    kind: str | None = None  # KIND_REPAIR or KIND_DOA when covered
    ends: date | None = None
    months: int = 0  # standard plus Orbita Care
    claim_id: str | None = None  # the open claim, for OPEN_CLAIM


class WarrantyRules:
    def __init__(self, policy: Policy, calendar: ShopCalendar) -> None:
        self.policy = policy
        self.calendar = calendar

    def months(self, order: Order, item: OrderItem) -> int:
        base = self.policy.warranty_months.get(item.category, 0)
        if base and item.category in self.policy.care_applies_to:
            base += 12 * order.orbita_care_years
        return base

    def coverage(
        self, order: Order, item: OrderItem, history: OrderHistory, now: datetime
    ) -> WarrantyCoverage:
        if order.status == "cancelled":
            return WarrantyCoverage(False, ORDER_CANCELLED)
        if order.delivered_at is None:
            return WarrantyCoverage(False, NOT_DELIVERED)
        if order.status == "returned" or history.return_for(item.sku) is not None:
            return WarrantyCoverage(False, RETURNED)
        months = self.months(order, item)
        if months == 0:
            return WarrantyCoverage(False, NO_WARRANTY)
        delivered = self.calendar.local(order.delivered_at).date()
        ends = delivered + relativedelta(months=months)
        today = self.calendar.local(now).date()
        if today > ends:
            return WarrantyCoverage(False, EXPIRED, ends=ends, months=months)
        claim = history.open_claim_for(item.sku)
        if claim is not None:
            return WarrantyCoverage(False, OPEN_CLAIM, ends=ends, months=months,
                                    claim_id=claim.claim_id)
        doa = (
            item.category in self.policy.dead_on_arrival_categories
            and (today - delivered).days <= self.policy.dead_on_arrival_days
        )
        return WarrantyCoverage(True, None, KIND_DOA if doa else KIND_REPAIR, ends, months)


def describes_accidental_damage(fault: str) -> bool:
    """True if the customer's description names a drop, a crack or liquid."""
    return bool(_ACCIDENT_RE.search(fault or ""))
