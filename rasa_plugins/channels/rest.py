"""Rasa's REST channel with the checks a public endpoint needs.

Rasa's own ``RestInput`` files a request without ``sender`` under the shared conversation
"default" (every such customer would read the others' conversation), answers invalid
JSON with a server error, and accepts any length. This channel keeps Rasa's URL
(``/webhooks/rest/webhook``) and response format, and refuses bad requests with a 4xx
and a message saying what to fix.

REST answers only the request it is given, so messages that arrive on their own (an
agent's reply during a handoff, the queue position, the hand-back) are fetched with
``GET /webhooks/rest/messages?sender=<id>&after=<cursor>&wait=<seconds>``: a long poll
over the conversation's record in the tracker store, which every Rasa process shares.

At the edge (``client_identity``, ``rate_limits``): the body is at most 64 KB (413) and
nests at most 8 levels (400), ``metadata`` at most 4 KB serialized (413); a client's
``metadata`` is kept under ``metadata["client"]`` (only a supported ``language`` is lifted
out), and the channel adds its own ``client_id`` (a keyed hash of the client's address).
A client over its budget gets 429 with ``Retry-After`` and a message in its language.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_plugins.channels import rate_limits, typed_commands
from rasa_plugins.channels.client_identity import (
    EdgeSettingsError,
    Identity,
    client_metadata,
    language_of,
)
from rasa_plugins.channels.rest_checks import check_body, sender_problem

log = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 25.0
POLL_SECONDS = 0.25
PUSHED_FROM = ("agent", "system")


def pushed_messages(events: list[Any], sender: str, after: float) -> list[dict[str, Any]]:
    """Bot messages sent outside a reply, after a time: by an agent or the handoff service,
    and the assistant's answers to a triggered intent (the survey after a hand-back or a
    quiet spell), which no request was waiting for."""
    found = []
    external = False
    for event in events:
        data = event.as_dict() if hasattr(event, "as_dict") else event
        meta = data.get("metadata") or {}
        if data.get("event") == "user":
            external = bool(meta.get("is_external"))
            continue
        if data.get("event") != "bot" or (meta.get("from") not in PUSHED_FROM and not external):
            continue
        timestamp = float(data.get("timestamp") or 0)
        if timestamp > after:
            message = {"recipient_id": sender, "text": data.get("text") or "",
                       "from": meta.get("from") or "assistant",
                       "agent_name": meta.get("agent_name"), "timestamp": timestamp}
            buttons = (data.get("data") or {}).get("buttons")
            if buttons:
                message["buttons"] = buttons
            found.append(message)
    return found


def error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def parse(request: Request) -> tuple[dict[str, Any] | None, HTTPResponse | None]:
    """The checked request body, or the error response to send instead."""
    body, refusal = check_body(request.body or b"", request.headers.get("content-length"))
    if refusal is not None:
        return None, error(*refusal)
    return body, None


class StrictRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Any) -> Blueprint:
        try:
            identity = Identity.from_env(os.environ)
            limiter = rate_limits.shared(os.environ, warn=log.warning)
        except EdgeSettingsError as exc:
            raise RasaException(str(exc)) from None
        hook = Blueprint("strict_rest_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/messages", methods=["GET"])
        async def messages(request: Request) -> HTTPResponse:
            sender = request.args.get("sender", "")
            problem = sender_problem(sender)
            if problem:
                return error(400, problem)
            try:
                after = float(request.args.get("after", "0") or 0)
                wait = min(MAX_WAIT_SECONDS, max(0.0, float(request.args.get("wait", "0") or 0)))
            except ValueError:
                return error(400, "'after' and 'wait' must be numbers")
            store = request.app.ctx.agent.tracker_store
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            while True:
                tracker = await store.retrieve(sender)
                found = pushed_messages(list(tracker.events) if tracker else [], sender, after)
                if found or loop.time() >= deadline:
                    break
                await asyncio.sleep(POLL_SECONDS)
            cursor = max([after, *(m["timestamp"] for m in found)])
            return response.json({"messages": found, "cursor": cursor})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body, problem = parse(request)
            if problem is not None or body is None:
                return problem or error(400, "bad request")
            sender = body["sender"]
            client = identity.of_address(request.ip, request.headers.get("x-forwarded-for"))
            metadata = client_metadata(body.get("metadata"), client)
            verdict = await limiter.message(client, f"rest:{sender}")
            if not verdict.allowed:
                log.info("REST: %s over its %s budget; refused for %d s", client,
                         verdict.refused_by, verdict.retry_seconds)
                language = language_of((body.get("metadata") or {}).get("language"))
                return response.json(
                    {"error": rate_limits.refusal_text(language, verdict),
                     "retry_after": verdict.retry_seconds, "limit": verdict.refused_by},
                    status=429, headers={"Retry-After": str(verdict.retry_seconds)})
            text = body["message"]
            if typed_commands.is_shorthand(text):
                tracker = await request.app.ctx.agent.tracker_store.retrieve(sender)
                text = typed_commands.guarded(text, typed_commands.offered_payloads(tracker))
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(
                    text, collector, sender,
                    input_channel=self.name(), metadata=metadata,
                ))
            except Exception:  # a customer never sees a traceback
                log.exception("message from %s failed", body["sender"])
                return error(500, "the assistant could not answer this message; "
                                  "please try again")
            return response.json(collector.messages)

        return hook
