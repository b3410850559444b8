"""The queue: order by reason and waiting time, atomic claims, limits, transfer, release."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from handoff.accounts import Accounts
from handoff.store import ClaimError, TicketStore, create_schema, open_database
from tests import factories
from tests.handoff.conftest import make_agent

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def escalation(n: int, reason: str = "customer_request", **extra: Any) -> dict[str, Any]:
    return factories.escalation(
        f"conv-{n}", escalation_id=f"esc-{n}", at=T0, reason=reason, detail="",
        transcript=[{"role": "customer", "text": f"message {n}", "at": T0.isoformat()}], **extra)


async def test_a_retried_escalation_makes_one_ticket(store: TicketStore) -> None:
    first, created = await store.create(escalation(1), T0)
    again, created_again = await store.create(escalation(1), T0 + timedelta(seconds=5))
    assert created and not created_again
    assert again.id == first.id
    # A second escalation of a conversation that already waits joins the same ticket.
    other, created_other = await store.create({**escalation(1), "escalation_id": "esc-x"}, T0)
    assert other.id == first.id and not created_other
    assert len(await store.queued()) == 1


async def test_priority_by_reason_and_waiting_time(store: TicketStore) -> None:
    """Each priority level is worth two minutes of waiting (priority_step=120)."""
    await store.create(escalation(1, "customer_request"), T0)                       # key T0-120
    await store.create(escalation(2, "negative_sentiment"), T0 + timedelta(minutes=3))  # T0-180
    await store.create(escalation(3, "lost_parcel"), T0 + timedelta(minutes=1))     # T0-180
    await store.create(escalation(4, "customer_request"), T0 + timedelta(minutes=1))
    order = [t.conversation_id for t in await store.queued()]
    # The angry customer who came 3 min later goes ahead of a plain request; among equal
    # keys the earlier ticket goes first; a plain request a minute later goes last.
    assert order == ["conv-2", "conv-3", "conv-1", "conv-4"]


async def test_two_agents_claim_at_once_exactly_one_wins(store: TicketStore,
                                                         accounts: Accounts) -> None:
    anna, boris = await make_agent(accounts, "anna"), await make_agent(accounts, "boris")
    for n in range(10):
        ticket, _ = await store.create(escalation(n), T0)
        results = await asyncio.gather(store.claim(ticket.id, anna, T0),
                                       store.claim(ticket.id, boris, T0),
                                       return_exceptions=True)
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, ClaimError)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert "Already taken by" in str(losers[0])
        won = await store.get(ticket.id)
        assert won is not None and won.status == "assigned"
        await store.resolve(ticket.id, won.agent_id, T0)


async def test_one_agent_never_goes_over_the_limit(store: TicketStore,
                                                   accounts: Accounts) -> None:
    anna = await make_agent(accounts, "anna", max_chats=2)
    tickets = [(await store.create(escalation(n), T0))[0] for n in range(5)]
    results = await asyncio.gather(*(store.claim(t.id, anna, T0) for t in tickets),
                                   return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 2
    refusals = [str(r) for r in results if isinstance(r, ClaimError)]
    assert refusals and all("your limit" in r for r in refusals)
    assert (await store.active_chats()) == {anna.id: 2}


async def test_release_gives_the_old_place_back_and_transfer_moves_it(
        store: TicketStore, accounts: Accounts) -> None:
    anna, boris = await make_agent(accounts, "anna"), await make_agent(accounts, "boris")
    first, _ = await store.create(escalation(1), T0)
    await store.create(escalation(2), T0 + timedelta(minutes=1))
    await store.claim(first.id, anna, T0 + timedelta(minutes=2))
    assert [t.conversation_id for t in await store.queued()] == ["conv-2"]
    # Only the holder can transfer or release.
    assert await store.release(first.id, boris.id) is None
    moved = await store.transfer(first.id, anna.id, boris, T0 + timedelta(minutes=3))
    assert moved is not None and moved.agent_id == boris.id
    released = await store.release(first.id, boris.id)
    assert released is not None and released.status == "queued" and released.agent_id is None
    assert [t.conversation_id for t in await store.queued()] == ["conv-1", "conv-2"]
    with pytest.raises(ClaimError, match="does not exist"):
        await store.claim(999, anna, T0)


async def test_a_customer_who_leaves_the_queue_is_abandoned(store: TicketStore,
                                                            accounts: Accounts) -> None:
    anna = await make_agent(accounts, "anna")
    waiting, _ = await store.create(escalation(1), T0)
    served, _ = await store.create(escalation(2), T0)
    await store.claim(served.id, anna, T0)
    gone = await store.customer_left(waiting.id, T0 + timedelta(minutes=5))
    assert gone is not None and gone.status == "abandoned" and gone.customer_left_at
    # With an agent the chat stays theirs, marked, until they resolve it.
    left = await store.customer_left(served.id, T0 + timedelta(minutes=5))
    assert left is not None and left.status == "assigned" and left.customer_left_at
    resolved = await store.resolve(served.id, anna.id, T0 + timedelta(minutes=6))
    assert resolved is not None and resolved.status == "resolved"
    assert await store.open_conversations() == {}


async def test_pickup_times_feed_the_expected_wait(store: TicketStore,
                                                   accounts: Accounts) -> None:
    anna = await make_agent(accounts, "anna")
    ticket, _ = await store.create(escalation(1), T0)
    await store.claim(ticket.id, anna, T0 + timedelta(seconds=90))
    assert await store.recent_pickup_seconds() == [90.0]


async def test_a_message_keeps_the_status_it_tells_the_customer(store: TicketStore) -> None:
    ticket, _ = await store.create(escalation(7), T0)
    status = {"state": "queued", "position": 2, "minutes": 4}
    message = await store.add_message(ticket.id, "system", "You're number 2",
                                      to_customer=True, status=status)
    plain = await store.add_message(ticket.id, "agent", "Hello", author="Anna", to_customer=True)
    assert message is not None and plain is not None
    stored = {m.id: m for m in await store.messages(ticket.id)}
    assert json.loads(stored[message.id].status_json or "null") == status
    assert stored[plain.id].status_json is None


async def test_an_older_database_gets_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the messages table as issue 4 shipped it
        conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, ticket_id INTEGER, "
                     "kind VARCHAR(16), author VARCHAR(120), text TEXT, created_at DATETIME, "
                     "event_ts FLOAT, to_customer BOOLEAN, command VARCHAR(16), "
                     "delivered_at DATETIME, attempts INTEGER, next_attempt_at DATETIME, "
                     "last_error TEXT)")
        conn.execute("INSERT INTO messages (ticket_id, kind, text) VALUES (1, 'agent', 'kept')")
    database = open_database(f"sqlite+aiosqlite:///{path}")
    await create_schema(database)
    await create_schema(database)  # and again: nothing left to add
    await database.engine.dispose()
    with sqlite3.connect(path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
        kept = conn.execute("SELECT text, status_json FROM messages").fetchall()
    assert "status_json" in columns
    assert kept == [("kept", None)]
