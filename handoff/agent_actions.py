"""What an agent does with a chat: claim it, reply, write a note, transfer it, put it back
in the queue, resolve it and hand it back to the assistant."""

from __future__ import annotations

from contract import metrics_tables as mt
from handoff.accounts import Accounts
from handoff.outbound import Outbound
from handoff.prom import HandoffMetrics
from handoff.queue import Queue, TicketRecord
from handoff.store import Agent, ClaimError, Message, Ticket, TicketStore, aware, utcnow
from handoff.strings import Strings


class ActionError(Exception):
    """An agent action that cannot be done now; the message is for the agent."""


CHANGED = "The chat changed meanwhile; refresh and try again."


class AgentActions:
    def __init__(self, store: TicketStore, accounts: Accounts, strings: Strings,
                 outbound: Outbound, queue: Queue, record: TicketRecord) -> None:
        self.store = store
        self.accounts = accounts
        self.strings = strings
        self.outbound = outbound
        self.queue = queue
        self.record = record
        self.prom: HandoffMetrics | None = None

    async def claim(self, ticket_id: int, agent: Agent) -> Ticket:
        try:
            ticket = await self.store.claim(ticket_id, agent, utcnow())
        except ClaimError as exc:
            raise ActionError(str(exc)) from exc
        await self.outbound.system(ticket, f"{agent.display_name} took the chat.")
        claimed_at = aware(ticket.claimed_at) or utcnow()
        if self.prom is not None and ticket.first_claimed_at == ticket.claimed_at:
            self.prom.claimed((claimed_at - (aware(ticket.created_at) or utcnow()))
                              .total_seconds())
        await self.record(ticket, f"claimed:{claimed_at.timestamp()}", mt.CLAIMED,
                          ticket.claimed_at, agent=agent.display_name)
        await self.outbound.to_customer(ticket, "system", self.strings.text(
            ticket.language, "agent_joined", agent=agent.display_name),
            status={"state": "with_agent", "agent_name": agent.display_name})
        await self.queue.changed()
        return ticket

    async def _mine(self, ticket_id: int, agent: Agent) -> Ticket:
        ticket = await self.store.get(ticket_id)
        if ticket is None:
            raise ActionError("This chat does not exist.")
        if ticket.status != "assigned" or ticket.agent_id != agent.id:
            raise ActionError("This chat is not assigned to you: claim it first.")
        return ticket

    async def reply(self, ticket_id: int, agent: Agent, body: str) -> Message:
        ticket = await self._mine(ticket_id, agent)
        message = await self.outbound.to_customer(ticket, "agent", body,
                                                  author=agent.display_name)
        await self.record(ticket, f"message:{message.id}", mt.AGENT_MESSAGE,
                          message.created_at, agent=agent.display_name)
        return message

    async def note(self, ticket_id: int, agent: Agent, body: str) -> Message:
        ticket = await self.store.get(ticket_id)
        if ticket is None:
            raise ActionError("This chat does not exist.")
        message = await self.store.add_message(ticket.id, "note", body,
                                               author=agent.display_name)
        assert message is not None
        await self.outbound.announce(message)
        return message

    async def transfer(self, ticket_id: int, agent: Agent, target_id: int) -> Ticket:
        ticket = await self._mine(ticket_id, agent)
        target = await self.accounts.get(target_id)
        if target is None or not target.active:
            raise ActionError("No such agent.")
        if target.id == agent.id:
            raise ActionError("The chat is already yours.")
        if (await self.store.active_chats()).get(target.id, 0) >= target.max_chats:
            raise ActionError(f"{target.display_name} already has {target.max_chats} chats.")
        moved = await self.store.transfer(ticket.id, agent.id, target, utcnow())
        if moved is None:
            raise ActionError(CHANGED)
        await self.outbound.system(moved, f"{agent.display_name} transferred the chat to "
                                          f"{target.display_name}.")
        await self.outbound.to_customer(moved, "system", self.strings.text(
            moved.language, "transferred", agent=target.display_name),
            status={"state": "with_agent", "agent_name": target.display_name})
        await self.queue.changed()
        return moved

    async def release(self, ticket_id: int, agent: Agent) -> Ticket:
        ticket = await self._mine(ticket_id, agent)
        released = await self.store.release(ticket.id, agent.id)
        if released is None:
            raise ActionError(CHANGED)
        await self.outbound.system(released,
                                   f"{agent.display_name} put the chat back in the queue.")
        await self.outbound.to_customer(released, "system",
                                        self.strings.text(released.language, "released"),
                                        status={"state": "queued"})
        await self.queue.changed()
        return released

    async def resolve(self, ticket_id: int, agent: Agent) -> Ticket:
        ticket = await self._mine(ticket_id, agent)
        resolved = await self.store.resolve(ticket.id, agent.id, utcnow())
        if resolved is None:
            raise ActionError(CHANGED)
        await self.outbound.system(resolved, f"{agent.display_name} resolved the chat and "
                                             "handed it back to the assistant.")
        await self.record(resolved, "resolved", mt.RESOLVED, resolved.resolved_at,
                          agent=agent.display_name)
        await self.outbound.to_customer(resolved, "system", self.strings.text(
            resolved.language, "handback", agent=agent.display_name), command="resume",
            status={"state": "assistant"})
        await self.queue.changed()
        return resolved
