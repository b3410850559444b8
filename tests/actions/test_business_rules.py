"""Every business rule against every demo order, with the clock pinned.

The clock stands on Monday 23 November 2026, 11:00 Berlin time, and the demo shop is
seeded at that moment, so "delivered 8 days ago" is 15 November. Each expectation below
was worked out by hand from POLICY.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from actions import return_rules as rr
from actions import warranty_rules as wr
from actions.runtime import Runtime

D = date

# order: (status, expected delivery window or None, lost?, cancellable, address changeable)
ORDERS = {
    "ORB-104217": ("delivered", None, False, False, False),
    "ORB-104388": ("shipped", (D(2026, 11, 25), D(2026, 11, 27)), False, False, False),
    "ORB-104402": ("processing", (D(2026, 11, 24), D(2026, 11, 25)), False, True, True),
    "ORB-104415": ("pending_payment", None, False, True, True),
    "ORB-103990": ("delivered", None, False, False, False),
    "ORB-102001": ("delivered", None, False, False, False),
    "ORB-100777": ("delivered", None, False, False, False),
    "ORB-101500": ("delivered", None, False, False, False),
    "ORB-104420": ("delivered", None, False, False, False),
    "ORB-104301": ("out_for_delivery", (D(2026, 11, 23), D(2026, 11, 23)), False, False, False),
    "ORB-104150": ("shipped", (D(2026, 11, 12), D(2026, 11, 16)), True, False, False),
    "ORB-103500": ("cancelled", None, False, False, False),
    "ORB-103200": ("returned", None, False, False, False),
    "ORB-104444": ("delivered", None, False, False, False),
}

# (order, sku): (returnable, reason if not, last day of the return window)
RETURNS = {
    ("ORB-104217", "PH-NOVA-7"): (True, None, D(2026, 12, 15)),
    ("ORB-104217", "AC-CASE-N7"): (True, None, D(2026, 12, 15)),
    ("ORB-104388", "LT-AERO-14"): (False, rr.NOT_DELIVERED_REFUSE, None),
    ("ORB-104402", "HP-QUIET-3"): (False, rr.NOT_DELIVERED_CANCEL, None),
    ("ORB-104415", "TV-VIEW-55"): (False, rr.NOT_DELIVERED_CANCEL, None),
    ("ORB-103990", "TB-SLATE-11"): (False, rr.WINDOW_EXPIRED, D(2026, 11, 8)),
    ("ORB-102001", "SW-PULSE-2"): (False, rr.WINDOW_EXPIRED, D(2025, 11, 18)),
    ("ORB-102001", "AC-CHG-65"): (False, rr.WINDOW_EXPIRED, D(2025, 11, 18)),
    ("ORB-100777", "LT-AERO-13"): (False, rr.WINDOW_EXPIRED, D(2024, 10, 14)),
    ("ORB-101500", "TV-VIEW-65"): (False, rr.WINDOW_EXPIRED, D(2024, 7, 11)),
    ("ORB-104420", "HP-BUDS-2"): (True, None, D(2026, 12, 19)),
    ("ORB-104420", "GC-50"): (False, rr.NON_RETURNABLE_CATEGORY, D(2026, 12, 19)),
    ("ORB-104301", "SH-HUB-1"): (False, rr.NOT_DELIVERED_REFUSE, None),
    ("ORB-104150", "CM-SNAP-X"): (False, rr.NOT_DELIVERED_REFUSE, None),
    ("ORB-103500", "PH-NOVA-7"): (False, rr.ORDER_CANCELLED, None),
    ("ORB-103200", "SH-CAM-2"): (False, rr.ORDER_RETURNED, None),
    ("ORB-104444", "AC-CABLE-2"): (True, None, D(2026, 12, 5)),
    ("ORB-104444", "AC-GLASS-N7"): (True, None, D(2026, 12, 5)),
    ("ORB-104444", "SW-ENGRAVE"): (False, rr.PERSONALISED, D(2026, 12, 5)),
}

# (order, sku): (covered, reason if not, kind if covered, warranty end, months)
WARRANTY = {
    ("ORB-104217", "PH-NOVA-7"): (True, None, wr.KIND_DOA, D(2028, 11, 15), 24),
    ("ORB-104217", "AC-CASE-N7"): (True, None, wr.KIND_REPAIR, D(2027, 11, 15), 12),
    ("ORB-104388", "LT-AERO-14"): (False, wr.NOT_DELIVERED, None, None, 0),
    ("ORB-104402", "HP-QUIET-3"): (False, wr.NOT_DELIVERED, None, None, 0),
    ("ORB-104415", "TV-VIEW-55"): (False, wr.NOT_DELIVERED, None, None, 0),
    ("ORB-103990", "TB-SLATE-11"): (True, None, wr.KIND_REPAIR, D(2028, 10, 9), 24),
    ("ORB-102001", "SW-PULSE-2"): (True, None, wr.KIND_REPAIR, D(2027, 10, 19), 24),
    ("ORB-102001", "AC-CHG-65"): (False, wr.EXPIRED, None, D(2026, 10, 19), 12),
    ("ORB-100777", "LT-AERO-13"): (False, wr.EXPIRED, None, D(2026, 9, 14), 24),
    ("ORB-101500", "TV-VIEW-65"): (True, None, wr.KIND_REPAIR, D(2028, 6, 11), 48),
    ("ORB-104420", "HP-BUDS-2"): (True, None, wr.KIND_DOA, D(2028, 11, 19), 24),
    ("ORB-104420", "GC-50"): (False, wr.NO_WARRANTY, None, None, 0),
    ("ORB-104301", "SH-HUB-1"): (False, wr.NOT_DELIVERED, None, None, 0),
    ("ORB-104150", "CM-SNAP-X"): (False, wr.NOT_DELIVERED, None, None, 0),
    ("ORB-103500", "PH-NOVA-7"): (False, wr.ORDER_CANCELLED, None, None, 0),
    ("ORB-103200", "SH-CAM-2"): (False, wr.RETURNED, None, None, 0),
    ("ORB-104444", "AC-CABLE-2"): (True, None, wr.KIND_REPAIR, D(2027, 11, 5), 12),
    ("ORB-104444", "AC-GLASS-N7"): (True, None, wr.KIND_REPAIR, D(2027, 11, 5), 12),
    ("ORB-104444", "SW-ENGRAVE"): (True, None, wr.KIND_REPAIR, D(2028, 11, 5), 24),
}


def test_tables_cover_every_demo_order_and_item() -> None:
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parents[2] / "demo_shop" / "orders.json").read_text())
    items = {(o["order_id"], i["sku"]) for o in data["orders"] for i in o["items"]}
    assert set(ORDERS) == {o["order_id"] for o in data["orders"]}
    assert set(RETURNS) == items
    assert set(WARRANTY) == items


@pytest.mark.parametrize("order_id", sorted(ORDERS))
async def test_order_rules(runtime: Runtime, order_id: str) -> None:
    status, window, lost, cancellable, changeable = ORDERS[order_id]
    order = await runtime.shop.find_order(order_id)
    assert order is not None
    now = runtime.now()
    assert order.status == status
    estimate = runtime.orders.delivery_estimate(order, now)
    assert (estimate.earliest, estimate.latest) == window if window else estimate is None
    assert runtime.orders.lost_parcel(order, now).lost is lost
    assert runtime.orders.can_cancel(order) is cancellable
    assert runtime.orders.can_change_address(order) is changeable


@pytest.mark.parametrize(("order_id", "sku"), sorted(RETURNS))
async def test_return_eligibility(runtime: Runtime, order_id: str, sku: str) -> None:
    eligible, reason, deadline = RETURNS[(order_id, sku)]
    order = await runtime.shop.find_order(order_id)
    assert order is not None
    item = order.item(sku)
    assert item is not None
    verdict = runtime.returns.item_eligibility(
        order, item, await runtime.shop.history(order_id), runtime.now()
    )
    assert (verdict.eligible, verdict.reason, verdict.deadline) == (eligible, reason, deadline)


@pytest.mark.parametrize(("order_id", "sku"), sorted(WARRANTY))
async def test_warranty_coverage(runtime: Runtime, order_id: str, sku: str) -> None:
    covered, reason, kind, ends, months = WARRANTY[(order_id, sku)]
    order = await runtime.shop.find_order(order_id)
    assert order is not None
    item = order.item(sku)
    assert item is not None
    verdict = runtime.warranty.coverage(order, item, await runtime.shop.history(order_id),
                                        runtime.now())
    assert (verdict.covered, verdict.reason, verdict.kind) == (covered, reason, kind)
    if ends:
        assert (verdict.ends, verdict.months) == (ends, months)


async def test_lost_parcel_counts_business_days(runtime: Runtime) -> None:
    order = await runtime.shop.find_order("ORB-104150")
    assert order is not None
    check = runtime.orders.lost_parcel(order, runtime.now())
    # Last movement Wednesday 11 November; 7 business days later is Friday 20 November.
    assert check.last_movement == D(2026, 11, 11)
    assert check.business_days_still == 8
    assert check.lost_from == D(2026, 11, 20)
    day_before = datetime(2026, 11, 19, 12, tzinfo=UTC)
    assert not runtime.orders.lost_parcel(order, day_before).lost


async def test_return_window_last_day_is_inclusive(runtime: Runtime) -> None:
    order = await runtime.shop.find_order("ORB-104217")
    assert order is not None and order.delivered_at is not None
    history = await runtime.shop.history(order.order_id)
    item = order.items[0]
    last_day = order.delivered_at + timedelta(days=30)
    assert runtime.returns.item_eligibility(order, item, history, last_day).eligible
    verdict = runtime.returns.item_eligibility(order, item, history,
                                               last_day + timedelta(days=1))
    assert verdict.reason == rr.WINDOW_EXPIRED


async def test_dead_on_arrival_ends_after_14_days(runtime: Runtime) -> None:
    order = await runtime.shop.find_order("ORB-104217")
    assert order is not None and order.delivered_at is not None
    history = await runtime.shop.history(order.order_id)
    phone = order.items[0]
    day_14 = order.delivered_at + timedelta(days=14)
    assert runtime.warranty.coverage(order, phone, history, day_14).kind == wr.KIND_DOA
    day_15 = order.delivered_at + timedelta(days=15)
    assert runtime.warranty.coverage(order, phone, history, day_15).kind == wr.KIND_REPAIR


def test_return_fees(runtime: Runtime) -> None:
    assert runtime.returns.fee("defective") == 0.0
    assert runtime.returns.fee("wrong_item") == 0.0
    assert runtime.returns.fee("changed_mind") == 4.95
    assert runtime.returns.fee("other") == 4.95


async def test_shipping_fee_and_bank_transfer_deadline(runtime: Runtime) -> None:
    tv = await runtime.shop.find_order("ORB-104415")
    assert tv is not None
    assert runtime.orders.shipping_fee(tv) == 0.0  # 649 EUR: free standard delivery
    assert runtime.orders.bank_transfer_deadline(tv) == D(2026, 11, 28)
    headphones = await runtime.shop.find_order("ORB-104402")
    assert headphones is not None
    assert runtime.orders.shipping_fee(headphones) == 9.90  # express is never free


async def test_express_after_cutoff_ships_next_business_day(runtime: Runtime) -> None:
    order = await runtime.shop.find_order("ORB-104402")
    assert order is not None
    late = order.placed_at.replace(hour=14, minute=30)  # 15:30 in Berlin
    from dataclasses import replace

    estimate = runtime.orders.delivery_estimate(replace(order, placed_at=late), late)
    assert estimate is not None
    assert estimate.ships_on == D(2026, 11, 24)
    assert (estimate.earliest, estimate.latest) == (D(2026, 11, 25), D(2026, 11, 26))


def test_accidental_damage_words() -> None:
    assert wr.describes_accidental_damage("I dropped it and the screen cracked")
    assert wr.describes_accidental_damage("уронил в воду, теперь не включается")
    assert wr.describes_accidental_damage("телефон впав і розбився екран")
    assert not wr.describes_accidental_damage("it stopped charging after a week")
    assert not wr.describes_accidental_damage("не включается, экран чёрный")


def test_business_days_skip_weekends_and_berlin_holidays(runtime: Runtime) -> None:
    cal = runtime.calendar
    assert cal.add_business_days(D(2026, 11, 20), 1) == D(2026, 11, 23)  # Fri -> Mon
    # 24 Dec 2026 is a Thursday; 25 and 26 December are public holidays in Berlin.
    assert cal.add_business_days(D(2026, 12, 24), 1) == D(2026, 12, 28)
    assert not cal.is_business_day(D(2026, 10, 3))  # German Unity Day
    assert cal.business_days_between(D(2026, 11, 20), D(2026, 11, 23)) == 1
