"""The queue and where a request stands: places and waits told to queued customers, the
customers who left, the start of agent hours and the 4-minute pickup rule, and the
service-quality rows a ticket's life writes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from contract import metrics_tables as mt
from handoff.alert_queue import AlertQueue
from handoff.alerts import alert_json
from handoff.hours import pickup_clock, start_hours, waiting_for_hours
from handoff.hub import Hub
from handoff.outbound import Outbound
from handoff.prom import HandoffMetrics
from handoff.settings import HandoffSettings
from handoff.store import Ticket, TicketStore, aware, iso, utcnow
from handoff.strings import Strings
from metrics.records import MetricsStore

log = logging.getLogger(__name__)


def wait_minutes(position: int, pickup_seconds: float, agents: int) -> int:
    """The expected wait told to the customer at ``position``: the median of recent pickup
    times for every chat ahead of theirs and their own, shared by the agents online."""
    return max(1, math.ceil(position * pickup_seconds / max(1, agents) / 60))


class TicketRecord:
    """A ticket's moments in the service-quality record (escalated, claimed, resolved...)."""

    def __init__(self, metrics: MetricsStore | None) -> None:
        self.metrics = metrics

    async def __call__(self, ticket: Ticket, suffix: str, kind: str, at: datetime | None,
                       **values: Any) -> None:
        if self.metrics is None:
            return
        try:
            await self.metrics.record(f"ticket:{ticket.id}:{suffix}", ticket.conversation_id,
                                      kind, aware(at) or utcnow(), channel=ticket.channel,
                                      language=ticket.language, ticket_id=ticket.id, **values)
        except Exception:
            # The record must never stop the queue; the message says which row is missing.
            log.exception("metrics: ticket %d %s not recorded", ticket.id, suffix)


class Queue:
    def __init__(self, settings: HandoffSettings, store: TicketStore, hub: Hub,
                 strings: Strings, outbound: Outbound, record: TicketRecord,
                 alerts: AlertQueue, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self.strings = strings
        self.outbound = outbound
        self.record = record
        self.alerts = alerts
        self.clock = clock  # the 4-minute rule's and agent hours' time (pinned in tests)
        self.prom: HandoffMetrics | None = None
        self._lock = asyncio.Lock()   # one queue recomputation at a time

    async def expected_pickup_seconds(self) -> float:
        recent = await self.store.recent_pickup_seconds()
        return statistics.median(recent) if recent else self.settings.default_pickup_seconds

    async def changed(self) -> None:
        """Tell queued customers their new place, and every console to refresh."""
        async with self._lock:
            queued = await self.store.queued()
            pickup = await self.expected_pickup_seconds()
            agents = max(1, len(self.hub.online_agents()))
            for position, ticket in enumerate(queued, start=1):
                if waiting_for_hours(ticket) or ticket.last_position == position:
                    continue
                minutes = wait_minutes(position, pickup, agents)
                if ticket.last_position is None:
                    key = "hours_started" if ticket.outside_hours else "queued"
                elif position == 1:
                    key = "queue_next"
                else:
                    key = "queue_update"
                if not await self.store.set_last_position(ticket.id, ticket.last_position,
                                                          position):
                    continue  # another process told this change
                await self.outbound.to_customer(ticket, "system", self.strings.text(
                    ticket.language, key, position=position, minutes=minutes),
                    status={"state": "queued", "position": position, "minutes": minutes})
        await self.hub.broadcast({"type": "queue"})

    async def customer_left(self, ticket: Ticket, why: str, say: str | None = None) -> None:
        left = await self.store.customer_left(ticket.id, utcnow())
        if left is None:
            return
        await self.outbound.system(left, why)
        if left.status == "abandoned":
            await self.record(left, "abandoned", mt.ABANDONED, left.resolved_at)
            # Whoever comes back finds the assistant answering again.
            await self.outbound.to_customer(left, "system", self.strings.text(
                left.language, say or "cancelled"), command="resume",
                status={"state": "assistant"})
        await self.changed()

    async def sweep(self) -> None:
        """Customers silent in the queue for too long have left (not those queued outside
        agent hours, who were told the chat waits until agents are back)."""
        limit = utcnow() - timedelta(seconds=self.settings.customer_timeout_seconds)
        for ticket in await self.store.queued():
            if ticket.outside_hours:
                continue  # told to wait for the morning (or for an e-mail): not gone
            last = aware(ticket.last_customer_at)
            if last is not None and last < limit:
                await self.customer_left(ticket, "The customer left (no sign of life for "
                                         f"{int(self.settings.customer_timeout_seconds // 60)}"
                                         " min).")

    # Where a request stands ----------------------------------------------------------------

    async def status_of(self, conversation_id: str) -> dict[str, Any]:
        """The customer's request for a person: none, queued (place and wait), outside
        agent hours (when they are back) or with an agent (who)."""
        ticket = await self.store.open_for(conversation_id)
        status: dict[str, Any] = {"state": "none", "position": None, "minutes": None,
                                  "agent_name": None, "agents_back_text": None,
                                  "reason": None}
        if ticket is None:
            return status
        status["reason"] = ticket.reason
        if ticket.status == "assigned":
            status.update(state="with_agent",
                          agent_name=await self.store.agent_name(ticket.agent_id))
            return status
        if waiting_for_hours(ticket):
            status.update(state="outside_hours", agents_back_text=ticket.agents_back_text)
            return status
        queued = await self.store.queued()
        position = next((i for i, t in enumerate(queued, start=1) if t.id == ticket.id), 1)
        minutes = wait_minutes(position, await self.expected_pickup_seconds(),
                               len(self.hub.online_agents()))
        status.update(state="queued", position=position, minutes=minutes)
        return status

    async def tell_status(self, ticket: Ticket) -> None:
        status = await self.status_of(ticket.conversation_id)
        key = {"queued": "status_queued", "with_agent": "status_with_agent",
               "outside_hours": "status_outside_hours"}.get(status["state"])
        if key is None:
            return
        await self.outbound.to_customer(ticket, "system", self.strings.text(
            ticket.language, key, position=status["position"], minutes=status["minutes"],
            agent=status["agent_name"], back=status["agents_back_text"] or ""),
            status={k: status[k] for k in ("state", "position", "minutes", "agent_name")})

    # Agent hours and the 4-minute rule -------------------------------------------------------

    async def start_of_hours(self) -> int:
        """Agent hours have started for chats queued outside them: tell each customer their
        place and wait (``changed``); their pickup clocks start now (handoff/hours.py)."""
        started = await start_hours(self.store, self.clock(), bool(self.hub.online_agents()))
        for ticket in started:
            await self.outbound.system(
                ticket, "Agent hours started: the customer is told their place in the "
                f"queue, and the pickup clock runs from {iso(ticket.hours_started_at)}.")
        if started:
            await self.changed()
        return len(started)

    async def check_pickup(self) -> int:
        """The 4-minute rule: a chat still waiting for its first agent past the target, in
        agent hours, alerts every console and the supervisors' webhook, once."""
        await self.start_of_hours()
        now = self.clock()
        target = self.settings.pickup_target_seconds
        raised = 0
        for ticket in await self.store.queued():
            started = pickup_clock(ticket)
            if started is None or ticket.alerted_at is not None \
                    or ticket.first_claimed_at is not None:
                continue
            waited = (now - started).total_seconds()
            if waited < target or not await self.alerts.raise_alert(ticket.id, now):
                continue
            alert = alert_json(ticket, waited, target)
            log.warning("ticket %d waited %.0f s for a person (target %d s)", ticket.id,
                        waited, target)
            await self.record(ticket, "alert", mt.PICKUP_ALERT, now, reason=ticket.reason,
                              value=waited)
            await self.hub.broadcast(alert)
            if self.prom is not None:
                self.prom.pickup_alert()
            raised += 1
        return raised
