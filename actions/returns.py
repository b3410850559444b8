"""The return job: which item, the hygiene seal where it matters, why, the cost, the RMA."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker

from actions import formatting as fmt
from actions import return_rules as rr
from actions.conversation import is_button_payload, latest_entity
from actions.jobs import BLOCKED_SLOT, ItemJob, JobContext
from actions.shop.base import Order, OrderItem

# Words that tell the reason for a return, in every language the assistant speaks.
_REASON_WORDS = {
    "defective": r"defect|faulty|broken|doesn'?t work|not working|stopped working|dead|"
                 r"брак|сломан|не работа|неисправ|дефект|не включа|зламан|не працю|несправн",
    "wrong_item": r"wrong|not what i ordered|different (item|model|colou?r)|"
                  r"не то|не тот|не та|другой|другую|не той|інший|іншу|не те",
    "changed_mind": r"changed my mind|don'?t (need|want|like)|no longer|too (big|small)|"
                    r"передумал|не нуж|не понрав|не подош|передумав|не потріб|не сподоба",
}


def parse_reason(text: str) -> str:
    """A reason code from the customer's words; anything unrecognised counts as "other"."""
    lowered = text.lower()
    for code, pattern in _REASON_WORDS.items():
        if re.search(pattern, lowered):
            return code
    return "other"


async def eligibility(ctx: JobContext, order: Order) -> dict[str, rr.ReturnEligibility]:
    history = await ctx.history()
    now = ctx.rt.now()
    return {
        item.sku: ctx.rt.returns.item_eligibility(order, item, history, now)
        for item in order.items
    }


def explain_item(ctx: JobContext, item: OrderItem, verdict: rr.ReturnEligibility) -> None:
    ctx.say(
        f"utter_item_not_returnable_{verdict.reason}",
        item=item.name,
        rma=verdict.rma or "",
        deadline=fmt.day_with_year(verdict.deadline, ctx.lang) if verdict.deadline else "",
        days=ctx.rt.policy.return_window_days,
    )


class ReturnJob(ItemJob):
    name = "return"
    item_slot = "return_item"
    ask_item_response = "utter_ask_return_item"
    slots = ("return_item", "return_item_sealed", "seal_intact", "return_reason",
             "return_confirm")

    def required(self, tracker: Tracker) -> list[str]:
        slots = ["return_item"]
        if tracker.get_slot("return_item_sealed"):
            slots.append("seal_intact")
            if tracker.get_slot("seal_intact") is False:
                return slots
        return slots + ["return_reason", "return_confirm"]

    async def verdicts(self, ctx: JobContext, order: Order) -> dict[str, rr.ReturnEligibility]:
        return await eligibility(ctx, order)

    def allowed(self, verdict: rr.ReturnEligibility) -> bool:
        return verdict.eligible

    def explain(self, ctx: JobContext, item: OrderItem, verdict: rr.ReturnEligibility) -> None:
        explain_item(ctx, item, verdict)

    def select(self, ctx: JobContext, item: OrderItem) -> None:
        super().select(ctx, item)
        ctx.set("return_item_sealed", item.hygiene_seal)

    async def gate(self, ctx: JobContext) -> None:
        if ctx.rt.returns.order_block(await ctx.order()):
            ctx.set(BLOCKED_SLOT, True)
            return
        await super().gate(ctx)

    async def prefill(self, ctx: JobContext, text: str) -> None:
        reason = parse_reason(text)
        if reason != "other" and not ctx.get("return_reason"):
            ctx.set("return_reason", reason)

    async def confirm_item(self, ctx: JobContext) -> None:
        order = await ctx.order()
        item = order.item(ctx.get("return_item"))
        verdict = (await eligibility(ctx, order)).get(item.sku) if item else None
        if item and verdict and verdict.eligible and verdict.deadline:
            ctx.say("utter_return_item_eligible", item=item.name,
                    ends=fmt.day_with_year(verdict.deadline, ctx.lang))

    async def collect(self, ctx: JobContext, slot: str) -> None:
        if slot == "return_item":
            await self.collect_item(ctx)
        elif slot in ("seal_intact", "return_confirm"):
            ctx.yes_no(slot)
        elif slot == "return_reason":
            code = latest_entity(ctx.tracker, "return_reason")
            if code not in rr.REASONS:
                text = ctx.tracker.latest_message.get("text", "")
                if is_button_payload(ctx.tracker) or not text.strip():
                    return
                code = parse_reason(text)
            ctx.set(slot, code)

    async def ask_confirm(self, ctx: JobContext) -> None:
        order = await ctx.order()
        item = order.item(ctx.get("return_item"))
        fee = ctx.rt.returns.fee(ctx.get("return_reason"))
        money = fmt.money(fee, ctx.rt.policy.currency, ctx.lang)
        if fee:
            ctx.say("utter_return_cost_fee", fee=money)
        else:
            ctx.say("utter_return_cost_free")
        ctx.say("utter_ask_return_confirm", item=item.name if item else "",
                order_id=order.order_id)

    async def complete(self, ctx: JobContext) -> None:
        order = await ctx.order()
        if ctx.get(BLOCKED_SLOT):
            await self._explain_block(ctx, order)
            return
        item = order.item(ctx.get("return_item"))
        if item is None:
            return
        if ctx.get("seal_intact") is False:
            explain_item(ctx, item, rr.ReturnEligibility(False, rr.HYGIENE_SEAL))
            return
        if not ctx.get("return_confirm"):
            ctx.say("utter_nothing_changed")
            return
        await self._create(ctx, order, item)

    async def _explain_block(self, ctx: JobContext, order: Order) -> None:
        block = ctx.rt.returns.order_block(order)
        if block:
            ctx.say(f"utter_return_{block}", order_id=order.order_id)
            return
        ctx.say("utter_return_none_eligible", order_id=order.order_id)
        verdicts = await eligibility(ctx, order)
        for item in order.items:
            explain_item(ctx, item, verdicts[item.sku])

    async def _create(self, ctx: JobContext, order: Order, item: OrderItem) -> None:
        rt, lang, now = ctx.rt, ctx.lang, ctx.rt.now()
        reason = ctx.get("return_reason") or "other"
        fee = rt.returns.fee(reason)
        history = await ctx.history()
        whole_order = rt.returns.refunds_delivery(order, history, item.sku)
        record = await rt.shop.create_return(
            order.order_id, item.sku, reason, fee, now, rt.returns.drop_off_by(now)
        )
        refund = item.price - fee
        delivery_fee = rt.orders.shipping_fee(order) if whole_order else 0.0
        values: dict[str, Any] = {
            "rma": record.rma,
            "item": item.name,
            "email": mask_email(order.email),
            "drop_off_by": fmt.day_with_year(record.drop_off_by or now, lang),
            "drop_off_days": rt.policy.return_drop_off_days,
            "refund": fmt.money(refund + delivery_fee, rt.policy.currency, lang),
            "refund_days": rt.policy.refund_business_days,
        }
        ctx.say("utter_return_created", **values)
        if delivery_fee:
            ctx.say("utter_return_delivery_refunded",
                    delivery_fee=fmt.money(delivery_fee, rt.policy.currency, lang))


def mask_email(email: str) -> str:
    """'anna.schmidt@example.com' -> 'a***@example.com': enough to recognise, no more."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
