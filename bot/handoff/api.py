"""HTTP routes of the handoff service: the signed webhook, the console's API and pages.

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
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from bot.handoff import security_events
from bot.handoff.accounts import Accounts
from bot.handoff.service import ActionError, HandoffService, message_json, positions, ticket_json
from bot.handoff.settings import HandoffSettings
from bot.handoff.store import Agent, AgentSession, utcnow
from bot.handoff.throttle import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_DAYS,
    LoginThrottle,
    device_of,
    new_device_cookie,
)
from contract.addresses import client_address
from contract.payload import REASONS, SECURITY_EVENT
from contract.signing import SignatureError, verify

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "handoff_session"
LOGIN_CSRF_COOKIE = "handoff_csrf"
MAX_BODY_BYTES = 512 * 1024
MAX_AGENT_TEXT = 4000
CSP = ("default-src 'self'; connect-src 'self' ws: wss:; style-src 'self'; img-src 'self'; "
       "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

SERVICE = web.AppKey("service", HandoffService)
SETTINGS = web.AppKey("settings", HandoffSettings)
ACCOUNTS = web.AppKey("accounts", Accounts)
THROTTLE = web.AppKey("login_throttle", LoginThrottle)
# Called when a supervisor opens the console (the dashboard's encoder starts loading).
SUPERVISOR_HOOKS = web.AppKey("supervisor_hooks", list)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


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


# The webhook ---------------------------------------------------------------------------

# The escalation's strings and the columns they are kept in (bot/handoff/store.py).
_PAYLOAD_STRINGS = {"escalation_id": 64, "conversation_id": 255, "channel": 64, "language": 8,
                    "reason": 32, "created_at": 64}


def _is_moment(value: Any) -> bool:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _check_transcript(entries: Any) -> str | None:
    if not isinstance(entries, list):
        return "'transcript' must be a list"
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict):
            return f"'transcript' entry {number} must be an object"
        if not isinstance(entry.get("role"), str) or not isinstance(entry.get("text", ""), str):
            return f"'transcript' entry {number} needs a 'role' and a 'text' (strings)"
        if not isinstance(entry.get("at"), str) or not _is_moment(entry["at"]):
            return f"'transcript' entry {number} needs 'at', an ISO 8601 moment"
        if entry.get("author") is not None and not isinstance(entry["author"], str):
            return f"'transcript' entry {number}: 'author' must be a string or null"
    return None


def _check_payload(body: Any) -> str | None:
    """What is wrong with an escalation (every field the service reads), or None."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    for key, longest in _PAYLOAD_STRINGS.items():
        value = body.get(key)
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            return f"'{key}' is required (a non-empty string)"
        if len(value) > longest:
            return f"'{key}' is too long: at most {longest} characters"
    if body["reason"] not in REASONS:
        return f"unknown reason {body['reason']!r}"
    if not _is_moment(body["created_at"]):
        return "'created_at' must be an ISO 8601 moment"
    for key, kinds, what in (("detail", (str,), "a string"),
                             ("outside_hours", (bool,), "true or false"),
                             ("agents_back_at", (str,), "an ISO 8601 moment"),
                             ("agents_back_text", (str,), "a string"),
                             ("order", (dict,), "an object"),
                             ("sentiment_trail", (list,), "a list")):
        if body.get(key) is not None and not isinstance(body[key], kinds):
            return f"'{key}' must be {what} or null"
    if len(body.get("agents_back_text") or "") > 120:
        return "'agents_back_text' is too long: at most 120 characters"
    return _check_transcript(body.get("transcript", []))


async def _signed_json(request: web.Request, what: str) -> tuple[Any, web.Response | None]:
    """The body of a request signed with the webhook secret, or the response refusing it."""
    settings = request.app[SETTINGS]
    raw = await request.read()
    try:
        verify(settings.webhook_secret, request.headers, raw,
               tolerance=settings.signature_tolerance_seconds)
    except SignatureError as exc:
        log.warning("%s refused: %s", what, exc)
        return None, error(401, f"signature refused: {exc}")
    try:
        return json.loads(raw), None
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None, error(400, "the body must be JSON")


async def escalation_webhook(request: web.Request) -> web.Response:
    body, refused = await _signed_json(request, "escalation webhook")
    if refused is not None:
        return refused
    if isinstance(body, dict) and body.get("kind") == SECURITY_EVENT:
        return await _security_event(request, body)
    problem = _check_payload(body)
    if problem:
        return error(422, problem)
    ticket, created = await request.app[SERVICE].receive(body)
    return web.json_response({"ticket_id": ticket.id, "status": ticket.status,
                              "created": created}, status=201 if created else 200)


async def _security_event(request: web.Request, body: dict[str, Any]) -> web.Response:
    """A lock on order look-ups (bot/handoff/security_events.py): stored once, listed in
    the console, which is told to refresh."""
    problem = security_events.problem_of(body)
    if problem:
        return error(422, problem)
    service = request.app[SERVICE]
    event_id, created = await security_events.record(service.store.db, body)
    if created:
        await service.hub.broadcast({"type": "security"})
    return web.json_response({"security_event_id": event_id, "created": created},
                             status=201 if created else 200)


async def security_event_list(request: web.Request, agent: Agent) -> web.Response:
    service = request.app[SERVICE]
    return web.json_response({"events": await security_events.recent(service.store.db)})


async def status_webhook(request: web.Request) -> web.Response:
    """Where a customer's request for a person stands, for the action server's answer to
    "what's happening with my request?" (signed like the escalation webhook)."""
    body, refused = await _signed_json(request, "status request")
    if refused is not None:
        return refused
    if not isinstance(body, dict) or not isinstance(body.get("conversation_id"), str) \
            or not body["conversation_id"]:
        return error(422, "'conversation_id' is required (a non-empty string)")
    return web.json_response(await request.app[SERVICE].status_of(body["conversation_id"]))


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
    # slow it down (bot/handoff/throttle.py).
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
    active = await request.app[SERVICE].store.active_chats()
    online = request.app[SERVICE].hub.online_agents()
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

async def _agents_by_id(request: web.Request) -> dict[int, Agent]:
    return {a.id: a for a in await request.app[ACCOUNTS].all()}


async def queue(request: web.Request, agent: Agent) -> web.Response:
    service = request.app[SERVICE]
    now = utcnow()
    places = positions(await service.store.queued())
    by_id = await _agents_by_id(request)
    tickets = sorted(await service.store.open_tickets(),
                     key=lambda t: (t.status != "queued", places.get(t.id, 0), t.id))
    return web.json_response({
        "tickets": [ticket_json(t, by_id, places.get(t.id), now,
                                target_seconds=request.app[SETTINGS].pickup_target_seconds)
                    for t in tickets],
        "server_time": now.isoformat(timespec="seconds")})


def _ticket_id(request: web.Request) -> int:
    try:
        return int(request.match_info["ticket_id"])
    except ValueError as exc:
        raise web.HTTPNotFound(text=json.dumps({"error": "no such chat"}),
                               content_type="application/json") from exc


async def _detail(request: web.Request, ticket_id: int) -> dict[str, Any] | None:
    service = request.app[SERVICE]
    ticket = await service.store.get(ticket_id)
    if ticket is None:
        return None
    places = positions(await service.store.queued())
    return ticket_json(ticket, await _agents_by_id(request), places.get(ticket.id), utcnow(),
                       detail=True,
                       target_seconds=request.app[SETTINGS].pickup_target_seconds)


async def ticket(request: web.Request, agent: Agent) -> web.Response:
    ticket_id = _ticket_id(request)
    detail = await _detail(request, ticket_id)
    if detail is None:
        return error(404, "no such chat")
    messages = await request.app[SERVICE].store.messages(ticket_id)
    return web.json_response({"ticket": detail,
                              "messages": [message_json(m) for m in messages]})


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
    hub = request.app[SERVICE].hub
    hub.add(ws, found[0].id)
    await hub.broadcast({"type": "queue"})
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT and '"ping"' in message.data:
                await ws.send_str(json.dumps({"type": "pong"}))
    finally:
        hub.remove(ws)
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
