"""The REST channel's checks of a request, apart from Rasa so the tests (and the fuzz suite)
import them from the services' environment. ``check_body`` never raises: a body is either
taken or refused with a status (400 or 413) and a message saying what to fix.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_plugins.channels.client_identity import (
    MAX_BODY_BYTES,
    MAX_METADATA_BYTES,
    BadBody,
    loads,
    metadata_size,
)

SENDER_RE = re.compile(r"[\w.:@+-]{1,128}")  # used with fullmatch: no "\n" after the id
# Conversation ids of the other channels: REST may neither write to nor read from them
# (a Telegram chat id is easy to guess; the widget's ids are the widget's to give out).
RESERVED_PREFIXES = ("web-", "tg-")


def sender_problem(sender: object) -> str | None:
    """Why ``sender`` cannot be a REST conversation id, or None if it can."""
    if not isinstance(sender, str) or not SENDER_RE.fullmatch(sender):
        return "'sender' is required: 1 to 128 letters, digits or . _ - : @ +"
    if sender.lower().startswith(RESERVED_PREFIXES):
        return (f"'sender' must not start with {' or '.join(RESERVED_PREFIXES)}: those are "
                "the website widget's and Telegram's conversations")
    return None
MAX_MESSAGE_CHARS = 4000

Refusal = tuple[int, str]


def check_body(raw: bytes, declared_length: str | None = None
               ) -> tuple[dict[str, Any] | None, Refusal | None]:
    """The checked request body, or ``(status, message)`` to answer instead."""
    declared = (declared_length or "").strip()
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None, (413, f"the request body is too large: at most {MAX_BODY_BYTES} bytes")
    try:
        body = loads(raw)
    except BadBody as exc:
        return None, (exc.status, str(exc))
    if not isinstance(body, dict):
        return None, (400, "the request body must be a JSON object")
    problem = sender_problem(body.get("sender"))
    if problem:
        return None, (400, problem)
    message = body.get("message")
    if not isinstance(message, str):
        return None, (400, "'message' is required and must be a string")
    if not message.strip():
        return None, (400, "'message' is empty")
    if len(message) > MAX_MESSAGE_CHARS:
        return None, (413, f"'message' is too long: at most {MAX_MESSAGE_CHARS} characters")
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        return None, (400, "'message' is not valid text: it has an unpaired UTF-16 "
                           "surrogate (\\ud800-\\udfff)")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return None, (400, "'metadata' must be a JSON object")
    if metadata and metadata_size(metadata) > MAX_METADATA_BYTES:
        return None, (413, f"'metadata' is too large: at most {MAX_METADATA_BYTES} bytes "
                           "as JSON")
    return body, None
