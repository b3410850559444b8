"""The handoff service's aiohttp application (``create_app(settings)``) and its runner."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot.handoff import api
from bot.handoff.accounts import Accounts
from bot.handoff.hub import Hub
from bot.handoff.rasa_client import RasaClient
from bot.handoff.service import HandoffService
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import TicketStore, create_schema, open_database
from bot.handoff.strings import Strings

log = logging.getLogger("bot.handoff")


def create_app(settings: HandoffSettings) -> web.Application:
    app = web.Application(middlewares=[api.security_headers], client_max_size=api.MAX_BODY_BYTES)
    app[api.SETTINGS] = settings
    app[api.LOGIN_FAILURES] = {}

    async def resources(app: web.Application) -> AsyncIterator[None]:
        db = open_database(settings.db_url)
        await create_schema(db)
        accounts = Accounts(db, settings.session_hours)
        service = HandoffService(settings, TicketStore(db, settings.priority_step_seconds),
                                 accounts, RasaClient(settings.rasa_url, settings.rasa_token),
                                 Hub(), Strings())
        app[api.ACCOUNTS] = accounts
        app[api.SERVICE] = service
        service.start()
        log.info("handoff service ready: queue %s, Rasa %s", settings.db_url.split("@")[-1],
                 settings.rasa_url)
        yield
        await service.close()
        await db.engine.dispose()

    async def close_sockets(app: web.Application) -> None:
        if api.SERVICE in app:
            await app[api.SERVICE].hub.close()

    app.cleanup_ctx.append(resources)
    app.on_shutdown.append(close_sockets)
    api.setup_routes(app)
    return app


def run(settings: HandoffSettings) -> None:
    web.run_app(create_app(settings), host=settings.host, port=settings.port,
                access_log=None, print=None)
