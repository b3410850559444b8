"""Chats queued outside agent hours, and the start of agent hours for them.

A chat escalated while no agent is at work is queued with ``outside_hours`` and the moment
agents are back (``agents_back_at``, from the escalation). Until then its customer is told
when agents are back, never a queue position, and no pickup clock runs. Once agent hours
have started (that moment, or, for an escalation that named none, the first moment an agent
is online) it is an ordinary queued chat: its customer is told their place and the expected
wait, and the 4-minute pickup clock runs from the start of agent hours, not from when the
chat was queued.
"""

from __future__ import annotations

from datetime import datetime

from handoff.store import Ticket, TicketStore, aware


def waiting_for_hours(ticket: Ticket) -> bool:
    """Queued outside agent hours, and they have not started yet for this chat."""
    return bool(ticket.outside_hours) and ticket.hours_started_at is None


def pickup_clock(ticket: Ticket) -> datetime | None:
    """When the ticket's pickup clock started; None while it waits for agent hours."""
    if waiting_for_hours(ticket):
        return None
    return aware(ticket.hours_started_at) or aware(ticket.created_at)


def hours_start(ticket: Ticket, now: datetime, agents_online: bool) -> datetime | None:
    """The moment agent hours started for a chat still waiting for them, once they have."""
    if not waiting_for_hours(ticket):
        return None
    back = aware(ticket.agents_back_at)
    if back is None:
        return now if agents_online else None
    if back > now:
        return None
    created = aware(ticket.created_at)
    return max(back, created) if created is not None else back


async def start_hours(store: TicketStore, now: datetime, agents_online: bool) -> list[Ticket]:
    """Mark every queued chat whose agent hours have started; the tickets this call marked
    (one caller wins each ticket, so several processes tell each customer once)."""
    started = []
    for ticket in await store.queued():
        moment = hours_start(ticket, now, agents_online)
        if moment is not None and await store.mark_hours_started(ticket.id, moment):
            ticket.hours_started_at = moment
            started.append(ticket)
    return started
