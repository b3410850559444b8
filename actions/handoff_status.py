"""Asks the handoff service where a customer's request for a person stands.

A signed POST (``contract/signing.py``, the escalation webhook's secret) of
``{"conversation_id": ...}`` to ``HANDOFF_STATUS_URL``. The customer is waiting for the
answer, so the timeout is short; an unreachable service is ``None``, never an exception.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypedDict

import aiohttp

from contract.signing import sign

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 3.0
STATES = frozenset({"none", "queued", "with_agent", "outside_hours"})


class HandoffState(TypedDict):
    state: str
    position: int | None
    minutes: int | None
    agent_name: str | None
    agents_back_text: str | None
    reason: str | None


def _parse(body: Any) -> HandoffState | None:
    if not isinstance(body, dict) or body.get("state") not in STATES:
        return None

    def number(key: str) -> int | None:
        value = body.get(key)
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) \
            else None

    def text(key: str) -> str | None:
        value = body.get(key)
        return str(value) if isinstance(value, str) and value else None

    return {"state": str(body["state"]), "position": number("position"),
            "minutes": number("minutes"), "agent_name": text("agent_name"),
            "agents_back_text": text("agents_back_text"), "reason": text("reason")}


class HandoffStatusClient:
    def __init__(self, url: str, secret: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self._http: aiohttp.ClientSession | None = None

    async def state(self, conversation_id: str) -> HandoffState | None:
        """The request's state, or None when the service cannot tell us right now."""
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        raw = json.dumps({"conversation_id": conversation_id}).encode()
        headers = {"Content-Type": "application/json", **sign(self.secret, raw)}
        try:
            async with self._http.post(self.url, data=raw, headers=headers) as response:
                if response.status != 200:
                    log.warning("handoff status for %s: HTTP %d from %s (check "
                                "HANDOFF_STATUS_URL and HANDOFF_WEBHOOK_SECRET)",
                                conversation_id, response.status, self.url)
                    return None
                parsed = _parse(await response.json(content_type=None))
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            log.warning("handoff status for %s: %s unreachable (%s)", conversation_id,
                        self.url, type(exc).__name__)
            return None
        if parsed is None:
            log.warning("handoff status for %s: unexpected answer from %s", conversation_id,
                        self.url)
        return parsed

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
