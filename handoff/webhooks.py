"""The signed webhooks from the action server (``contract/payload.py``, signed as in
``contract/signing.py``): escalations and security events become tickets and console
events; the status webhook answers where a customer's request for a person stands."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from contract.payload import REASONS, SECURITY_EVENT
from contract.signing import SignatureError, verify
from handoff import security_events
from handoff.keys import SERVICE, SETTINGS, error

log = logging.getLogger(__name__)


# The escalation's strings and the columns they are kept in (handoff/store.py).
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
    """A lock on order look-ups (handoff/security_events.py): stored once, listed in
    the console, which is told to refresh."""
    problem = security_events.problem_of(body)
    if problem:
        return error(422, problem)
    event_id, created = await request.app[SERVICE].record_security_event(body)
    return web.json_response({"security_event_id": event_id, "created": created},
                             status=201 if created else 200)


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


