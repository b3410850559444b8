"""Chats queued outside agent hours: told their place and wait when agents start, and the
4-minute clock runs from the start of agent hours (a pinned clock; Rasa is not running, so
messages for customers stay in the outbox, where the test reads them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from handoff.accounts import Accounts
from handoff.hours import hours_start, pickup_clock
from handoff.hub import Hub
from handoff.rasa_client import RasaClient
from handoff.service import HandoffService, ticket_json
from handoff.settings import HandoffSettings
from handoff.store import Database, Ticket, TicketStore, create_schema, open_database
from handoff.strings import Strings
from tests import factories
from tests.handoff.conftest import app_env

EVENING = datetime(2026, 11, 23, 20, 30, tzinfo=UTC)      # Monday 21:30 in Berlin: closed
OPENING = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)        # Tuesday 09:00 in Berlin
BACK = "2026-11-24T09:00+01:00"


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def make_service(db: Database, tmp_path: Path, clock: Clock) -> HandoffService:
    settings = HandoffSettings.from_env(app_env(tmp_path))
    return HandoffService(settings, TicketStore(db, 120), Accounts(db, 12),
                          RasaClient(settings.rasa_url, "token", timeout=2), Hub(), Strings(),
                          clock=clock)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = open_database(f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}")
    await create_schema(db)
    yield db
    await db.engine.dispose()


@pytest.fixture
async def service(database: Database,
                  tmp_path: Path) -> AsyncIterator[tuple[HandoffService, Clock]]:
    clock = Clock(EVENING)
    svc = make_service(database, tmp_path, clock)
    yield svc, clock
    await svc.close()


def escalation(conversation: str, at: datetime, outside: bool = True,
               language: str = "en") -> dict[str, Any]:
    return factories.escalation(
        conversation, at=at, channel="widget", language=language, detail="", transcript=[],
        outside_hours=outside, agents_back_at=BACK if outside else None,
        agents_back_text="tomorrow at 09:00" if outside else None)


async def told(svc: HandoffService, ticket: Ticket) -> list[str]:
    return [m.text for m in await svc.store.messages(ticket.id) if m.to_customer]


async def test_agents_starting_tell_every_waiting_customer_and_start_the_clock(
        service: tuple[HandoffService, Clock]) -> None:
    svc, clock = service
    first, _ = await svc.receive(escalation("night-1", clock()))
    clock.moment = EVENING + timedelta(hours=2)
    second, _ = await svc.receive(escalation("night-2", clock(), language="ru"))
    # Overnight: no queue position, no clock, no alert.
    assert await told(svc, first) == [] and await told(svc, second) == []
    assert (await svc.status_of("night-1"))["state"] == "outside_hours"
    clock.moment = OPENING - timedelta(seconds=1)
    assert await svc.check_pickup() == 0
    assert await told(svc, first) == []

    clock.moment = OPENING + timedelta(seconds=3)
    assert await svc.check_pickup() == 0
    assert await told(svc, first) == [
        "Our agents are back. You're number 1 in the queue for a person. Expected wait: "
        "about 2 min. To go back to the assistant, type \"cancel\"."]
    [russian] = await told(svc, second)
    assert russian.startswith("Сотрудники снова на связи. Вы 2-й в очереди") and "4 мин" in russian
    status = await svc.status_of("night-2")
    assert (status["state"], status["position"], status["minutes"]) == ("queued", 2, 4)
    # Told once: the next round says nothing new.
    await svc.check_pickup()
    assert len(await told(svc, first)) == 1
    # A chat escalated in agent hours queues behind them, as usual.
    clock.moment = OPENING + timedelta(minutes=1)
    morning, _ = await svc.receive(escalation("morning", clock(), outside=False))
    assert (await told(svc, morning))[0].startswith("You're number 3 in the queue")

    # The 4-minute clock runs from 09:00, not from last night.
    clock.moment = OPENING + timedelta(seconds=239)
    assert await svc.check_pickup() == 0
    late = await svc.store.get(first.id)
    assert late is not None and pickup_clock(late) == OPENING
    assert not ticket_json(late, {}, 1, clock())["over_target"]
    clock.moment = OPENING + timedelta(seconds=240)
    assert await svc.check_pickup() == 2
    alerted = {t.id: t.alerted_at is not None for t in await svc.store.queued()}
    assert alerted == {first.id: True, second.id: True, morning.id: False}
    late = await svc.store.get(first.id)
    assert late is not None and ticket_json(late, {}, 1, clock())["over_target"]


async def test_a_service_that_was_down_at_opening_catches_up(
        service: tuple[HandoffService, Clock]) -> None:
    svc, clock = service
    ticket, _ = await svc.receive(escalation("night", clock()))
    clock.moment = OPENING + timedelta(minutes=30)   # the first check after a restart
    assert await svc.check_pickup() == 1             # 30 min in agent hours: past target
    [told_place] = await told(svc, ticket)
    assert "number 1 in the queue" in told_place
    notes = [m.text for m in await svc.store.messages(ticket.id) if m.kind == "system"]
    assert any("pickup clock runs from 2026-11-24T08:00:00+00:00" in n for n in notes)


async def test_two_processes_tell_each_customer_once(database: Database, tmp_path: Path) -> None:
    clock = Clock(EVENING)
    one, two = make_service(database, tmp_path, clock), make_service(database, tmp_path, clock)
    try:
        tickets = [(await one.receive(escalation(f"n{n}", clock())))[0] for n in range(4)]
        clock.moment = OPENING + timedelta(seconds=5)
        started = await asyncio.gather(one.start_of_hours(), two.start_of_hours())
        assert sum(started) == 4
        for ticket in tickets:
            assert len(await told(one, ticket)) == 1
    finally:
        await one.close()
        await two.close()


def test_without_a_known_opening_hours_start_when_an_agent_is_online() -> None:
    ticket = Ticket(outside_hours=True, agents_back_at=None, hours_started_at=None,
                    created_at=EVENING)
    assert hours_start(ticket, OPENING, agents_online=False) is None
    assert hours_start(ticket, OPENING, agents_online=True) == OPENING
    ticket.agents_back_at = OPENING
    assert hours_start(ticket, OPENING - timedelta(seconds=1), agents_online=True) is None
    assert hours_start(ticket, OPENING + timedelta(hours=1), agents_online=False) == OPENING
