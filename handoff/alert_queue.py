"""Pickup alerts to the supervisors' webhook, kept until acknowledged.

A chat past the pickup target raises its alert once: ``raise_alert`` sets the ticket's
``alerted_at`` and, with ``PICKUP_ALERT_WEBHOOK_URL`` set, adds a row to
``pending_alerts``, in one transaction. The row is posted until the webhook answers 2xx,
with back-off from ``PICKUP_ALERT_RETRY_FIRST_SECONDS`` doubling up to
``PICKUP_ALERT_RETRY_MAX_SECONDS``, and dropped unsent once an agent has picked the chat up
or the chat has closed (nobody needs the alert then). The rows are in the handoff database,
so a restart carries on with them; a lease lets several handoff processes share the table
without posting one alert twice at once.

Each attempt posts the alert as it stands (the wait so far), signed like the escalation
webhook, with ``alert_id`` (the same on every attempt, for a receiver to drop repeats) and
``attempt``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import delete, or_, select, update

from contract.signing import sign
from handoff.alerts import alert_json
from handoff.hours import pickup_clock
from handoff.store import Database, PendingAlert, Ticket, aware, utcnow

log = logging.getLogger(__name__)

BATCH = 50
MIN_PAUSE_SECONDS = 0.05


class AlertQueue:
    def __init__(self, db: Database, url: str, secret: str, target_seconds: int, *,
                 first_retry_seconds: float = 2.0, max_retry_seconds: float = 300.0,
                 timeout_seconds: float = 10.0, clock: Callable[[], datetime] = utcnow,
                 http: aiohttp.ClientSession | None = None) -> None:
        self.db = db
        self.url = url
        self.secret = secret
        self.target_seconds = target_seconds
        self.first_retry = first_retry_seconds
        self.max_retry = max_retry_seconds
        self.timeout = timeout_seconds
        self.clock = clock
        self._http = http
        self._own_http = http is None
        self._wake = asyncio.Event()
        self._held: set[int] = set()   # rows this process has leased

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next attempt, after ``attempts`` failed ones."""
        return min(self.max_retry, self.first_retry * 2.0 ** min(max(attempts - 1, 0), 40))

    async def raise_alert(self, ticket_id: int, now: datetime) -> bool:
        """True for the one caller that raises this ticket's alert (once per ticket)."""
        async with self.db.sessions.begin() as session:
            result = await session.execute(
                update(Ticket).where(Ticket.id == ticket_id, Ticket.alerted_at.is_(None))
                .values(alerted_at=now).execution_options(synchronize_session=False))
            if getattr(result, "rowcount", 0) != 1:
                return False
            if self.url:
                # A row left by an erased ticket whose id SQLite has given out again.
                await session.execute(delete(PendingAlert)
                                      .where(PendingAlert.ticket_id == ticket_id))
                session.add(PendingAlert(ticket_id=ticket_id, raised_at=now, attempts=0,
                                         next_attempt_at=now))
        self._wake.set()
        return True

    async def pending(self) -> list[PendingAlert]:
        async with self.db.sessions() as session:
            return list(await session.scalars(select(PendingAlert)
                                              .order_by(PendingAlert.next_attempt_at)))

    async def deliver_due(self) -> int:
        """Post every alert that is due, once; how many the webhook acknowledged."""
        now = self.clock()
        async with self.db.sessions() as session:
            due = list(await session.scalars(
                select(PendingAlert).where(
                    PendingAlert.next_attempt_at <= now,
                    or_(PendingAlert.leased_until.is_(None), PendingAlert.leased_until < now))
                .order_by(PendingAlert.next_attempt_at).limit(BATCH)))
        if not due:
            return 0
        results = await asyncio.gather(*(self._attempt(row, now) for row in due))
        return sum(results)

    async def _lease(self, row_id: int, now: datetime) -> bool:
        until = now + timedelta(seconds=self.timeout + 5)
        async with self.db.sessions.begin() as session:
            result = await session.execute(
                update(PendingAlert).where(
                    PendingAlert.id == row_id,
                    or_(PendingAlert.leased_until.is_(None), PendingAlert.leased_until < now))
                .values(leased_until=until).execution_options(synchronize_session=False))
            won = getattr(result, "rowcount", 0) == 1
        if won:
            self._held.add(row_id)
        return won

    async def _drop(self, row_id: int) -> None:
        async with self.db.sessions.begin() as session:
            await session.execute(delete(PendingAlert).where(PendingAlert.id == row_id))
        self._held.discard(row_id)

    async def _attempt(self, row: PendingAlert, now: datetime) -> bool:
        if not await self._lease(row.id, now):
            return False  # another process has it
        async with self.db.sessions() as session:
            ticket = await session.get(Ticket, row.ticket_id)
        if ticket is None or ticket.alerted_at is None or ticket.status != "queued" \
                or ticket.first_claimed_at is not None:
            # Gone (erased; its id may have been given to a new ticket), picked up or closed.
            await self._drop(row.id)
            log.info("pickup alert for ticket %d no longer needed (%s): not posted",
                     row.ticket_id, "gone" if ticket is None or ticket.alerted_at is None else
                     "picked up" if ticket.first_claimed_at is not None else ticket.status)
            return False
        attempt = row.attempts + 1
        started = pickup_clock(ticket) or aware(ticket.created_at) or now
        body = {**alert_json(ticket, (now - started).total_seconds(), self.target_seconds),
                "alert_id": f"pickup-{ticket.id}", "attempt": attempt}
        problem = await self._post(body)
        if problem is None:
            await self._drop(row.id)
            log.info("pickup alert for ticket %d acknowledged (attempt %d)", ticket.id, attempt)
            return True
        wait = self.retry_delay(attempt)
        async with self.db.sessions.begin() as session:
            await session.execute(
                update(PendingAlert).where(PendingAlert.id == row.id)
                .values(attempts=attempt, leased_until=None, last_error=problem[:500],
                        next_attempt_at=self.clock() + timedelta(seconds=wait))
                .execution_options(synchronize_session=False))
        self._held.discard(row.id)
        log.warning("pickup alert for ticket %d not acknowledged (attempt %d: %s); next try "
                    "in %.0f s", ticket.id, attempt, problem, wait)
        return False

    async def _post(self, alert: dict[str, Any]) -> str | None:
        """None when the webhook acknowledged the alert, else what went wrong."""
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout))
        body = json.dumps(alert, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **sign(self.secret, body)}
        try:
            async with self._http.post(self.url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"

    async def _pause(self, poll: float) -> float:
        """Seconds until the next row is due (at most ``poll``: other processes add rows)."""
        rows = await self.pending()
        now = self.clock()
        dues = [max(aware(r.next_attempt_at) or now, aware(r.leased_until) or now)
                for r in rows]
        if not dues:
            return poll
        return max(MIN_PAUSE_SECONDS, min(poll, (min(dues) - now).total_seconds()))

    async def run(self, poll: float) -> None:
        """Deliver for as long as the service runs; a new alert wakes it at once."""
        while True:
            self._wake.clear()
            try:
                await self.deliver_due()
                pause = await self._pause(poll)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pickup alert delivery failed; carrying on")
                pause = poll
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
            except TimeoutError:
                pass

    async def close(self) -> None:
        """Give back the leases still held (another process, or the next start, carries
        on at once) and close the HTTP session."""
        if self._held:
            try:
                async with self.db.sessions.begin() as session:
                    await session.execute(
                        update(PendingAlert).where(PendingAlert.id.in_(self._held))
                        .values(leased_until=None).execution_options(synchronize_session=False))
            except Exception:
                log.exception("pickup alerts: leases not released (they expire by themselves)")
            self._held.clear()
        if self._http is not None and self._own_http:
            await self._http.close()
        self._http = None
