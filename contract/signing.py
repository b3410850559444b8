"""HMAC-SHA256 signatures for the escalation webhook (both the sender and the receiver).

The signature covers ``<timestamp>.<raw body>`` so a captured request cannot be replayed
later (the timestamp is checked against a tolerance) nor altered (the body is covered).
Headers: ``X-Handoff-Timestamp`` (Unix seconds) and ``X-Handoff-Signature``
(``sha256=<hex>``). The scheme is the one Stripe and Slack use, so a shop's own helpdesk
can verify it with a few lines of code.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Handoff-Timestamp"
SIGNATURE_HEADER = "X-Handoff-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The request is not signed by someone holding the secret, or is too old."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def sign(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers to send with ``body``."""
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: str, headers: Mapping[str, str], body: bytes,
           tolerance: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None) -> int:
    """Check the headers against ``body``; return the timestamp or raise SignatureError."""
    get = headers.get
    raw_timestamp, given = get(TIMESTAMP_HEADER), get(SIGNATURE_HEADER)
    if not raw_timestamp or not given:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        timestamp = int(raw_timestamp)
    except ValueError as exc:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(f"stale request: timestamp is {int(current - timestamp)} s off "
                             f"(tolerance {tolerance} s)")
    if not hmac.compare_digest(signature(secret, timestamp, body), str(given)):
        raise SignatureError("bad signature")
    return timestamp
