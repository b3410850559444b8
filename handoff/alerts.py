"""The 4-minute rule's alert: what consoles receive, and the supervisors' webhook.

A chat that waits past the pickup target in agent hours is announced once to every open
console (``{"type": "alert", ...}`` over the console WebSocket) and POSTed to
``PICKUP_ALERT_WEBHOOK_URL``. The body is JSON with a ready-to-post ``text`` (Slack,
Mattermost and Rocket.Chat incoming webhooks show it as is) plus the fields, signed like
the escalation webhook (``X-Handoff-Timestamp`` / ``X-Handoff-Signature`` over
``<timestamp>.<body>`` with ``HANDOFF_WEBHOOK_SECRET``) so a receiver can check it came
from here. Delivery is retried with back-off until the webhook acknowledges it or the chat
is picked up or closed, across restarts (``handoff/alert_queue.py``).
"""

from __future__ import annotations

from typing import Any

from handoff.store import REASON_TEXT, Ticket


def alert_json(ticket: Ticket, waited_seconds: float, target_seconds: int) -> dict[str, Any]:
    """The alert; ``waited_seconds`` counts from the start of the ticket's pickup clock
    (for a chat queued outside agent hours, from the start of agent hours)."""
    minutes, seconds = divmod(int(waited_seconds), 60)
    reason = REASON_TEXT.get(ticket.reason, ticket.reason)
    since = (", queued outside agent hours, has waited {} since agents started"
             if ticket.hours_started_at is not None else " has waited {} for a person")
    return {
        "type": "alert", "ticket_id": ticket.id, "conversation_id": ticket.conversation_id,
        "channel": ticket.channel, "language": ticket.language, "reason": ticket.reason,
        "waiting_seconds": int(waited_seconds), "target_seconds": target_seconds,
        "text": (f"A {ticket.channel} chat ({reason}, {ticket.language})"
                 + since.format(f"{minutes} min {seconds:02d} s")
                 + f"; the target is {target_seconds // 60} min. Ticket #{ticket.id}."),
    }
