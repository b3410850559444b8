"""What the agent console is shown: tickets, messages and queue places as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from handoff.hours import pickup_clock
from handoff.store import REASON_TEXT, Agent, Message, Ticket, aware, iso


def message_json(message: Message) -> dict[str, Any]:
    return {"id": message.id, "kind": message.kind, "author": message.author,
            "text": message.text, "at": iso(message.created_at),
            "delivered": (not message.to_customer) or message.delivered_at is not None}


def ticket_json(ticket: Ticket, agents: dict[int, Agent], position: int | None,
                now: datetime, detail: bool = False,
                target_seconds: int = 240) -> dict[str, Any]:
    created = aware(ticket.created_at) or now
    agent = agents.get(ticket.agent_id) if ticket.agent_id is not None else None
    order = json.loads(ticket.order_json or "null")
    data: dict[str, Any] = {
        "id": ticket.id, "conversation_id": ticket.conversation_id, "channel": ticket.channel,
        "language": ticket.language, "reason": ticket.reason,
        "reason_text": REASON_TEXT.get(ticket.reason, ticket.reason),
        "status": ticket.status, "priority": ticket.priority, "position": position,
        "created_at": iso(created), "claimed_at": iso(ticket.claimed_at),
        "waiting_seconds": int(((aware(ticket.first_claimed_at) or now) - created)
                               .total_seconds()),
        "agent": {"id": agent.id, "display_name": agent.display_name} if agent else None,
        "last_customer_text": ticket.last_customer_text,
        "customer_left": ticket.customer_left_at is not None,
        "outside_hours": ticket.outside_hours, "agents_back_text": ticket.agents_back_text,
        "customer_email": ticket.customer_email,
        "order_id": order.get("order_id") if isinstance(order, dict) else None,
        "alerted": ticket.alerted_at is not None,
    }
    clock = pickup_clock(ticket)
    data["pickup_clock_at"] = iso(clock)
    data["over_target"] = (ticket.status == "queued" and clock is not None
                           and ticket.first_claimed_at is None
                           and (now - clock).total_seconds() >= target_seconds)
    if detail:
        data.update({"detail": ticket.detail,
                     "sentiment_trail": json.loads(ticket.sentiment_json or "[]"),
                     "order": order, "resolved_at": iso(ticket.resolved_at), "events": []})
    return data


def positions(queued: Iterable[Ticket]) -> dict[int, int]:
    return {ticket.id: index for index, ticket in enumerate(queued, start=1)}
