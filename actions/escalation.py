"""What an escalation carries to a person: the reason, the mood, the order, the transcript.

Triggers set the ``escalation_reason`` slot; the escalation policy (rasa_plugins/policies) then runs
``action_human_handoff`` as the next action, whatever the rules or a form would do. One
slot, one action: every trigger escalates the same way, and tests can drive each one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions.runtime import Runtime
from contract.payload import (
    REASONS,
    OrderInfo,
    OrderItemInfo,
    OrderRecordInfo,
    SentimentEntry,
    TranscriptEntry,
    customer_text,
)

REASON_SLOT = "escalation_reason"
SENTIMENT_SLOT = "sentiment_trail"
MAX_TRAIL = 20
MAX_TEXT_CHARS = 4000

DETAILS = {
    "customer_request": "The customer asked for a person.",
    "negative_sentiment": "The customer's messages turned negative.",
    "unresolved": "The assistant could not answer: low-confidence answers or 'that did not "
                  "help' in a row.",
    "form_failed": "The customer could not get through the order questions (3 failed "
                   "answers).",
    "lookup_locked": "Order look-ups are locked after failed verifications.",
    "lost_parcel": "The parcel counts as lost: arrange a replacement or a full refund.",
    "needs_person": "The policy asks a person to handle this.",
}


def escalate(reason: str) -> list[EventType]:
    """Events that make the next action a handoff with this reason."""
    if reason not in REASONS:
        raise ValueError(f"unknown escalation reason {reason!r}")
    return [SlotSet(REASON_SLOT, reason)]


def _iso(timestamp: float | None) -> str:
    moment = datetime.fromtimestamp(timestamp or 0, UTC)
    return moment.isoformat(timespec="seconds")




def transcript(tracker: Tracker) -> list[TranscriptEntry]:
    """Every customer and bot message of the conversation so far, oldest first."""
    entries: list[TranscriptEntry] = []
    for event in tracker.events:
        kind = event.get("event")
        if kind == "user" and not (event.get("metadata") or {}).get("is_external"):
            entries.append({"role": "customer", "text": customer_text(event)[:MAX_TEXT_CHARS],
                            "at": _iso(event.get("timestamp")), "author": None})
        elif kind == "bot" and event.get("text"):
            meta = event.get("metadata") or {}
            role = str(meta.get("from")) if meta.get("from") in ("agent", "system") \
                else "assistant"
            entries.append({"role": role, "text": str(event["text"])[:MAX_TEXT_CHARS],
                            "at": _iso(event.get("timestamp")),
                            "author": meta.get("agent_name") if role == "agent" else None})
    return entries


def sentiment_trail(tracker: Tracker) -> list[SentimentEntry]:
    trail = tracker.get_slot(SENTIMENT_SLOT) or []
    return [entry for entry in trail if isinstance(entry, dict)][-MAX_TRAIL:]  # type: ignore[return-value]


def _money(value: float) -> str:
    return f"{value:.2f}"


async def order_info(rt: Runtime, order_id: str | None) -> OrderInfo | None:
    """The verified order with its items, returns and warranty claims, for the agent."""
    if not order_id:
        return None
    order = await rt.shop.find_order(order_id)
    if order is None:
        return None
    history = await rt.shop.history(order_id)
    names = {item.sku: item.name for item in order.items}
    quantities: dict[str, int] = {}
    for item in order.items:
        quantities[item.sku] = quantities.get(item.sku, 0) + 1
    items: list[OrderItemInfo] = []
    for item in order.items:
        if quantities.get(item.sku):
            items.append({"sku": item.sku, "name": item.name, "category": item.category,
                          "quantity": quantities.pop(item.sku), "unit_price": _money(item.price)})
    returns: list[OrderRecordInfo] = [
        {"rma": r.rma, "item": names.get(r.sku, r.sku), "status": r.status,
         "created_at": r.created_at.isoformat(timespec="seconds")} for r in history.returns]
    claims: list[OrderRecordInfo] = [
        {"number": c.claim_id, "item": names.get(c.sku, c.sku), "status": c.status,
         "kind": c.kind, "created_at": c.created_at.isoformat(timespec="seconds")}
        for c in history.claims]
    return {
        "order_id": order.order_id, "status": order.status,
        "placed_at": order.placed_at.isoformat(timespec="seconds"),
        "total": _money(order.total), "currency": rt.policy.currency,
        "carrier": order.carrier, "tracking_number": order.tracking_number,
        "shipping_address": order.shipping_address,
        "items": items,
        "returns": returns, "claims": claims,
    }
