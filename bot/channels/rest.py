"""Rasa's REST channel with the checks a public endpoint needs.

Rasa's own ``RestInput`` files a request without ``sender`` under the shared conversation
"default" (every such customer would read the others' conversation), answers invalid
JSON with a server error, and accepts any length. This channel keeps Rasa's URL
(``/webhooks/rest/webhook``) and response format, and refuses bad requests with a 4xx
and a message saying what to fix.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

log = logging.getLogger(__name__)

SENDER_RE = re.compile(r"^[\w.:@+-]{1,128}$")
MAX_MESSAGE_CHARS = 4000


def error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def parse(request: Request) -> tuple[dict[str, Any] | None, HTTPResponse | None]:
    """The checked request body, or the error response to send instead."""
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        return None, error(400, "the request body must be JSON: "
                                '{"sender": "<conversation id>", "message": "<text>"}')
    if not isinstance(body, dict):
        return None, error(400, "the request body must be a JSON object")
    sender = body.get("sender")
    if not isinstance(sender, str) or not SENDER_RE.match(sender):
        return None, error(400, "'sender' is required: 1 to 128 letters, digits or . _ - : @ +")
    message = body.get("message")
    if not isinstance(message, str):
        return None, error(400, "'message' is required and must be a string")
    if not message.strip():
        return None, error(400, "'message' is empty")
    if len(message) > MAX_MESSAGE_CHARS:
        return None, error(413, f"'message' is too long: at most {MAX_MESSAGE_CHARS} characters")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return None, error(400, "'metadata' must be a JSON object")
    return body, None


class StrictRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Any) -> Blueprint:
        hook = Blueprint("strict_rest_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body, problem = parse(request)
            if problem is not None or body is None:
                return problem or error(400, "bad request")
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(
                    body["message"], collector, body["sender"],
                    input_channel=self.name(), metadata=body.get("metadata"),
                ))
            except Exception:  # a customer never sees a traceback
                log.exception("message from %s failed", body["sender"])
                return error(500, "the assistant could not answer this message; "
                                  "please try again")
            return response.json(collector.messages)

        return hook
