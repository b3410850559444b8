"""A new Rasa session during a handoff, as the feed reads it from the events table: one kept
for the ticket (actions/session.py marks its ``session_started``) leaves the ticket with its
agent or in the queue; an unmarked one or a restart ends the wait, as before."""

from __future__ import annotations

import time

from contract.session_marker import kept_metadata
from handoff.service import HandoffService
from tests.factories import EventsTable, escalation
from tests.handoff.test_service import kinds_and_texts, service

__all__ = ["service"]  # the fixture, shared with test_service.py


def new_session(broker: EventsTable, sender: str, kept: bool) -> None:
    """What Rasa's broker writes for a session start: kept, or Rasa's own."""
    now = time.time()
    broker.publish(sender, {"event": "action", "name": "action_session_start",
                            "timestamp": now})
    start = {"event": "session_started", "timestamp": now}
    broker.publish(sender, {**start, "metadata": kept_metadata()} if kept else start)
    broker.publish(sender, {"event": "slot", "name": "language", "value": "en",
                            "timestamp": now})
    if kept:
        broker.publish(sender, {"event": "pause", "timestamp": now})
    broker.publish(sender, {"event": "action", "name": "action_listen", "timestamp": now})


async def test_a_kept_session_leaves_a_queued_ticket_queued(
        service: tuple[HandoffService, EventsTable]) -> None:
    svc, broker = service
    ticket, _ = await svc.receive(escalation("k1"))
    new_session(broker, "k1", kept=True)
    broker.user("k1", "still there?")
    await svc.feed_once()
    waiting = await svc.store.get(ticket.id)
    assert waiting is not None and waiting.status == "queued"
    assert ("customer", "still there?") in await kinds_and_texts(svc, ticket.id)
    assert (await svc.status_of("k1"))["state"] == "queued"


async def test_a_kept_session_leaves_the_chat_with_its_agent(
        service: tuple[HandoffService, EventsTable]) -> None:
    svc, broker = service
    agent = await svc.accounts.add("anna", "Anna", "a long enough password", 3)
    ticket, _ = await svc.receive(escalation("k2"))
    await svc.claim(ticket.id, agent)
    new_session(broker, "k2", kept=True)
    broker.user("k2", "I'm back, sorry")
    await svc.feed_once()
    owned = await svc.store.get(ticket.id)
    assert owned is not None and owned.status == "assigned" and owned.agent_id == agent.id
    assert ("customer", "I'm back, sorry") in await kinds_and_texts(svc, ticket.id)
    # The agent still answers and hands back as usual.
    await svc.reply(ticket.id, agent, "No problem, here is your answer")
    resolved = await svc.resolve(ticket.id, agent)
    assert resolved.status == "resolved"
    out = [(m.text, m.command) for m in await svc.store.undelivered()]
    assert ("No problem, here is your answer", None) in out
    assert out[-1][1] == "resume"


async def test_a_kept_session_leaves_an_off_hours_ticket_waiting(
        service: tuple[HandoffService, EventsTable]) -> None:
    svc, broker = service
    ticket, _ = await svc.receive(escalation(
        "k3", outside_hours=True, agents_back_at="2026-11-24T09:00+01:00",
        agents_back_text="tomorrow at 09:00"))
    new_session(broker, "k3", kept=True)
    broker.user("k3", "good morning")
    await svc.feed_once()
    waiting = await svc.store.get(ticket.id)
    assert waiting is not None and waiting.status == "queued" and waiting.outside_hours


async def test_an_unmarked_session_start_still_means_the_customer_left(
        service: tuple[HandoffService, EventsTable]) -> None:
    svc, broker = service
    ticket, _ = await svc.receive(escalation("k4"))
    new_session(broker, "k4", kept=False)
    await svc.feed_once()
    gone = await svc.store.get(ticket.id)
    assert gone is not None and gone.status == "abandoned"


async def test_a_restart_after_a_kept_session_ends_the_wait(
        service: tuple[HandoffService, EventsTable]) -> None:
    svc, broker = service
    ticket, _ = await svc.receive(escalation("k5"))
    new_session(broker, "k5", kept=True)
    broker.user("k5", "/restart", intent="restart", confidence=1.0)
    broker.publish("k5", {"event": "restart", "timestamp": time.time()})
    await svc.feed_once()
    gone = await svc.store.get(ticket.id)
    assert gone is not None and gone.status == "abandoned"
    said = [text for kind, text in await kinds_and_texts(svc, ticket.id) if kind == "system"]
    assert "The customer restarted the conversation." in said
