"""Order jobs: status and delivery estimate, lost parcels, cancellation, address change."""

from __future__ import annotations

import re

from rasa_sdk import Tracker

from actions import formatting as fmt
from actions.jobs import BLOCKED_SLOT, Job, JobContext, free_text_answer
from actions.order_rules import LostParcelCheck
from actions.shop.base import Order, ShopError

MIN_ADDRESS_CHARS = 10


def item_list(order: Order) -> str:
    return "; ".join(item.name for item in order.items)


def order_facts(ctx: JobContext, order: Order) -> dict[str, str]:
    """Values every order response may use."""
    lang, policy = ctx.lang, ctx.rt.policy
    return {
        "order_id": order.order_id,
        "items": item_list(order),
        "total": fmt.money(order.total, policy.currency, lang),
        "carrier": policy.carrier_name(order.carrier, lang),
        "tracking_number": order.tracking_number or "",
    }


async def tell_status(ctx: JobContext, order: Order) -> None:
    """Status, carrier, tracking number and the expected delivery window."""
    rt, lang, now = ctx.rt, ctx.lang, ctx.rt.now()
    facts = order_facts(ctx, order)
    estimate = rt.orders.delivery_estimate(order, now)
    window = fmt.window(estimate.earliest, estimate.latest, lang) if estimate else ""
    if order.status == "pending_payment":
        ctx.say("utter_status_pending_payment", **facts)
        deadline = rt.orders.bank_transfer_deadline(order)
        if deadline:
            ctx.say("utter_bank_transfer_deadline", deadline=fmt.day(deadline, lang))
    elif order.status == "processing" and estimate and estimate.ships_on:
        ctx.say("utter_status_processing", ships_on=fmt.day(estimate.ships_on, lang),
                window=window, **facts)
    elif order.status == "shipped":
        ctx.say("utter_status_shipped", window=window, **facts)
    elif order.status == "out_for_delivery":
        ctx.say("utter_status_out_for_delivery", **facts)
    elif order.status == "delivered" and order.delivered_at:
        ctx.say("utter_status_delivered", delivered_on=fmt.day_with_year(order.delivered_at, lang),
                **facts)
    elif order.status == "cancelled" and order.cancelled_at:
        ctx.say("utter_status_cancelled",
                cancelled_on=fmt.day_with_year(order.cancelled_at, lang), **facts)
    elif order.status == "returned":
        history = await ctx.history()
        rma = history.returns[0].rma if history.returns else ""
        ctx.say("utter_status_returned", rma=rma, **facts)
    else:
        ctx.say("utter_status_other", **facts)
    ctx.say("utter_order_items", items=facts["items"], total=facts["total"])
    lost = rt.orders.lost_parcel(order, now)
    if lost.lost:
        tell_lost(ctx, order, lost)
    elif rt.orders.is_overdue(order, now) and lost.lost_from:
        ctx.say("utter_delivery_late", lost_from=fmt.day(lost.lost_from, lang),
                days=rt.policy.lost_after_business_days)


def tell_lost(ctx: JobContext, order: Order, check: LostParcelCheck) -> None:
    if check.last_movement is not None:
        ctx.say("utter_parcel_lost", order_id=order.order_id, days=check.business_days_still,
                last_movement=fmt.day(check.last_movement, ctx.lang))
        # The policy: a replacement or a full refund, which a person arranges.
        ctx.escalation = "lost_parcel"


class TrackJob(Job):
    name = "track"

    async def complete(self, ctx: JobContext) -> None:
        await tell_status(ctx, await ctx.order())


class LostParcelJob(Job):
    name = "lost_parcel"

    async def complete(self, ctx: JobContext) -> None:
        rt, lang, now = ctx.rt, ctx.lang, ctx.rt.now()
        order = await ctx.order()
        check = rt.orders.lost_parcel(order, now)
        if check.lost:
            tell_lost(ctx, order, check)
        elif check.applicable and check.last_movement and check.lost_from:
            estimate = rt.orders.delivery_estimate(order, now)
            ctx.say(
                "utter_parcel_not_lost",
                order_id=order.order_id,
                last_movement=fmt.day(check.last_movement, lang),
                days=rt.policy.lost_after_business_days,
                lost_from=fmt.day(check.lost_from, lang),
                window=fmt.window(estimate.earliest, estimate.latest, lang) if estimate else "",
                **{k: v for k, v in order_facts(ctx, order).items() if k != "order_id"},
            )
        elif order.status == "delivered" and order.delivered_at:
            ctx.say("utter_parcel_delivered_missing", order_id=order.order_id,
                    delivered_on=fmt.day_with_year(order.delivered_at, lang))
        else:
            await tell_status(ctx, order)


class CancelJob(Job):
    name = "cancel"
    slots = ("cancel_confirm",)

    def required(self, tracker: Tracker) -> list[str]:
        return ["cancel_confirm"]

    async def gate(self, ctx: JobContext) -> None:
        if not ctx.rt.orders.can_cancel(await ctx.order()):
            ctx.set(BLOCKED_SLOT, True)

    async def collect(self, ctx: JobContext, slot: str) -> None:
        ctx.yes_no(slot)

    async def complete(self, ctx: JobContext) -> None:
        order = await ctx.order()
        facts = order_facts(ctx, order)
        if ctx.get(BLOCKED_SLOT):
            if order.status in ("shipped", "out_for_delivery"):
                ctx.say("utter_cannot_cancel_in_transit", **facts)
            elif order.status == "delivered":
                ctx.say("utter_cannot_cancel_delivered", **facts)
            else:
                ctx.say("utter_cannot_cancel_closed", **facts)
            return
        if not ctx.get("cancel_confirm"):
            ctx.say("utter_nothing_changed")
            return
        try:
            await ctx.rt.shop.cancel_order(order.order_id, ctx.rt.now())
        except ShopError:
            ctx.say("utter_cannot_cancel_closed", **facts)
            return
        ctx.say("utter_order_cancelled", **facts)


ADDRESS_RE = re.compile(r"(?=.*\d)(?=.*[^\W\d_])", re.UNICODE)


class AddressJob(Job):
    name = "change_address"
    slots = ("new_address", "address_confirm")

    def required(self, tracker: Tracker) -> list[str]:
        return ["new_address", "address_confirm"]

    async def gate(self, ctx: JobContext) -> None:
        if not ctx.rt.orders.can_change_address(await ctx.order()):
            ctx.set(BLOCKED_SLOT, True)

    async def collect(self, ctx: JobContext, slot: str) -> None:
        if slot == "address_confirm":
            ctx.yes_no(slot)
            return
        text = free_text_answer(ctx)
        if text is None:
            return
        if len(text) < MIN_ADDRESS_CHARS or not ADDRESS_RE.search(text):
            ctx.reject(slot, "utter_address_invalid")
            return
        ctx.set(slot, " ".join(text.split())[:500])

    async def complete(self, ctx: JobContext) -> None:
        order = await ctx.order()
        facts = order_facts(ctx, order)
        if ctx.get(BLOCKED_SLOT):
            if order.status in ("shipped", "out_for_delivery"):
                ctx.say("utter_address_in_transit", **facts)
            else:
                ctx.say("utter_address_closed", **facts)
            return
        if not ctx.get("address_confirm"):
            ctx.say("utter_nothing_changed")
            return
        try:
            await ctx.rt.shop.request_address_change(
                order.order_id, ctx.get("new_address"), ctx.rt.now()
            )
        except ShopError:
            ctx.say("utter_address_closed", **facts)
            return
        ctx.say("utter_address_change_recorded", new_address=ctx.get("new_address"), **facts)
