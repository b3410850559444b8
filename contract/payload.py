"""The escalation webhook's JSON body: what the action server sends to the handoff service.

This is the documented wire format (README, "Escalation webhook"); a shop that points
``HANDOFF_WEBHOOK_URL`` at its own helpdesk receives exactly this.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

REASONS = ("customer_request", "negative_sentiment", "unresolved", "form_failed",
           "lookup_locked", "lost_parcel", "needs_person")
Reason = Literal["customer_request", "negative_sentiment", "unresolved", "form_failed",
                 "lookup_locked", "lost_parcel", "needs_person"]


class TranscriptEntry(TypedDict):
    role: str            # customer / assistant / agent / system
    text: str
    at: str              # ISO 8601, UTC
    author: str | None   # an agent's display name


class SentimentEntry(TypedDict):
    text: str
    label: str           # negative / neutral / positive
    score: float         # probability of that label
    strong: bool         # strongly negative
    at: str
    message_id: str      # the customer message it scores (each is scored once)


class OrderItemInfo(TypedDict, total=False):
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: str


class OrderRecordInfo(TypedDict, total=False):
    rma: str
    number: str
    item: str
    status: str
    kind: str
    created_at: str


class OrderInfo(TypedDict, total=False):
    order_id: str
    status: str
    placed_at: str
    total: str
    currency: str
    carrier: str | None
    tracking_number: str | None
    shipping_address: str | None
    items: list[OrderItemInfo]
    returns: list[OrderRecordInfo]
    claims: list[OrderRecordInfo]


class Escalation(TypedDict):
    escalation_id: str        # idempotency key: a retried escalation creates one ticket
    conversation_id: str
    channel: str              # the Rasa input channel the customer uses (rest, socketio...)
    language: str             # en / ru / uk
    reason: Reason
    detail: str               # a short English note on the trigger, for the agent
    created_at: str
    outside_hours: bool       # no agent at work now
    agents_back_at: str | None       # ISO, when outside hours
    agents_back_text: str | None     # the same, written for the customer in their language
    sentiment_trail: list[SentimentEntry]
    order: OrderInfo | None   # the order verified in this conversation, if any
    transcript: list[TranscriptEntry]


def customer_text(event: dict[str, Any]) -> str:
    """What a Rasa ``user`` event shows a person: its text, or which button was pressed."""
    text = str(event.get("text") or "")
    if text.startswith("/"):
        display = _field(event, "metadata").get("display")
        if isinstance(display, str) and display.strip():  # the button's title (widget, Telegram)
            return f"[pressed a button: {display.strip()}]"
        intent = _field(_field(event, "parse_data"), "intent").get("name")
        return f"[pressed a button: {intent if isinstance(intent, str) and intent else text[1:]}]"
    return text


def _field(data: dict[str, Any], key: str) -> dict[str, Any]:
    """``data[key]`` if it is an object (a client can send any JSON as metadata), else {}."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


SECURITY_EVENT: Literal["security_event"] = "security_event"
SecurityEventKind = Literal["order_locked", "client_locked", "lookup_refused"]


class SecurityEvent(TypedDict):
    """Sent on the escalation webhook too, told apart by ``kind``: something an agent should
    know about that is not a chat waiting for a person (a lock on order look-ups)."""

    kind: Literal["security_event"]
    event_id: str             # idempotency key, like escalation_id
    event: SecurityEventKind
    scope: Literal["order", "client"]
    subject: str              # the order number, or the client id (a hash of IP / user id)
    until: str                # ISO 8601, UTC: when look-ups are allowed again
    failures: int             # failed verifications that set the lock (0 for a refusal)
    conversation_id: str
    channel: str
    created_at: str
    detail: str               # a short English note, for the agent
