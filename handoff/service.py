"""The handoff service's work, put together from its parts, one responsibility each:

- ``inbound.Intake``: an escalation becomes a ticket with the transcript so far;
- ``inbound.Feed``: Rasa's events, in order, into the open tickets (the customer -> agent
  relay, from a stored cursor, so nothing is lost while the service is down);
- ``outbound.Outbound``: messages for the customer, stored first and delivered over
  Rasa's HTTP API in order, with retries (the agent -> customer relay);
- ``agent_actions.AgentActions``: claim, reply, note, transfer, release, resolve;
- ``queue.Queue``: places and waits, customers who left, agent hours, the 4-minute rule;
- ``surveys.Surveys``; ``views``: the console's JSON.

``HandoffService`` owns the shared resources (stores, Rasa client, event table) and is
what the HTTP API (``api.py``) calls; ``loops()`` is its background work, run by
``create_app``'s ``cleanup_ctx`` (``app.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from handoff import security_events
from handoff.accounts import Accounts
from handoff.agent_actions import ActionError, AgentActions
from handoff.alert_queue import AlertQueue
from handoff.hub import Hub
from handoff.inbound import Feed, Intake
from handoff.loops import Loop, Running
from handoff.outbound import Outbound
from handoff.prom import HandoffMetrics
from handoff.queue import Queue, TicketRecord, wait_minutes
from handoff.rasa_client import RasaClient
from handoff.settings import HandoffSettings
from handoff.store import Agent, Message, Ticket, TicketStore, utcnow
from handoff.strings import Strings
from handoff.surveys import Surveys
from handoff.views import message_json, positions, ticket_json
from metrics.rasa_events import RasaEventTable
from metrics.records import Collector, MetricsStore

__all__ = ["ActionError", "HandoffService", "message_json", "positions", "ticket_json",
           "wait_minutes"]

SWEEP_SECONDS = 15.0


class HandoffService:
    def __init__(self, settings: HandoffSettings, store: TicketStore, accounts: Accounts,
                 rasa: RasaClient, hub: Hub, strings: Strings,
                 metrics: MetricsStore | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.store = store
        self.accounts = accounts
        self.rasa = rasa
        self.hub = hub
        self.metrics = metrics
        self.alerts = AlertQueue(store.db, settings.alert_webhook_url, settings.webhook_secret,
                                 settings.pickup_target_seconds, clock=clock,
                                 first_retry_seconds=settings.alert_retry_first_seconds,
                                 max_retry_seconds=settings.alert_retry_max_seconds)
        self.events_engine: AsyncEngine = create_async_engine(settings.events_db_url)
        self.events = RasaEventTable(self.events_engine)  # the relay's and the collector's
        self.surveys = Surveys(store, rasa, metrics, settings.survey_quiet_seconds)
        self.outbound = Outbound(store, hub, rasa, self.surveys.after_handback)
        record = TicketRecord(metrics)
        self.queue = Queue(settings, store, hub, strings, self.outbound, record, self.alerts,
                           clock)
        self.feed = Feed(store, self.events, hub, strings, self.outbound, self.queue)
        self.intake = Intake(store, rasa, self.feed, self.outbound, self.queue, record, clock)
        self.agents = AgentActions(store, accounts, strings, self.outbound, self.queue, record)
        self.collector: Collector | None = None
        if metrics is not None:
            actions_engine = (create_async_engine(settings.actions_db_url)
                              if settings.actions_db_url else None)
            self.collector = Collector(metrics, self.events, actions_engine)
        self._prom: HandoffMetrics | None = None
        self._running = Running()

    @property
    def prom(self) -> HandoffMetrics | None:
        """Prometheus counters, when installed (``prom.setup``)."""
        return self._prom

    @prom.setter
    def prom(self, value: HandoffMetrics | None) -> None:
        self._prom = self.intake.prom = self.agents.prom = self.queue.prom = value

    # Escalations and the relay -------------------------------------------------------------

    async def receive(self, payload: dict[str, Any]) -> tuple[Ticket, bool]:
        return await self.intake.receive(payload)

    async def record_security_event(self, body: dict[str, Any]) -> tuple[int, bool]:
        """A failed-verification event from the action server, shown on the consoles."""
        event_id, created = await security_events.record(self.store.db, body)
        if created:
            await self.hub.broadcast({"type": "security"})
        return event_id, created

    async def security_events(self) -> list[dict[str, Any]]:
        return await security_events.recent(self.store.db)

    async def feed_once(self) -> int:
        return await self.feed.once()

    async def deliver_once(self) -> int:
        return await self.outbound.deliver_once()

    # Agents' actions -----------------------------------------------------------------------

    async def claim(self, ticket_id: int, agent: Agent) -> Ticket:
        return await self.agents.claim(ticket_id, agent)

    async def reply(self, ticket_id: int, agent: Agent, body: str) -> Message:
        return await self.agents.reply(ticket_id, agent, body)

    async def note(self, ticket_id: int, agent: Agent, body: str) -> Message:
        return await self.agents.note(ticket_id, agent, body)

    async def transfer(self, ticket_id: int, agent: Agent, target_id: int) -> Ticket:
        return await self.agents.transfer(ticket_id, agent, target_id)

    async def release(self, ticket_id: int, agent: Agent) -> Ticket:
        return await self.agents.release(ticket_id, agent)

    async def resolve(self, ticket_id: int, agent: Agent) -> Ticket:
        return await self.agents.resolve(ticket_id, agent)

    # The queue and where a request stands ----------------------------------------------------

    async def customer_left(self, ticket: Ticket, why: str, say: str | None = None) -> None:
        await self.queue.customer_left(ticket, why, say)

    async def expected_pickup_seconds(self) -> float:
        return await self.queue.expected_pickup_seconds()

    async def queue_changed(self) -> None:
        await self.queue.changed()

    async def sweep(self) -> None:
        await self.queue.sweep()

    async def status_of(self, conversation_id: str) -> dict[str, Any]:
        return await self.queue.status_of(conversation_id)

    async def start_of_hours(self) -> int:
        return await self.queue.start_of_hours()

    async def check_pickup(self) -> int:
        return await self.queue.check_pickup()

    async def trigger_survey(self, conversation_id: str, channel: str, trigger: str) -> None:
        await self.surveys.trigger(conversation_id, channel, trigger)

    async def survey_sweep(self) -> int:
        return await self.surveys.sweep()

    # What the console reads ----------------------------------------------------------------

    async def queued(self) -> list[Ticket]:
        return list(await self.store.queued())

    async def ticket(self, ticket_id: int) -> Ticket | None:
        return await self.store.get(ticket_id)

    async def close_erased(self, ticket: Ticket) -> None:
        """An open chat whose conversation is being erased: closed first, so nobody
        answers a conversation that no longer exists, and the queue moves up."""
        await self.store.resolve(ticket.id, None, utcnow(), status="erased")
        await self.queue.changed()

    async def console_opened(self, socket: web.WebSocketResponse, agent_id: int) -> None:
        """An agent's console connected: it gets every update, and the agent counts as
        online (queue waits are shared among the agents online)."""
        self.hub.add(socket, agent_id)
        await self.hub.broadcast({"type": "queue"})

    def console_closed(self, socket: web.WebSocketResponse) -> None:
        self.hub.remove(socket)

    async def quality_record(self, start: datetime, end: datetime
                             ) -> tuple[list[Any], list[Any]]:
        """The service-quality rows (metric events, surveys) between two moments."""
        if self.metrics is None:
            raise RuntimeError("the handoff service runs without its metrics store")
        return await self.metrics.events(start, end), await self.metrics.surveys(start, end)

    async def console_refresh(self) -> None:
        await self.hub.broadcast({"type": "queue"})

    async def active_chats(self) -> dict[int, int]:
        return await self.store.active_chats()

    def online_agents(self) -> Any:
        return self.hub.online_agents()

    async def queue_view(self, now: datetime) -> list[dict[str, Any]]:
        """Every open ticket as the console's queue shows it: the queue in order, then the
        chats agents have."""
        places = positions(await self.store.queued())
        agents = {agent.id: agent for agent in await self.accounts.all()}
        tickets = sorted(await self.store.open_tickets(),
                         key=lambda t: (t.status != "queued", places.get(t.id, 0), t.id))
        return [ticket_json(t, agents, places.get(t.id), now,
                            target_seconds=self.settings.pickup_target_seconds)
                for t in tickets]

    async def ticket_view(self, ticket_id: int, now: datetime) -> dict[str, Any] | None:
        """One ticket with its detail, or None when it does not exist."""
        ticket = await self.store.get(ticket_id)
        if ticket is None:
            return None
        places = positions(await self.store.queued())
        agents = {agent.id: agent for agent in await self.accounts.all()}
        return ticket_json(ticket, agents, places.get(ticket.id), now, detail=True,
                           target_seconds=self.settings.pickup_target_seconds)

    async def transcript(self, ticket_id: int) -> list[dict[str, Any]]:
        return [message_json(m) for m in await self.store.messages(ticket_id)]

    # Background work -----------------------------------------------------------------------

    def loops(self) -> list[Loop]:
        settings = self.settings
        loops = [Loop("event feed", self.feed.once, settings.feed_poll_seconds),
                 Loop("delivery", self.outbound.deliver_once, 1.0, self.outbound.due),
                 Loop("sweep", self.queue.sweep, SWEEP_SECONDS),
                 Loop("pickup alerts", self.queue.check_pickup, settings.alert_poll_seconds)]
        if self.collector is not None:
            loops += [Loop("metrics", self.collector.collect_once,
                           max(0.5, settings.feed_poll_seconds)),
                      Loop("surveys", self.surveys.sweep,
                           min(30.0, max(1.0, settings.survey_quiet_seconds / 4)))]
        return loops

    def start(self) -> None:
        """Run the background work until ``stop`` (or ``close``)."""
        self._running.start(self.loops(), [self.alerts.run(self.settings.alert_poll_seconds)])
        self.outbound.due.set()

    async def stop(self) -> None:
        await self._running.stop()

    async def close(self) -> None:
        await self.stop()
        await self.alerts.close()
        await self.rasa.close()
        await self.events_engine.dispose()
        if self.collector is not None and self.collector.actions_engine is not None:
            await self.collector.actions_engine.dispose()
