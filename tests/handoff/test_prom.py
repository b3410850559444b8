"""The Prometheus endpoint over a real handoff database, scraped through a real server."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import create_async_engine

from actions.handoff_outbox import HandoffOutbox
from contract.payload import Escalation
from handoff import prom
from handoff.settings import HandoffSettings, SettingsError
from handoff.store import Database, TicketStore, create_schema, open_database
from tests import factories

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def escalation(conversation_id: str, reason: str = "customer_request") -> Escalation:
    return cast(Escalation, factories.escalation(conversation_id, at=NOW, reason=reason,
                                                 channel="widget", detail="", transcript=[]))


@dataclass
class Service:
    client: TestClient[web.Request, web.Application]
    store: TicketStore
    metrics: prom.HandoffMetrics

    async def scrape(self, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = await self.client.get("/metrics", headers=headers)
        assert response.status == 200
        assert response.headers["Content-Type"] == prom.CONTENT_TYPE_LATEST
        samples = {}
        for family in text_string_to_metric_families(await response.text()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples


async def hello(request: web.Request) -> web.Response:
    return web.json_response({"ticket": request.match_info.get("ticket_id")})


async def boom(_: web.Request) -> web.Response:
    raise web.HTTPForbidden(text="no")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = open_database(f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}")
    await create_schema(database)
    yield database
    await database.engine.dispose()


async def _start(db: Database, clock: datetime = NOW, **options: Any) -> Service:
    store = TicketStore(db, priority_step=120)
    if "token" not in options:
        options.setdefault("open_without_token", True)  # HANDOFF_METRICS_OPEN=true
    metrics = prom.HandoffMetrics(clock=lambda: clock, **options)
    app = web.Application()
    app.router.add_get("/api/tickets/{ticket_id}", hello)
    app.router.add_post("/api/forbidden", boom)
    prom.setup(app, metrics)
    metrics.bind(store)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return Service(client, store, metrics)


@pytest.fixture
async def service(db: Database) -> AsyncIterator[Service]:
    started = await _start(db)
    yield started
    await started.client.close()


async def test_gauges_show_the_queue_as_it_stands(service: Service) -> None:
    empty = await service.scrape()
    assert empty[("handoff_queue_length", ())] == 0
    assert empty[("handoff_oldest_waiting_seconds", ())] == 0
    assert ("handoff_escalation_outbox_backlog", ()) not in empty   # no actions DB given

    old, _ = await service.store.create(escalation("c-old"), NOW - timedelta(seconds=300))
    await service.store.create(escalation("c-new", "negative_sentiment"),
                               NOW - timedelta(seconds=30))
    taken, _ = await service.store.create(escalation("c-taken"), NOW - timedelta(seconds=900))
    await service.store.resolve(taken.id, None, NOW)
    assert await service.store.mark_alerted(old.id, NOW - timedelta(seconds=60))
    await service.store.add_message(old.id, "system", "You are number 1", to_customer=True)
    sent = await service.store.add_message(old.id, "agent", "Hi", to_customer=True)
    assert sent is not None
    await service.store.mark_delivery(sent.id, None, NOW)

    samples = await service.scrape()
    assert samples[("handoff_queue_length", ())] == 2
    assert samples[("handoff_oldest_waiting_seconds", ())] == 300
    assert samples[("handoff_open_alerts", ())] == 1          # c-old raised the alert
    assert samples[("handoff_outbox_backlog", ())] == 1       # one message not delivered


async def test_request_latency_is_labelled_by_route_not_url(service: Service) -> None:
    for ticket in ("1", "2", "3"):
        assert (await service.client.get(f"/api/tickets/{ticket}")).status == 200
    assert (await service.client.post("/api/forbidden")).status == 403
    assert (await service.client.get("/no/such/page?x=1")).status == 404

    samples = await service.scrape()
    count = "handoff_http_request_duration_seconds_count"
    assert samples[(count, (("method", "GET"), ("route", "/api/tickets/{ticket_id}"),
                            ("status", "200")))] == 3
    assert samples[(count, (("method", "POST"), ("route", "/api/forbidden"),
                            ("status", "403")))] == 1
    assert samples[(count, (("method", "GET"), ("route", prom.UNMATCHED),
                            ("status", "404")))] == 1
    routes = {dict(labels)["route"] for name, labels in samples if name == count}
    assert not any(route.startswith("/api/tickets/") and "{" not in route for route in routes)
    bucket = samples[("handoff_http_request_duration_seconds_bucket",
                      (("le", "+Inf"), ("method", "GET"), ("route", "/api/tickets/{ticket_id}"),
                       ("status", "200")))]
    assert bucket == 3


async def test_counters_the_service_increments(service: Service) -> None:
    service.metrics.escalated("lost_parcel")
    service.metrics.escalated("lost_parcel")
    service.metrics.escalated("something new")
    service.metrics.pickup_alert()
    service.metrics.claimed(65.0)
    service.metrics.claimed(400.0)

    samples = await service.scrape()
    assert samples[("handoff_escalations_total", (("reason", "lost_parcel"),))] == 2
    assert samples[("handoff_escalations_total", (("reason", "other"),))] == 1
    assert samples[("handoff_pickup_alerts_total", ())] == 1
    assert samples[("handoff_pickup_seconds_bucket", (("le", "240.0"),))] == 1
    assert samples[("handoff_pickup_seconds_count", ())] == 2


async def test_the_escalation_outbox_backlog_comes_from_the_actions_database(
        db: Database, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'actions.db'}"
    service = await _start(db, actions_db_url=url)
    try:
        # The action server has not created its database yet: nothing is waiting.
        assert (await service.scrape())[("handoff_escalation_outbox_backlog", ())] == 0
        assert not (tmp_path / "actions.db").exists()
        engine = create_async_engine(url)
        outbox = HandoffOutbox(engine, "http://127.0.0.1:9/unused", "x" * 32, now=lambda: NOW)
        await outbox.create_schema()
        await outbox.enqueue(escalation("c1"))
        await outbox.enqueue(escalation("c2"))
        await engine.dispose()
        assert (await service.scrape())[("handoff_escalation_outbox_backlog", ())] == 2
    finally:
        await service.client.close()


async def test_an_unreadable_database_is_counted_not_fatal(db: Database,
                                                           tmp_path: Path) -> None:
    (tmp_path / "broken.db").write_text("this is not a database")
    service = await _start(db, actions_db_url=f"sqlite+aiosqlite:///{tmp_path / 'broken.db'}")
    try:
        samples = await service.scrape()
        assert math.isnan(samples[("handoff_escalation_outbox_backlog", ())])
        assert samples[("handoff_metrics_refresh_errors_total",
                        (("source", "actions_db"),))] == 1
        assert samples[("handoff_queue_length", ())] == 0
    finally:
        await service.client.close()


async def test_a_token_protects_the_endpoint(db: Database) -> None:
    service = await _start(db, token="s3cret-scrape-token")  # noqa: S106
    try:
        assert (await service.client.get("/metrics")).status == 401
        wrong = await service.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        samples = await service.scrape(Authorization="Bearer s3cret-scrape-token")
        assert samples[("handoff_queue_length", ())] == 0
    finally:
        await service.client.close()


async def test_without_a_token_the_endpoint_is_closed_unless_opened(db: Database) -> None:
    closed = await _start(db, open_without_token=False)
    opened = await _start(db)
    try:
        refused = await closed.client.get("/metrics")
        assert refused.status == 403
        assert "set HANDOFF_METRICS_TOKEN" in await refused.text()
        assert "HANDOFF_METRICS_OPEN=true" in await refused.text()
        # A token sent to an endpoint that has none is no way in either.
        assert (await closed.client.get("/metrics", headers={
            "Authorization": "Bearer anything"})).status == 403
        assert (await opened.scrape())[("handoff_queue_length", ())] == 0
    finally:
        await closed.client.close()
        await opened.client.close()


def test_the_settings_open_the_endpoint_only_when_told() -> None:
    env = {"HANDOFF_WEBHOOK_SECRET": "x" * 32, "RASA_API_TOKEN": "token"}
    assert not HandoffSettings.from_env(env).metrics_open
    assert HandoffSettings.from_env({**env, "HANDOFF_METRICS_OPEN": "true"}).metrics_open
    with pytest.raises(SettingsError, match="HANDOFF_METRICS_OPEN"):
        HandoffSettings.from_env({**env, "HANDOFF_METRICS_OPEN": "maybe"})


async def test_each_app_has_its_own_registry(db: Database) -> None:
    first, second = await _start(db), await _start(db)
    try:
        first.metrics.pickup_alert()
        assert (await first.scrape())[("handoff_pickup_alerts_total", ())] == 1
        assert (await second.scrape())[("handoff_pickup_alerts_total", ())] == 0
    finally:
        await first.client.close()
        await second.client.close()
