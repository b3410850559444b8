"""What the handoff service's aiohttp app holds (``app[KEY]``) and its error body."""

from __future__ import annotations

from aiohttp import web

from handoff.accounts import Accounts
from handoff.service import HandoffService
from handoff.settings import HandoffSettings
from handoff.throttle import LoginThrottle

SERVICE = web.AppKey("service", HandoffService)
SETTINGS = web.AppKey("settings", HandoffSettings)
ACCOUNTS = web.AppKey("accounts", Accounts)
THROTTLE = web.AppKey("login_throttle", LoginThrottle)
# Called when a supervisor opens the console (the dashboard's encoder starts loading).
SUPERVISOR_HOOKS = web.AppKey("supervisor_hooks", list)



def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
