"""The warranty job: which item, its serial number, the fault, and the WAR claim."""

from __future__ import annotations

import re

from rasa_sdk import Tracker

from actions import formatting as fmt
from actions import warranty_rules as wr
from actions.conversation import is_button_payload
from actions.jobs import BLOCKED_SLOT, ItemJob, JobContext, free_text_answer
from actions.shop.base import Order, OrderItem

SERIAL_RE = re.compile(r"\b(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,39}\b", re.IGNORECASE)
MIN_FAULT_CHARS = 8
MIN_FAULT_WORDS = 2


# What a fault report says: something of the customer's stopped working, broke, cracked.
_FAULT_RE = re.compile(
    r"broke|broken|stopped|does ?n[o']?t (?:work|turn|charge|connect|switch)|won'?t|"
    r"not (?:working|charging|turning)|dead|cracked|died|faulty|defective|no sound|flicker|"
    r"keeps? (?:restart|turning|disconnect)|overheat|слома|разби|перестал|не работа|не включа|"
    r"не заряжа|треснул|умер|мерца|глючит|перегрева|нет звука|зламал|зламав|розби|перестав|"
    r"перестала|не працю|не вмика|не заряджа|тріснув|помер|мерехт|перегріва|немає звуку",
    re.IGNORECASE)


def describes_fault(text: str) -> bool:
    """True when the words describe what is wrong with the item (enough for a claim)."""
    return bool(_FAULT_RE.search(text)) and len(text.split()) >= MIN_FAULT_WORDS + 1


def normalise_serial(value: str) -> str:
    return re.sub(r"[\s-]", "", value).upper()


def parse_serial(text: str) -> str | None:
    """The likeliest serial number in ``text``: the longest token that has a digit."""
    candidates = [m.group(0) for m in SERIAL_RE.finditer(text or "")]
    return max(candidates, key=len).upper() if candidates else None


async def coverage(ctx: JobContext, order: Order) -> dict[str, wr.WarrantyCoverage]:
    history = await ctx.history()
    now = ctx.rt.now()
    return {item.sku: ctx.rt.warranty.coverage(order, item, history, now) for item in order.items}


def explain_item(ctx: JobContext, item: OrderItem, verdict: wr.WarrantyCoverage) -> None:
    ctx.say(
        f"utter_warranty_item_{verdict.reason}",
        item=item.name,
        months=verdict.months,
        ends=fmt.day_with_year(verdict.ends, ctx.lang) if verdict.ends else "",
        claim_id=verdict.claim_id or "",
    )


class WarrantyJob(ItemJob):
    name = "warranty"
    item_slot = "warranty_item"
    ask_item_response = "utter_ask_warranty_item"
    slots = ("warranty_item", "serial_number", "fault_description", "warranty_accidental",
             "warranty_confirm")

    def required(self, tracker: Tracker) -> list[str]:
        slots = ["warranty_item", "serial_number", "fault_description"]
        if tracker.get_slot("warranty_accidental"):
            return slots
        return slots + ["warranty_confirm"]

    async def verdicts(self, ctx: JobContext, order: Order) -> dict[str, wr.WarrantyCoverage]:
        return await coverage(ctx, order)

    def allowed(self, verdict: wr.WarrantyCoverage) -> bool:
        return verdict.covered

    def explain(self, ctx: JobContext, item: OrderItem, verdict: wr.WarrantyCoverage) -> None:
        explain_item(ctx, item, verdict)

    async def ask_serial(self, ctx: JobContext) -> None:
        item = (await ctx.order()).item(ctx.get("warranty_item"))
        ctx.say("utter_ask_serial_number", item=item.name if item else "")

    async def ask_confirm(self, ctx: JobContext) -> None:
        order = await ctx.order()
        item = order.item(ctx.get("warranty_item"))
        if item is None:
            return
        verdict = (await coverage(ctx, order))[item.sku]
        if verdict.kind == wr.KIND_DOA:
            ctx.say("utter_ask_warranty_confirm_doa", item=item.name,
                    days=ctx.rt.policy.dead_on_arrival_days)
        else:
            ctx.say("utter_ask_warranty_confirm_repair", item=item.name,
                    ends=fmt.day_with_year(verdict.ends, ctx.lang) if verdict.ends else "")

    async def prefill(self, ctx: JobContext, text: str) -> None:
        """A serial that is the item's own, and a fault the request describes."""
        item = (await ctx.order()).item(ctx.get("warranty_item"))
        item_serial = item.serial if item else None
        if item_serial and not ctx.get("serial_number"):
            serials = (normalise_serial(m.group(0)) for m in SERIAL_RE.finditer(text))
            if normalise_serial(item_serial) in set(serials):
                ctx.set("serial_number", item_serial)
        if not ctx.get("fault_description") and describes_fault(text):
            ctx.set("fault_description", text[:2000])
            ctx.set("warranty_accidental", wr.describes_accidental_damage(text))

    async def confirm_item(self, ctx: JobContext) -> None:
        order = await ctx.order()
        item = order.item(ctx.get("warranty_item"))
        verdict = (await coverage(ctx, order)).get(item.sku) if item else None
        if item and verdict and verdict.covered and verdict.ends:
            ctx.say("utter_warranty_item_covered", item=item.name, months=verdict.months,
                    ends=fmt.day_with_year(verdict.ends, ctx.lang))

    async def collect(self, ctx: JobContext, slot: str) -> None:
        if slot == "warranty_item":
            await self.collect_item(ctx)
        elif slot == "serial_number":
            await self._collect_serial(ctx)
        elif slot == "fault_description":
            text = free_text_answer(ctx)
            if text is None:
                return
            if len(text) < MIN_FAULT_CHARS or len(text.split()) < MIN_FAULT_WORDS:
                ctx.reject(slot, "utter_fault_too_short")
                return
            ctx.set(slot, text[:2000])
            ctx.set("warranty_accidental", wr.describes_accidental_damage(text))
        elif slot == "warranty_confirm":
            ctx.yes_no(slot)

    async def _collect_serial(self, ctx: JobContext) -> None:
        text = ctx.tracker.latest_message.get("text", "")
        serial = None if is_button_payload(ctx.tracker) else parse_serial(text)
        if serial is None:
            ctx.reject("serial_number", "utter_serial_invalid")
            return
        item = (await ctx.order()).item(ctx.get("warranty_item"))
        if item and item.serial and normalise_serial(item.serial) != normalise_serial(serial):
            ctx.reject("serial_number", "utter_serial_mismatch", item=item.name)
            return
        ctx.set("serial_number", serial)

    async def complete(self, ctx: JobContext) -> None:
        order = await ctx.order()
        if ctx.get(BLOCKED_SLOT):
            await self._explain_block(ctx, order)
            return
        item = order.item(ctx.get("warranty_item"))
        if item is None:
            return
        if ctx.get("warranty_accidental"):
            ctx.say("utter_warranty_accidental", item=item.name)
            return
        if not ctx.get("warranty_confirm"):
            ctx.say("utter_nothing_changed")
            return
        verdict = (await coverage(ctx, order))[item.sku]
        if not verdict.covered or verdict.kind is None:
            explain_item(ctx, item, verdict)
            return
        claim = await ctx.rt.shop.create_warranty_claim(
            order.order_id, item.sku, ctx.get("serial_number"), ctx.get("fault_description"),
            verdict.kind, ctx.rt.now(),
        )
        policy = ctx.rt.policy
        ctx.say(
            f"utter_warranty_claim_created_{verdict.kind}",
            claim_id=claim.claim_id,
            item=item.name,
            usual_min=policy.repair_usual_days_min,
            usual_max=policy.repair_usual_days_max,
            max_days=policy.repair_max_days,
        )

    async def _explain_block(self, ctx: JobContext, order: Order) -> None:
        if order.status == "cancelled":
            ctx.say("utter_warranty_order_cancelled", order_id=order.order_id)
            return
        if order.delivered_at is None:
            ctx.say("utter_warranty_not_delivered", order_id=order.order_id)
            return
        ctx.say("utter_warranty_none_covered", order_id=order.order_id)
        verdicts = await coverage(ctx, order)
        for item in order.items:
            explain_item(ctx, item, verdicts[item.sku])
