"""The relay's inbound side over a real events table written as Rasa's SQL broker writes it.

Rasa itself is not running here (its URL points at a closed port): the transcript then
comes from the escalation payload, and messages for the customer wait, in order, until
Rasa is back. The end-to-end tests cover the same with the real servers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handoff.accounts import Accounts
from handoff.hub import Hub
from handoff.rasa_client import RasaClient
from handoff.service import HandoffService
from handoff.store import Database, TicketStore, create_schema, open_database
from handoff.strings import Strings
from tests.factories import EventsTable, escalation, handoff_settings


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[HandoffService, EventsTable]]:
    broker = EventsTable(tmp_path / "events.db")
    settings = handoff_settings(tmp_path)
    db: Database = open_database(settings.db_url)
    await create_schema(db)
    svc = HandoffService(settings, TicketStore(db, 120), Accounts(db, 12),
                         RasaClient(settings.rasa_url, "token", timeout=2), Hub(), Strings())
    await svc.feed_once()  # the first read places the cursor at the end of the table
    yield svc, broker
    await svc.close()
    await db.engine.dispose()


async def kinds_and_texts(svc: HandoffService, ticket_id: int) -> list[tuple[str, str]]:
    return [(m.kind, m.text) for m in await svc.store.messages(ticket_id)]


async def test_customer_messages_reach_the_ticket_in_order(
        service: tuple[HandoffService, EventsTable]) -> None:
    svc, broker = service
    ticket, created = await svc.receive(escalation("c1"))
    assert created
    broker.user("someone-else", "not in any queue")
    for text in ("first", "second", "<script>alert(1)</script>"):
        broker.user("c1", text)
    assert await svc.feed_once() == 4
    texts = [t for k, t in await kinds_and_texts(svc, ticket.id) if k == "customer"]
    assert texts == ["a person please", "first", "second", "<script>alert(1)</script>"]
    # A backfill of rows already read records nothing twice.
    before = len(await svc.store.messages(ticket.id))
    await svc.intake.backfill(ticket)
    assert len(await svc.store.messages(ticket.id)) == before
    assert await svc.feed_once() == 0
    # The customer was told their place; it waits for Rasa, which is down, and is kept.
    pending = await svc.store.undelivered()
    assert [m.text.split(".")[0] for m in pending] == ["You're number 1 in the queue for a person"]
    assert await svc.deliver_once() == 0
    [still] = await svc.store.undelivered()
    assert still.attempts == 1 and "append events" in (still.last_error or "")


async def test_cancel_takes_the_customer_out_of_the_queue(
        service: tuple[HandoffService, EventsTable]) -> None:
    svc, broker = service
    ticket, _ = await svc.receive(escalation("c2"))
    broker.user("c2", "Cancel!")
    await svc.feed_once()
    left = await svc.store.get(ticket.id)
    assert left is not None and left.status == "abandoned"
    # The hand-back resumes the assistant for them.
    resume = [m for m in await svc.store.undelivered() if m.command]
    assert [m.command for m in resume] == ["resume"]
    assert "back with the assistant" in resume[0].text


async def test_outside_hours_an_email_address_is_kept_for_the_agents(
        service: tuple[HandoffService, EventsTable]) -> None:
    svc, broker = service
    ticket, _ = await svc.receive(escalation(
        "c3", outside_hours=True, agents_back_text="Monday, 09:00", language="ru"))
    broker.user("c3", "пишите на ivan.petrov@example.ru, пожалуйста")
    await svc.feed_once()
    kept = await svc.store.get(ticket.id)
    assert kept is not None and kept.customer_email == "ivan.petrov@example.ru"
    # Outside hours nobody is told a queue position, but the e-mail is confirmed, in Russian.
    texts = [m.text for m in await svc.store.undelivered()]
    assert texts == ["Спасибо! Мы ответим на ivan.petrov@example.ru в течение 24 часов. "
                     "Вы также можете подождать здесь."]


async def test_queue_positions_are_told_when_they_change(
        service: tuple[HandoffService, EventsTable]) -> None:
    svc, _ = service
    agent = await svc.accounts.add("anna", "Anna", "a long enough password", 3)
    first, _ = await svc.receive(escalation("q1"))
    second, _ = await svc.receive(escalation("q2"))
    await svc.claim(first.id, agent)
    told = [(m.ticket_id, m.text) for m in await svc.store.undelivered()]
    assert (second.id, told[1][1]) in told and "number 2" in told[1][1]
    assert any(t == second.id and "You're next" in text for t, text in told)
    assert any(t == first.id and "Anna from our support team" in text for t, text in told)


async def test_a_restarted_conversation_means_the_customer_left(
        service: tuple[HandoffService, EventsTable]) -> None:
    svc, broker = service
    ticket, _ = await svc.receive(escalation("c4"))
    broker.publish("c4", {"event": "restart", "timestamp": time.time()})
    await svc.feed_once()
    gone = await svc.store.get(ticket.id)
    assert gone is not None and gone.status == "abandoned" and gone.customer_left_at


async def test_a_waiting_customer_asking_where_they_stand_is_told(
        service: tuple[HandoffService, EventsTable]) -> None:
    svc, broker = service
    ticket, _ = await svc.receive(escalation("s1"))
    broker.user("s1", "what's happening with my request?", intent="request_status")
    await svc.feed_once()
    status = await svc.status_of("s1")
    assert (status["state"], status["position"]) == ("queued", 1)
    said = [text for kind, text in await kinds_and_texts(svc, ticket.id) if kind == "system"]
    assert "you're number 1, expected wait about 2 min" in said[-1]
    assert (await svc.status_of("nobody"))["state"] == "none"


async def test_the_pickup_alert_is_raised_once_and_only_in_agent_hours(
        service: tuple[HandoffService, EventsTable]) -> None:
    svc, _ = service
    late, _ = await svc.receive(escalation("p1"))
    night, _ = await svc.receive(escalation("p2", escalation_id="esc-p2", outside_hours=True,
                                            agents_back_text="Monday 09:00"))
    fresh, _ = await svc.receive(escalation("p3"))
    long_ago = datetime.now(UTC) - timedelta(seconds=svc.settings.pickup_target_seconds + 5)
    for ticket in (late, night):
        await svc.store.update_fields(ticket.id, created_at=long_ago)
    assert await svc.check_pickup() == 1
    assert await svc.check_pickup() == 0  # once per ticket
    alerted = {t.id: t.alerted_at is not None for t in await svc.store.queued()}
    assert alerted == {late.id: True, night.id: False, fresh.id: False}
