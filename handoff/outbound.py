"""Outbound (agent -> customer): messages for the customer are stored first, then the
delivery loop appends them to the conversation over Rasa's HTTP API in order, with
retries. The hand-back is the last such message: it resumes the conversation in the same
request. Every message, to the customer or not, is shown on the consoles at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from handoff.hub import Hub
from handoff.rasa_client import RasaClient, RasaError
from handoff.store import Message, Ticket, TicketStore, aware, utcnow
from handoff.views import message_json

log = logging.getLogger(__name__)

DELIVERY_RETRY_MAX_SECONDS = 30.0


class Outbound:
    def __init__(self, store: TicketStore, hub: Hub, rasa: RasaClient,
                 after_handback: Callable[[Ticket], Awaitable[None]]) -> None:
        self.store = store
        self.hub = hub
        self.rasa = rasa
        self.after_handback = after_handback  # a resolved chat was handed back (the survey)
        self.due = asyncio.Event()  # set when there is something to deliver

    async def system(self, ticket: Ticket, body: str) -> None:
        """A line for the agents only (the ticket's history)."""
        message = await self.store.add_message(ticket.id, "system", body)
        if message is not None:
            await self.announce(message)

    async def to_customer(self, ticket: Ticket, kind: str, body: str,
                          author: str | None = None, command: str | None = None,
                          status: dict[str, Any] | None = None) -> Message:
        message = await self.store.add_message(ticket.id, kind, body, author=author,
                                               to_customer=True, command=command,
                                               status=status)
        assert message is not None
        await self.announce(message)
        self.due.set()
        return message

    async def announce(self, message: Message) -> None:
        await self.hub.broadcast({"type": "message", "ticket_id": message.ticket_id,
                                  "message": message_json(message)})

    @staticmethod
    def events_for(message: Message) -> list[dict[str, Any]]:
        """The Rasa events that carry ``message`` into the conversation."""
        meta = {"from": "agent" if message.kind == "agent" else "system",
                "agent_name": message.author, "handoff_message_id": message.id}
        if message.status_json:
            meta["status"] = json.loads(message.status_json)
        bot = {"event": "bot", "text": message.text, "metadata": meta}
        if message.command != "resume":
            return [bot]
        # Resume cleanly: forget the escalation and the mood that led to it, say so, and
        # end on action_listen so the next customer message starts a fresh turn.
        return [{"event": "resume"},
                {"event": "slot", "name": "escalation_reason", "value": None},
                {"event": "slot", "name": "sentiment_trail", "value": []},
                {"event": "slot", "name": "unresolved_turns", "value": 0.0},
                bot,
                {"event": "action", "name": "action_listen"}]

    async def deliver_once(self) -> int:
        """Send what is due, oldest first; a conversation's later messages wait for its
        earlier ones, so they arrive in order."""
        now = utcnow()
        blocked: set[int] = set()
        sent = 0
        for message in await self.store.undelivered():
            if message.ticket_id in blocked:
                continue
            due = aware(message.next_attempt_at)
            if due is not None and due > now:
                blocked.add(message.ticket_id)
                continue
            ticket = await self.store.get(message.ticket_id)
            if ticket is None:
                continue
            try:
                await self.rasa.append(ticket.conversation_id, self.events_for(message),
                                       ticket.channel)
            except RasaError as exc:
                wait = min(DELIVERY_RETRY_MAX_SECONDS, 2.0 ** message.attempts)
                await self.store.mark_delivery(message.id, str(exc), now,
                                               now + timedelta(seconds=wait))
                log.warning("message %d to %s not delivered (%s); retry in %.0f s",
                            message.id, ticket.conversation_id, exc, wait)
                blocked.add(message.ticket_id)
                continue
            await self.store.mark_delivery(message.id, None, utcnow())
            message.delivered_at = utcnow()
            await self.announce(message)
            sent += 1
            if message.command == "resume" and ticket.status == "resolved":
                await self.after_handback(ticket)
        return sent
