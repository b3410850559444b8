"""The order form's side of the cross-conversation locks (``verification_throttle``): who
the client is, what the agent is told, and the security events the console lists.

The client is the channel's own ``metadata["client_id"]`` of the latest message (a hash of
the IP for REST and the widget, of the user id for Telegram), which the channels set and a
customer cannot; a message without it (an older channel, a test) counts as its own
conversation's client, so the per-conversation and per-order limits still hold.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Tracker

from actions.verification_throttle import Lock, ThrottleLimits
from contract.payload import SECURITY_EVENT, SecurityEvent, SecurityEventKind

THROTTLE_SLOT = "lookup_throttle"
MAX_CLIENT_ID_CHARS = 200


def client_of(tracker: Tracker) -> str:
    metadata = (tracker.latest_message or {}).get("metadata")
    if not isinstance(metadata, dict):
        metadata = next((event.get("metadata") for event in reversed(tracker.events or [])
                         if event.get("event") == "user"), None) or {}
    value = metadata.get("client_id") if isinstance(metadata, dict) else None
    if isinstance(value, str) and 0 < len(value) <= MAX_CLIENT_ID_CHARS and value.isprintable():
        return value
    return f"conversation:{tracker.sender_id}"


def lock_slot(lock: Lock) -> dict[str, Any]:
    return {"scope": lock.scope, "subject": lock.subject,
            "until": lock.until.astimezone(UTC).isoformat(timespec="seconds")}


def lock_note(value: Any, limits: ThrottleLimits) -> str:
    """The agent's line on a lock the conversation ran into ('' when there is none)."""
    if not isinstance(value, dict) or value.get("scope") not in ("order", "client"):
        return ""
    minutes = int(limits.window.total_seconds() // 60)
    if value["scope"] == "order":
        return (f"Order {value.get('subject')} refuses look-ups in every conversation until "
                f"{value.get('until')} (order lock: {limits.order_failures} failed "
                f"verifications within {minutes} min).")
    return (f"This customer's client {value.get('subject')} is refused order look-ups until "
            f"{value.get('until')} (client lock: {limits.client_failures} failed "
            f"verifications within {minutes} min, any order).")


def security_event(kind: SecurityEventKind, lock: Lock, tracker: Tracker,
                   limits: ThrottleLimits) -> SecurityEvent:
    until = lock.until.astimezone(UTC).isoformat(timespec="seconds")
    # One event per lock, and one per conversation a lock refused: retries add nothing.
    parts = [kind, lock.scope, lock.subject, until]
    if kind == "lookup_refused":
        parts.append(tracker.sender_id)
    event_id = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    note = lock_note(lock_slot(lock), limits)
    what = "Look-up refused by a lock. " if kind == "lookup_refused" else "Lock set. "
    return {
        "kind": SECURITY_EVENT, "event_id": event_id, "event": kind, "scope": lock.scope,
        "subject": lock.subject, "until": until, "failures": lock.failures,
        "conversation_id": tracker.sender_id,
        "channel": tracker.get_latest_input_channel() or "rest",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "detail": what + note,
    }
