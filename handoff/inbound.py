"""Inbound (customer -> agent) and intake.

While a person has the chat, Rasa records the customer's messages without answering (the
conversation is paused). Rasa's SQL event broker writes every event to the ``events``
table; the feed here reads it in id order from a stored cursor, so messages arrive in
order, and none is lost while this service is down: it carries on from the cursor when it
comes back. Intake turns an escalation into a ticket with the transcript so far.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from contract import metrics_tables as mt
from contract.payload import customer_text
from contract.session_marker import continues_handoff
from handoff.hub import Hub
from handoff.outbound import Outbound
from handoff.prom import HandoffMetrics
from handoff.queue import Queue, TicketRecord
from handoff.rasa_client import RasaClient, RasaError
from handoff.store import OPEN, REASON_TEXT, Message, Ticket, TicketStore
from handoff.strings import Strings
from metrics.rasa_events import RasaEventTable
from metrics.records import settled

log = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
CANCEL_WORDS = frozenset({"cancel", "stop waiting", "never mind", "nevermind", "отмена",
                          "отменить", "отмена ожидания", "скасувати", "скасування"})
CANCEL_INTENTS = frozenset({"stop"})
STATUS_INTENTS = frozenset({"request_status"})
STATUS_CONFIDENCE = 0.6
MAX_TEXT_CHARS = 4000
EMAIL_ANSWER_HOURS = 24
BACKFILL_ROWS = 300
FEED_BATCH = 500  # events read per pass of the relay


def _moment(timestamp: float | None) -> datetime:
    return datetime.fromtimestamp(timestamp or 0, UTC)


def _asks_status(event: dict[str, Any]) -> bool:
    """"What's happening with my request?" while waiting for (or talking to) a person."""
    intent = ((event.get("parse_data") or {}).get("intent") or {})
    return (intent.get("name") in STATUS_INTENTS
            and float(intent.get("confidence") or 0) >= STATUS_CONFIDENCE)


def _is_cancel(event: dict[str, Any]) -> bool:
    intent = ((event.get("parse_data") or {}).get("intent") or {})
    words = re.sub(r"[^\w\s]", " ", str(event.get("text") or "").lower()).split()
    return (" ".join(words) in CANCEL_WORDS
            or (intent.get("name") in CANCEL_INTENTS
                and float(intent.get("confidence") or 0) >= 0.8))


class Feed:
    """Rasa's events, in order, into the open tickets' transcripts."""

    def __init__(self, store: TicketStore, events: RasaEventTable, hub: Hub,
                 strings: Strings, outbound: Outbound, queue: Queue) -> None:
        self.store = store
        self.events = events
        self.hub = hub
        self.strings = strings
        self.outbound = outbound
        self.queue = queue
        # Held by the feed and while a new ticket's transcript loads, so the feed never
        # applies events to a ticket whose synced_ts is not set yet.
        self.lock = asyncio.Lock()

    async def once(self) -> int:
        async with self.lock:
            return await self._once()

    async def _once(self) -> int:
        cursor = await self.store.cursor()
        if cursor == 0:
            # First start: begin at the end; older conversations are not ours.
            start = await self.events.last_id()
            if start is not None:
                await self.store.set_cursor(start or -1)
            return 0
        read = await self.events.after(max(cursor, 0), FEED_BATCH)
        if read is None:
            return 0
        rows = settled(read, max(cursor, 0), time.time())
        if not rows:
            return 0
        open_tickets = await self.store.open_conversations()
        for _row_id, sender, data in rows:
            ticket_id = open_tickets.get(sender)
            if ticket_id is not None:
                ticket = await self.store.get(ticket_id)
                if ticket is not None and ticket.status in OPEN:
                    await self.apply(ticket, json.loads(data))
        # Once per batch, not per event: a batch read again after a crash records nothing
        # twice (messages are keyed by their event time; the rest is idempotent).
        await self.store.set_cursor(int(rows[-1][0]))
        return len(rows)

    async def record(self, ticket: Ticket, event: dict[str, Any],
                     backfill: bool = False) -> Message | None:
        kind = event.get("event")
        ts = float(event.get("timestamp") or 0)
        if kind == "user" and (event.get("metadata") or {}).get("is_external"):
            return None  # the product asking itself (the survey), not the customer
        if kind == "user":
            return await self.store.add_message(ticket.id, "customer",
                                                customer_text(event)[:MAX_TEXT_CHARS],
                                                at=_moment(ts), event_ts=ts)
        if kind == "bot" and event.get("text"):
            meta = event.get("metadata") or {}
            if meta.get("handoff_message_id") and not backfill:
                return None  # ours, recorded when the agent wrote it
            role = meta.get("from")
            kind_name = role if role in ("agent", "system") else "assistant"
            return await self.store.add_message(ticket.id, kind_name, str(event["text"]),
                                                author=meta.get("agent_name"), at=_moment(ts),
                                                event_ts=ts)
        return None

    async def apply(self, ticket: Ticket, event: dict[str, Any]) -> None:
        ts = float(event.get("timestamp") or 0)
        if ts <= ticket.synced_ts:
            return
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "sentiment_trail":
            await self.store.update_fields(ticket.id, sentiment_json=json.dumps(
                event.get("value") or [], ensure_ascii=False))
            await self.hub.broadcast({"type": "ticket", "ticket_id": ticket.id})
            return
        if kind == "session_started" and continues_handoff(event):
            # A new Rasa session after a quiet spell, kept paused for this ticket
            # (actions/session.py): the chat stays with its agent or in the queue.
            log.info("ticket %d: new session for %s, kept with the ticket", ticket.id,
                     ticket.conversation_id)
            return
        if kind in ("restart", "session_started"):
            await self.queue.customer_left(ticket, "The customer restarted the conversation.")
            return
        message = await self.record(ticket, event)
        if message is None:
            return
        await self.outbound.announce(message)
        if kind != "user":
            return
        await self.store.update_fields(ticket.id, last_customer_at=_moment(ts),
                                       last_customer_text=message.text[:500])
        if ticket.status == "queued" and _is_cancel(event):
            await self.queue.customer_left(ticket, "The customer cancelled the wait.",
                                           say="cancelled")
            return
        if _asks_status(event):
            await self.queue.tell_status(ticket)
        email = EMAIL_RE.search(message.text)
        if ticket.outside_hours and email and not ticket.customer_email:
            await self.store.update_fields(ticket.id, customer_email=email.group(0))
            ticket.customer_email = email.group(0)
            await self.outbound.to_customer(ticket, "system", self.strings.text(
                ticket.language, "email_saved", email=email.group(0), hours=EMAIL_ANSWER_HOURS))
        await self.hub.broadcast({"type": "queue"})


class Intake:
    """An escalation becomes a ticket (once per request), with the transcript so far."""

    def __init__(self, store: TicketStore, rasa: RasaClient, feed: Feed, outbound: Outbound,
                 queue: Queue, record: TicketRecord, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.rasa = rasa
        self.feed = feed
        self.outbound = outbound
        self.queue = queue
        self.record = record
        self.clock = clock
        self.prom: HandoffMetrics | None = None

    async def receive(self, payload: dict[str, Any]) -> tuple[Ticket, bool]:
        async with self.feed.lock:
            ticket, created = await self.store.create(payload, self.clock())
            if not created:
                return ticket, False
            log.info("ticket %d: %s escalated (%s)", ticket.id, ticket.conversation_id,
                     ticket.reason)
            await self._load_transcript(ticket, payload)
        await self.outbound.system(
            ticket, f"Escalated: {ticket.detail or REASON_TEXT.get(ticket.reason)}")
        if self.prom is not None:
            self.prom.escalated(ticket.reason)
        await self.record(ticket, "escalated", mt.ESCALATED, ticket.created_at,
                          reason=ticket.reason, value=0.0 if ticket.outside_hours else 1.0)
        await self.queue.changed()
        return ticket, True

    async def _load_transcript(self, ticket: Ticket, payload: dict[str, Any]) -> None:
        """The conversation so far, from Rasa's tracker (the record), else the payload."""
        synced = 0.0
        try:
            tracker = await self.rasa.tracker(ticket.conversation_id)
            for event in tracker.get("events") or []:
                await self.feed.record(ticket, event, backfill=True)
                synced = max(synced, float(event.get("timestamp") or 0))
        except RasaError as exc:
            log.warning("ticket %d: transcript from the escalation payload (%s)", ticket.id,
                        exc)
            for entry in payload.get("transcript") or []:
                kind = {"customer": "customer", "agent": "agent"}.get(entry.get("role"),
                                                                      "assistant")
                at = datetime.fromisoformat(str(entry.get("at")))
                await self.store.add_message(ticket.id, kind, str(entry.get("text", "")),
                                             author=entry.get("author"), at=at)
            synced = datetime.fromisoformat(str(payload["created_at"])).timestamp()
        ticket.synced_ts = synced
        await self.store.update_fields(ticket.id, synced_ts=synced)
        # Events published between the tracker read and now come through the feed; rows
        # the feed already passed over before this ticket existed are read here.
        await self.backfill(ticket)

    async def backfill(self, ticket: Ticket) -> None:
        rows = await self.feed.events.latest_of(ticket.conversation_id, BACKFILL_ROWS)
        for _row_id, data in rows or []:
            await self.feed.apply(ticket, json.loads(data))
