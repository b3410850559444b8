"""HTTP routes of the handoff service: the console's API and pages (the signed webhooks
from the action server are in ``webhooks.py``).

Security: every /api call but login needs the session cookie; every unsafe call also needs
the session's CSRF token in ``X-CSRF-Token`` and JSON, and a matching ``Origin`` when the
browser sends one. Pages get a strict Content-Security-Policy (no inline script), and the
console only ever puts text into the page as text.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from contract.addresses import client_address
from handoff.keys import ACCOUNTS, SERVICE, SETTINGS, SUPERVISOR_HOOKS, THROTTLE, error
from handoff.service import ActionError, HandoffService
from handoff.settings import HandoffSettings
from handoff.store import Agent, AgentSession, utcnow
from handoff.throttle import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_DAYS,
    device_of,
    new_device_cookie,
)
from handoff.views import message_json
from handoff.webhooks import escalation_webhook, status_webhook

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "handoff_session"
LOGIN_CSRF_COOKIE = "handoff_csrf"
MAX_BODY_BYTES = 512 * 1024
MAX_AGENT_TEXT = 4000
CSP = ("default-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; img-src 'self'; "
       "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _is_https(request: web.Request, settings: HandoffSettings) -> bool:
    if settings.trusted_proxy:
        return request.headers.get("X-Forwarded-Proto", request.scheme) == "https"
    return request.scheme == "https"


def _secure_cookie(request: web.Request) -> bool:
    settings = request.app[SETTINGS]
    if settings.cookie_secure == "auto":
        return _is_https(request, settings)
    return settings.cookie_secure == "true"


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("X-Forwarded-Host") if request.app[SETTINGS].trusted_proxy \
        else None
    expected = host or request.host
    return origin.split("://", 1)[-1] == expected


def _json_refusal(request: web.Request, exc: web.HTTPException) -> web.StreamResponse | None:
    """An error aiohttp raises (no such route, wrong method, body too large, a plain GET
    of the WebSocket) as the JSON every /api and /webhooks client reads: ``{"error": ...}``.
    None for redirects, pages and errors that are JSON already."""
    if exc.status < 400 or not request.path.startswith(("/api/", "/webhooks/")) \
            or exc.content_type == "application/json":
        return None
    message = (exc.text or "").strip()
    prefix = f"{exc.status}: "
    message = message[len(prefix):] if message.startswith(prefix) else message
    response = error(exc.status, " ".join(message.split()) or exc.reason)
    for name, value in exc.headers.items():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    return response


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        refusal = _json_refusal(request, exc)
        if refusal is None:
            raise
        response = refusal
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _agent(request: web.Request) -> tuple[Agent, AgentSession] | None:
    return await request.app[ACCOUNTS].session_of(request.cookies.get(SESSION_COOKIE))


def _check_unsafe(request: web.Request, csrf: str | None) -> web.Response | None:
    if not _same_origin(request):
        return error(403, "cross-origin request refused")
    if request.content_type != "application/json":
        return error(415, "send JSON (Content-Type: application/json)")
    given = request.headers.get("X-CSRF-Token", "")
    if not csrf or not given or not secrets.compare_digest(given, csrf):
        return error(403, "missing or wrong CSRF token: reload the console")
    return None


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be JSON"}),
                                 content_type="application/json") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be a JSON object"}),
                                 content_type="application/json")
    return body


def authenticated(handler: Callable[[web.Request, Agent], Awaitable[web.StreamResponse]],
                  ) -> Handler:
    """Every console API call: a live session, and for writes the CSRF token as well."""
    async def wrapped(request: web.Request) -> web.StreamResponse:
        found = await _agent(request)
        if found is None:
            return error(401, "not logged in")
        agent, session = found
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            problem = _check_unsafe(request, session.csrf_token)
            if problem is not None:
                return problem
        return await handler(request, agent)
    return wrapped


async def security_event_list(request: web.Request, agent: Agent) -> web.Response:
    return web.json_response({"events": await request.app[SERVICE].security_events()})


# Pages ---------------------------------------------------------------------------------

async def login_page(request: web.Request) -> web.StreamResponse:
    response = web.FileResponse(STATIC / "login.html")
    response.set_cookie(LOGIN_CSRF_COOKIE, secrets.token_urlsafe(24), httponly=False,
                        samesite="Strict", secure=_secure_cookie(request), path="/")
    return response


async def console_page(request: web.Request) -> web.StreamResponse:
    if await _agent(request) is None:
        raise web.HTTPFound("/console/login")
    return web.FileResponse(STATIC / "console.html")


async def root(_: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console")


async def health(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


# Login ---------------------------------------------------------------------------------

async def login(request: web.Request) -> web.Response:
    problem = _check_unsafe(request, request.cookies.get(LOGIN_CSRF_COOKIE))
    if problem is not None:
        return problem
    body = await _json_body(request)
    username, password = str(body.get("username") or ""), str(body.get("password") or "")
    settings, throttle = request.app[SETTINGS], request.app[THROTTLE]
    client = client_address(request.remote, request.headers.get("X-Forwarded-For"),
                            throttle.proxies)
    cookie = request.cookies.get(DEVICE_COOKIE)
    device = device_of(settings.webhook_secret, username, cookie)
    # Counted before the hash is awaited, so concurrent attempts cannot all get through.
    verdict = await throttle.attempt(username, client, device)
    if not verdict.allowed:
        seconds = max(1, math.ceil(verdict.retry_after))
        count = throttle.refused_to_report()
        if count:
            log.warning("%d console login(s) refused by the throttle since the last report "
                        "(the latest from %s, for %d s)", count, client, seconds)
        return web.json_response(
            {"error": f"too many failed logins: try again in {seconds} s",
             "retry_after": seconds}, status=429, headers={"Retry-After": str(seconds)})
    # A hash is always awaited, for unknown usernames too: the answer takes as long.
    agent = await request.app[ACCOUNTS].authenticate(username, password)
    if agent is None:
        return error(401, "wrong username or password")
    await throttle.succeeded(verdict)
    token, _csrf = await request.app[ACCOUNTS].start_session(agent)
    response = web.json_response({"agent": await _agent_json(request, agent)})
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict",
                        secure=_secure_cookie(request), path="/",
                        max_age=int(settings.session_hours * 3600))
    # This browser is known for this agent now: strangers' failures elsewhere do not
    # slow it down (handoff/throttle.py).
    known = cookie if device is not None and cookie else \
        new_device_cookie(settings.webhook_secret, agent.username)
    response.set_cookie(DEVICE_COOKIE, known, httponly=True, samesite="Strict",
                        secure=_secure_cookie(request), path="/api/login",
                        max_age=DEVICE_COOKIE_DAYS * 86400)
    return response


async def logout(request: web.Request, agent: Agent) -> web.Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await request.app[ACCOUNTS].end_session(token)
    response = web.json_response({})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def _agent_json(request: web.Request, agent: Agent) -> dict[str, Any]:
    active = await request.app[SERVICE].active_chats()
    online = request.app[SERVICE].online_agents()
    return {"id": agent.id, "username": agent.username, "display_name": agent.display_name,
            "max_chats": agent.max_chats, "active_chats": active.get(agent.id, 0),
            "online": agent.id in online, "role": agent.role}


async def me(request: web.Request, agent: Agent) -> web.Response:
    found = await _agent(request)
    assert found is not None
    if agent.role == "supervisor":
        for hook in request.app.get(SUPERVISOR_HOOKS, []):
            hook(request.app)
    return web.json_response({
        "agent": await _agent_json(request, agent), "csrf_token": found[1].csrf_token,
        "role": agent.role,
        "pickup_target_seconds": request.app[SETTINGS].pickup_target_seconds,
        "server_time": utcnow().isoformat(timespec="seconds")})


async def agents(request: web.Request, agent: Agent) -> web.Response:
    everyone = [a for a in await request.app[ACCOUNTS].all() if a.active]
    return web.json_response({"agents": [await _agent_json(request, a) for a in everyone]})


# Queue and tickets ---------------------------------------------------------------------

async def queue(request: web.Request, agent: Agent) -> web.Response:
    now = utcnow()
    return web.json_response({"tickets": await request.app[SERVICE].queue_view(now),
                              "server_time": now.isoformat(timespec="seconds")})


def _ticket_id(request: web.Request) -> int:
    try:
        return int(request.match_info["ticket_id"])
    except ValueError as exc:
        raise web.HTTPNotFound(text=json.dumps({"error": "no such chat"}),
                               content_type="application/json") from exc


async def _detail(request: web.Request, ticket_id: int) -> dict[str, Any] | None:
    return await request.app[SERVICE].ticket_view(ticket_id, utcnow())


async def ticket(request: web.Request, agent: Agent) -> web.Response:
    ticket_id = _ticket_id(request)
    detail = await _detail(request, ticket_id)
    if detail is None:
        return error(404, "no such chat")
    return web.json_response({"ticket": detail,
                              "messages": await request.app[SERVICE].transcript(ticket_id)})


def _text(body: dict[str, Any]) -> str:
    value = body.get("text")
    if not isinstance(value, str) or not value.strip():
        raise ActionError("The message is empty.")
    if len(value) > MAX_AGENT_TEXT:
        raise ActionError(f"The message is too long: at most {MAX_AGENT_TEXT} characters.")
    return value.strip()


def ticket_action(work: Callable[[HandoffService, int, Agent, dict[str, Any]],
                                 Awaitable[Any]], status: int = 200) -> Handler:
    async def handler(request: web.Request, agent: Agent) -> web.Response:
        ticket_id = _ticket_id(request)
        body = await _json_body(request)
        try:
            result = await work(request.app[SERVICE], ticket_id, agent, body)
        except ActionError as exc:
            return error(409, str(exc))
        if hasattr(result, "kind"):
            return web.json_response({"message": message_json(result)}, status=status)
        return web.json_response({"ticket": await _detail(request, ticket_id)}, status=status)
    return authenticated(handler)


async def _claim(s: HandoffService, t: int, a: Agent, _: dict[str, Any]) -> Any:
    return await s.claim(t, a)


async def _reply(s: HandoffService, t: int, a: Agent, body: dict[str, Any]) -> Any:
    return await s.reply(t, a, _text(body))


async def _note(s: HandoffService, t: int, a: Agent, body: dict[str, Any]) -> Any:
    return await s.note(t, a, _text(body))


async def _transfer(s: HandoffService, t: int, a: Agent, body: dict[str, Any]) -> Any:
    target = body.get("agent_id")
    if not isinstance(target, int):
        raise ActionError("Choose the agent to transfer to.")
    return await s.transfer(t, a, target)


async def _release(s: HandoffService, t: int, a: Agent, _: dict[str, Any]) -> Any:
    return await s.release(t, a)


async def _resolve(s: HandoffService, t: int, a: Agent, _: dict[str, Any]) -> Any:
    return await s.resolve(t, a)


async def websocket(request: web.Request) -> web.StreamResponse:
    found = await _agent(request)
    if found is None:
        return error(401, "not logged in")
    if not _same_origin(request):
        return error(403, "cross-origin WebSocket refused")
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    service = request.app[SERVICE]
    await service.console_opened(ws, found[0].id)
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT and '"ping"' in message.data:
                await ws.send_str(json.dumps({"type": "pong"}))
    finally:
        service.console_closed(ws)
    return ws


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", root)
    app.router.add_get("/health", health)
    app.router.add_post("/webhooks/escalations", escalation_webhook)
    app.router.add_post("/webhooks/status", status_webhook)
    app.router.add_get("/console", console_page)
    app.router.add_get("/console/login", login_page)
    app.router.add_static("/static", STATIC, show_index=False)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", authenticated(logout))
    app.router.add_get("/api/me", authenticated(me))
    app.router.add_get("/api/agents", authenticated(agents))
    app.router.add_get("/api/queue", authenticated(queue))
    app.router.add_get("/api/security-events", authenticated(security_event_list))
    app.router.add_get("/api/ws", websocket)
    app.router.add_get("/api/tickets/{ticket_id}", authenticated(ticket))
    app.router.add_post("/api/tickets/{ticket_id}/claim", ticket_action(_claim))
    app.router.add_post("/api/tickets/{ticket_id}/messages", ticket_action(_reply, 201))
    app.router.add_post("/api/tickets/{ticket_id}/notes", ticket_action(_note, 201))
    app.router.add_post("/api/tickets/{ticket_id}/transfer", ticket_action(_transfer))
    app.router.add_post("/api/tickets/{ticket_id}/release", ticket_action(_release))
    app.router.add_post("/api/tickets/{ticket_id}/resolve", ticket_action(_resolve))
