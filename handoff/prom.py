"""Prometheus metrics of the handoff service, for operations (``GET /metrics``).

A registry of its own (not the client library's global one), so several apps can live in
one process, as in the tests. What it exposes:

* ``handoff_http_request_duration_seconds{method,route,status}``: request latency; the
  route is the resource's pattern (``/api/tickets/{ticket_id}``), never the raw URL, so the
  number of series stays bounded; WebSocket connections are left out (they last hours);
* gauges read from the handoff database at each scrape: ``handoff_queue_length`` (every
  queued chat, in agent hours or not), ``handoff_oldest_waiting_seconds``,
  ``handoff_open_alerts`` (queued chats that raised the pickup alert),
  ``handoff_outbox_backlog``
  (agent messages not yet delivered to the customer) and, when the action server's
  database is given, ``handoff_escalation_outbox_backlog`` (escalations not yet sent);
* counters the service increments: ``handoff_escalations_total{reason}``,
  ``handoff_pickup_alerts_total``, and ``handoff_pickup_seconds`` (a histogram against
  the 4-minute target).

With ``token`` set, a scrape needs ``Authorization: Bearer <token>``. Without a token every
scrape is refused (403, naming the settings) unless ``open`` is set
(``HANDOFF_METRICS_OPEN=true``, for a ``/metrics`` kept off the public side of the proxy).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import column, func, inspect, select, table
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from handoff.store import PRIORITIES, Message, TicketStore, aware

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

UNMATCHED = "<unmatched>"   # the route label of a request no route matched (404s)
PICKUP_BUCKETS = (30.0, 60.0, 120.0, 180.0, 240.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
ESCALATION_OUTBOX = table("handoff_outbox", column("delivered_at"))
CLOSED = ("/metrics is closed: set HANDOFF_METRICS_TOKEN and scrape with "
          "\"Authorization: Bearer <token>\", or set HANDOFF_METRICS_OPEN=true to leave it "
          "open (only where the proxy keeps it off the public side)\n")


@dataclass(frozen=True)
class QueueSnapshot:
    queued: int
    oldest_waiting_s: float
    alerts_open: int
    outbox_backlog: int


def _utcnow() -> datetime:
    return datetime.now(UTC)


def route_label(request: web.Request) -> str:
    """The matched resource's pattern, e.g. ``/api/tickets/{ticket_id}``."""
    resource = request.match_info.route.resource
    if resource is None:
        return UNMATCHED
    return resource.canonical


class HandoffMetrics:
    """The service's metrics; ``bind(store)`` once the database is open."""

    def __init__(self, *, actions_db_url: str | None = None, token: str | None = None,
                 open_without_token: bool = False,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.actions_db_url = actions_db_url or None
        self.token = token or None
        self.open_without_token = open_without_token
        self.clock = clock
        self.store: TicketStore | None = None
        self._actions_engine: AsyncEngine | None = None
        registry = self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "handoff_http_request_duration_seconds", "Time to answer an HTTP request.",
            ["method", "route", "status"], registry=registry)
        self.queue_length = Gauge("handoff_queue_length", "Chats waiting for a person.",
                                  registry=registry)
        self.oldest_waiting = Gauge(
            "handoff_oldest_waiting_seconds",
            "How long the longest-waiting queued chat has waited (0 when none).",
            registry=registry)
        self.open_alerts = Gauge(
            "handoff_open_alerts", "Queued chats that raised the pickup alert.",
            registry=registry)
        self.outbox_backlog = Gauge(
            "handoff_outbox_backlog", "Messages to customers not yet delivered.",
            registry=registry)
        self.escalation_backlog = Gauge(
            "handoff_escalation_outbox_backlog",
            "Escalations the action server has not yet delivered (NaN: database unreadable).",
            registry=registry) if self.actions_db_url else None
        self.escalations = Counter("handoff_escalations", "Tickets created, by reason.",
                                   ["reason"], registry=registry)
        self.pickup_alerts = Counter(
            "handoff_pickup_alerts", "Chats that waited past the pickup target in agent hours.",
            registry=registry)
        self.pickup_seconds = Histogram(
            "handoff_pickup_seconds", "From escalation to the first claim by a person.",
            buckets=PICKUP_BUCKETS, registry=registry)
        self.refresh_errors = Counter(
            "handoff_metrics_refresh_errors", "Scrapes that could not read a database.",
            ["source"], registry=registry)

    # Wiring ------------------------------------------------------------------------------

    def bind(self, store: TicketStore) -> None:
        """Read the queue from ``store`` from now on."""
        self.store = store

    async def close(self) -> None:
        if self._actions_engine is not None:
            await self._actions_engine.dispose()
            self._actions_engine = None

    # Events the service reports ------------------------------------------------------------

    def escalated(self, reason: str) -> None:
        self.escalations.labels(reason=reason if reason in PRIORITIES else "other").inc()

    def pickup_alert(self) -> None:
        self.pickup_alerts.inc()

    def claimed(self, waited_seconds: float) -> None:
        """A ticket's first claim, ``waited_seconds`` after it was created."""
        self.pickup_seconds.observe(max(0.0, waited_seconds))

    # Scrapes -------------------------------------------------------------------------------

    async def snapshot(self) -> QueueSnapshot | None:
        """The queue as it stands; None before ``bind``."""
        if self.store is None:
            return None
        now = self.clock()
        queued = await self.store.queued()
        waits = [(now - created).total_seconds()
                 for created in (aware(ticket.created_at) for ticket in queued)
                 if created is not None]
        alerts = sum(1 for ticket in queued if ticket.alerted_at is not None)
        async with self.store.db.sessions() as session:
            backlog = await session.scalar(
                select(func.count()).select_from(Message)
                .where(Message.to_customer.is_(True), Message.delivered_at.is_(None)))
        return QueueSnapshot(queued=len(queued), oldest_waiting_s=max(waits, default=0.0),
                             alerts_open=alerts, outbox_backlog=int(backlog or 0))

    async def _escalation_backlog(self) -> float:
        url = self.actions_db_url
        assert url is not None
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database \
                and not Path(parsed.database).exists():
            return 0.0   # the action server has not created its database yet: nothing sent
        if self._actions_engine is None:
            self._actions_engine = create_async_engine(url)
        async with self._actions_engine.connect() as conn:
            present = await conn.run_sync(
                lambda sync: inspect(sync).has_table(ESCALATION_OUTBOX.name))
            if not present:
                return 0.0
            count = await conn.scalar(select(func.count()).select_from(ESCALATION_OUTBOX)
                                      .where(ESCALATION_OUTBOX.c.delivered_at.is_(None)))
        return float(count or 0)

    async def refresh(self) -> None:
        """Set the gauges from the databases (called on every scrape)."""
        try:
            live = await self.snapshot()
        except Exception:
            log.exception("metrics: cannot read the handoff database")
            self.refresh_errors.labels(source="handoff_db").inc()
            live = None
        if live is not None:
            self.queue_length.set(live.queued)
            self.oldest_waiting.set(live.oldest_waiting_s)
            self.open_alerts.set(live.alerts_open)
            self.outbox_backlog.set(live.outbox_backlog)
        if self.escalation_backlog is not None:
            try:
                self.escalation_backlog.set(await self._escalation_backlog())
            except Exception as exc:
                log.warning("metrics: cannot read the action server's outbox (ACTIONS_DB_URL):"
                            " %s", exc)
                self.refresh_errors.labels(source="actions_db").inc()
                self.escalation_backlog.set(float("nan"))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    # aiohttp -------------------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            self.request_seconds.labels(method=request.method, route=route_label(request),
                                        status=str(status)).observe(
                time.perf_counter() - started)

    def refusal(self, request: web.Request) -> web.Response | None:
        """Why this scrape is refused, as the answer; None when it may read the metrics."""
        if self.token is None:
            if self.open_without_token:
                return None
            return web.Response(status=403, text=CLOSED)
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            return None
        return web.Response(status=401, text="a bearer token is required\n",
                            headers={"WWW-Authenticate": "Bearer"})


PROM = web.AppKey("prom", HandoffMetrics)


async def metrics_handler(request: web.Request) -> web.Response:
    """``GET /metrics``: the Prometheus text format, gauges fresh from the databases."""
    metrics = request.app[PROM]
    refused = metrics.refusal(request)
    if refused is not None:
        return refused
    await metrics.refresh()
    return web.Response(body=metrics.exposition(),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application, metrics: HandoffMetrics, path: str = "/metrics") -> None:
    """Install ``metrics`` on ``app``: the timing middleware (outermost, so it times the
    other middlewares too), ``GET <path>`` and the clean-up. Call before the app starts."""
    app[PROM] = metrics
    if metrics.token is None and not metrics.open_without_token:
        log.warning("GET %s refuses every scrape: set HANDOFF_METRICS_TOKEN (or "
                    "HANDOFF_METRICS_OPEN=true)", path)
    app.middlewares.insert(0, metrics.middleware)
    app.router.add_get(path, metrics_handler)

    async def lifetime(_: web.Application) -> AsyncIterator[None]:
        yield
        await metrics.close()

    app.cleanup_ctx.append(lifetime)
