"""The 4-minute rule's alert: what consoles receive, and the supervisors' webhook.

A chat that waits past the pickup target in agent hours is announced once to every open
console (``{"type": "alert", ...}`` over the console WebSocket) and POSTed to
``PICKUP_ALERT_WEBHOOK_URL``. The body is JSON with a ready-to-post ``text`` (Slack,
Mattermost and Rocket.Chat incoming webhooks show it as is) plus the fields, signed like
the escalation webhook (``X-Handoff-Timestamp`` / ``X-Handoff-Signature`` over
``<timestamp>.<body>`` with ``HANDOFF_WEBHOOK_SECRET``) so a receiver can check it came
from here. Delivery is retried with back-off for a few minutes, then given up (and logged):
an alert that arrives an hour late helps nobody.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from bot.handoff.signing import sign
from bot.handoff.store import REASON_TEXT, Ticket

log = logging.getLogger(__name__)

RETRY_DELAYS = (1.0, 2.0, 5.0, 15.0, 30.0, 60.0, 120.0)


def alert_json(ticket: Ticket, waited_seconds: float, target_seconds: int) -> dict[str, Any]:
    """The alert; ``waited_seconds`` counts from the start of the ticket's pickup clock
    (for a chat queued outside agent hours, from the start of agent hours)."""
    minutes, seconds = divmod(int(waited_seconds), 60)
    reason = REASON_TEXT.get(ticket.reason, ticket.reason)
    since = (", queued outside agent hours, has waited {} since agents started"
             if ticket.hours_started_at is not None else " has waited {} for a person")
    return {
        "type": "alert", "ticket_id": ticket.id, "conversation_id": ticket.conversation_id,
        "channel": ticket.channel, "language": ticket.language, "reason": ticket.reason,
        "waiting_seconds": int(waited_seconds), "target_seconds": target_seconds,
        "text": (f"A {ticket.channel} chat ({reason}, {ticket.language})"
                 + since.format(f"{minutes} min {seconds:02d} s")
                 + f"; the target is {target_seconds // 60} min. Ticket #{ticket.id}."),
    }


class AlertWebhook:
    def __init__(self, url: str, secret: str, timeout: float = 10.0) -> None:
        self.url = url
        self.secret = secret
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, alert: dict[str, Any]) -> None:
        """Post in the background; the queue never waits for the supervisors' chat."""
        if not self.url:
            return
        task = asyncio.get_running_loop().create_task(self._post(alert))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, alert: dict[str, Any]) -> None:
        body = json.dumps(alert, ensure_ascii=False).encode()
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self.timeout)
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            await asyncio.sleep(delay)
            headers = {"Content-Type": "application/json", **sign(self.secret, body)}
            try:
                async with self._http.post(self.url, data=body, headers=headers) as response:
                    if response.status < 300:
                        return
                    problem = f"HTTP {response.status}"
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            log.warning("pickup alert for ticket %s not posted (attempt %d: %s)",
                        alert.get("ticket_id"), attempt + 1, problem)
        log.error("pickup alert for ticket %s given up after %d attempts",
                  alert.get("ticket_id"), len(RETRY_DELAYS) + 1)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
