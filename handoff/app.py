"""The handoff service's aiohttp application (``create_app(settings)``) and its runner."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from handoff import api, prom, quality
from handoff.accounts import Accounts
from handoff.hub import Hub
from handoff.rasa_client import RasaClient
from handoff.service import HandoffService
from handoff.settings import HandoffSettings
from handoff.store import TicketStore, create_schema, open_database
from handoff.strings import Strings
from handoff.throttle import LoginThrottle
from metrics.erase import RetentionSettings, Stores
from metrics.records import MetricsStore
from metrics.retention import RetentionJob

log = logging.getLogger("handoff")


def create_app(settings: HandoffSettings) -> web.Application:
    app = web.Application(middlewares=[api.security_headers], client_max_size=api.MAX_BODY_BYTES)
    app[api.SETTINGS] = settings

    async def resources(app: web.Application) -> AsyncIterator[None]:
        db = open_database(settings.db_url)
        await create_schema(db)
        accounts = Accounts(db, settings.session_hours)
        metrics = MetricsStore.from_url(settings.metrics_db_url)
        await metrics.create_schema()
        store = TicketStore(db, settings.priority_step_seconds)
        service = HandoffService(settings, store, accounts,
                                 RasaClient(settings.rasa_url, settings.rasa_token),
                                 Hub(), Strings(), metrics)
        app[prom.PROM].bind(store)
        service.prom = app[prom.PROM]
        app[api.ACCOUNTS] = accounts
        app[api.THROTTLE] = LoginThrottle(db, settings.login)
        app[api.SERVICE] = service
        log.info("handoff service ready: queue %s, Rasa %s", settings.db_url.split("@")[-1],
                 settings.rasa_url)
        yield
        await service.close()
        await metrics.close()
        await db.engine.dispose()

    async def background(app: web.Application) -> AsyncIterator[None]:
        """The relay, delivery, queue sweeps, pickup alerts, the metrics collector, surveys
        (``HandoffService.loops``) and retention, for as long as the app runs."""
        service = app[api.SERVICE]
        retention = RetentionJob(app[quality.STORES], settings.retention or RetentionSettings())
        retention.start()
        service.start()
        yield
        await service.stop()
        await retention.close()

    async def close_sockets(app: web.Application) -> None:
        if api.SERVICE in app:
            await app[api.SERVICE].hub.close()

    app.cleanup_ctx.append(resources)
    app.cleanup_ctx.append(background)
    app.on_shutdown.append(close_sockets)
    api.setup_routes(app)
    quality.setup(app, settings.stores or Stores.from_env())
    metrics_http = prom.HandoffMetrics(actions_db_url=settings.actions_db_url or None,
                                       token=settings.metrics_token or None,
                                       open_without_token=settings.metrics_open)
    prom.setup(app, metrics_http)
    return app


def run(settings: HandoffSettings) -> None:
    web.run_app(create_app(settings), host=settings.host, port=settings.port,
                access_log=None, print=None)
