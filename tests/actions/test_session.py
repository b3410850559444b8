"""The session start: Rasa's (slots carried over, then listening), and a chat that a person
owns or that waits for one stays paused in the new session, unless its ticket was closed
meanwhile. The handoff service is a real signed HTTP server here, as in test_status.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff_status import HandoffStatusClient
from actions.runtime import Runtime
from actions.session import ActionSessionStart, carried_slots, previous_session
from actions.survey import escalation_reason, human_involved, session_of
from contract.payload import Escalation
from contract.session_marker import continues_handoff
from tests.factories import status_webhook

DOMAIN = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())
SECRET = "session-test-secret"  # noqa: S105 - a test server's own secret
STATES: dict[str, dict[str, Any]] = {
    "c-queued": {"state": "queued", "position": 1, "minutes": 3},
    "c-agent": {"state": "with_agent", "agent_name": "Anna"},
    "c-night": {"state": "outside_hours", "agents_back_text": "Monday at 09:00"},
    "c-closed": {"state": "none"},
    "c-in-outbox": {"state": "none"},
}
T0 = 1795000000.0


@pytest.fixture
async def asked() -> AsyncIterator[tuple[str, list[str]]]:
    """The handoff service's /webhooks/status as a test server; records who was asked."""
    seen: list[str] = []
    async with status_webhook(SECRET, STATES, seen) as url:
        yield url, seen


@pytest.fixture
async def rt(runtime: Runtime, asked: tuple[str, list[str]]) -> AsyncIterator[Runtime]:
    await runtime.require_handoff_status().close()
    runtime.handoff_status = HandoffStatusClient(asked[0], SECRET)
    yield runtime


def handed_over(paused: bool = True) -> list[dict[str, Any]]:
    """A first session: a question, the handoff (its slots and pause), a message relayed."""
    events: list[dict[str, Any]] = [
        {"event": "action", "name": "action_session_start", "timestamp": T0},
        {"event": "session_started", "timestamp": T0},
        {"event": "action", "name": "action_listen", "timestamp": T0},
        {"event": "user", "text": "I want a person", "timestamp": T0 + 1,
         "parse_data": {"intent": {"name": "request_human", "confidence": 0.98}}},
        {"event": "slot", "name": "language", "value": "uk", "timestamp": T0 + 1.5},
        {"event": "slot", "name": "verified_order_id", "value": "ORB-104217",
         "timestamp": T0 + 1.6, "metadata": {"source": "form"}},
        {"event": "action", "name": "action_human_handoff", "timestamp": T0 + 2},
        {"event": "slot", "name": "escalation_reason", "value": None, "timestamp": T0 + 2},
        {"event": "pause", "timestamp": T0 + 2},
        {"event": "action", "name": "action_listen", "timestamp": T0 + 2},
        {"event": "bot", "text": "Anna joined", "timestamp": T0 + 30,
         "metadata": {"from": "system", "handoff_message_id": 1}},
    ]
    if not paused:
        events += [{"event": "resume", "timestamp": T0 + 60},
                   {"event": "bot", "text": "Back to the assistant", "timestamp": T0 + 60,
                    "metadata": {"from": "system", "handoff_message_id": 2}},
                   {"event": "action", "name": "action_listen", "timestamp": T0 + 60}]
    return events


def tracker(sender: str, events: list[dict[str, Any]], paused: bool) -> Tracker:
    slots = {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}
    return Tracker(sender_id=sender, slots=slots, latest_message={}, events=events,
                   paused=paused, followup_action=None, active_loop={},
                   latest_action_name="action_listen")


async def start(track: Tracker, domain: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await ActionSessionStart().run(dispatcher, track, domain or {})
    assert dispatcher.messages == []  # a session start says nothing
    return events


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in events]


async def test_a_new_conversation_starts_as_rasas_does(rt: Runtime,
                                                       asked: tuple[str, list[str]]) -> None:
    events = await start(tracker("c-new", [], paused=False))
    assert kinds(events) == ["session_started", "action"]
    assert events[-1]["name"] == "action_listen"
    assert not continues_handoff(events[0]) and "metadata" not in events[0]
    assert asked[1] == []  # nothing paused: the handoff service is not asked


@pytest.mark.parametrize("sender", ["c-queued", "c-agent", "c-night"])
async def test_a_chat_queued_or_with_an_agent_stays_paused(
        rt: Runtime, asked: tuple[str, list[str]], sender: str) -> None:
    events = await start(tracker(sender, handed_over(), paused=True))
    assert kinds(events) == ["session_started", "slot", "slot", "slot", "pause", "action"]
    assert continues_handoff(events[0])
    assert [(e["name"], e["value"]) for e in events[1:4]] == [
        ("language", "uk"), ("verified_order_id", "ORB-104217"), ("escalation_reason", None)]
    assert events[2]["metadata"] == {"source": "form"}  # carried with its metadata
    assert events[-1]["name"] == "action_listen"
    assert asked[1] == [sender]


async def test_a_ticket_closed_while_the_customer_was_away_unpauses(
        rt: Runtime, asked: tuple[str, list[str]]) -> None:
    """The service closed the ticket but its hand-back has not reached Rasa yet."""
    events = await start(tracker("c-closed", handed_over(), paused=True))
    assert kinds(events) == ["session_started", "slot", "slot", "slot", "action"]
    assert not continues_handoff(events[0])
    assert asked[1] == ["c-closed"]


async def test_an_escalation_still_in_the_outbox_keeps_the_pause(
        rt: Runtime, asked: tuple[str, list[str]]) -> None:
    """The service has no ticket yet because the escalation has not reached it."""
    escalation: Escalation = {
        "escalation_id": rt.require_outbox().new_id(), "conversation_id": "c-in-outbox",
        "channel": "rest", "language": "uk", "reason": "customer_request",
        "detail": "asked", "created_at": "2026-11-23T10:00:00+00:00",
        "outside_hours": False, "agents_back_at": None, "agents_back_text": None,
        "sentiment_trail": [], "order": None, "transcript": []}
    await rt.require_outbox().enqueue(escalation)
    events = await start(tracker("c-in-outbox", handed_over(), paused=True))
    assert continues_handoff(events[0]) and "pause" in kinds(events)


async def test_without_an_answer_from_the_service_the_chat_stays_with_the_person(
        runtime: Runtime) -> None:
    await runtime.require_handoff_status().close()
    runtime.handoff_status = HandoffStatusClient("http://127.0.0.1:9/webhooks/status", SECRET,
                                                 timeout=1.0)
    events = await start(tracker("c-closed", handed_over(), paused=True))
    assert continues_handoff(events[0]) and kinds(events)[-2:] == ["pause", "action"]


async def test_a_handed_back_chat_starts_unpaused(rt: Runtime,
                                                  asked: tuple[str, list[str]]) -> None:
    events = await start(tracker("c-agent", handed_over(paused=False), paused=False))
    assert "pause" not in kinds(events) and not continues_handoff(events[0])
    assert asked[1] == []


async def test_a_kept_session_is_kept_again_after_another_quiet_spell(
        rt: Runtime, asked: tuple[str, list[str]]) -> None:
    first = handed_over()
    kept = await start(tracker("c-agent", first, paused=True))
    later = [*first, *kept, {"event": "user", "text": "hello?", "timestamp": T0 + 4000}]
    again = await start(tracker("c-agent", later, paused=True))
    assert continues_handoff(again[0]) and kinds(again)[-2:] == ["pause", "action"]
    # The slots carried the first time are carried again, once each.
    assert [e["name"] for e in again if e["event"] == "slot"] == [
        "language", "verified_order_id", "escalation_reason"]


async def test_slots_are_not_carried_when_the_domain_says_so(rt: Runtime) -> None:
    domain = {"session_config": {"session_expiration_time": 60,
                                 "carry_over_slots_to_new_session": False}}
    events = await start(tracker("c-agent", handed_over(), paused=True), domain)
    assert kinds(events) == ["session_started", "pause", "action"]


def test_reverted_events_are_not_carried_over() -> None:
    events = [
        {"event": "session_started"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "hi"},
        {"event": "slot", "name": "language", "value": "ru"},
        {"event": "rewind"},
        {"event": "slot", "name": "language", "value": "en"},
        {"event": "action", "name": "utter_greet"},
        {"event": "slot", "name": "order_id", "value": "ORB-1"},
        {"event": "undo"},
    ]
    track = tracker("c-x", events, paused=False)
    assert [(e["name"], e["value"]) for e in carried_slots(previous_session(track))] == [
        ("language", "en")]


async def test_the_survey_reads_a_kept_session_as_the_one_it_continues(rt: Runtime) -> None:
    """After the hand-back the survey sees the escalation and the agent of the same chat."""
    first = handed_over()
    kept = await start(tracker("c-agent", first, paused=True))
    later = [*first, *kept,
             {"event": "user", "text": "hello?", "timestamp": T0 + 4000},
             {"event": "bot", "text": "Here you are", "timestamp": T0 + 4010,
              "metadata": {"from": "agent", "agent_name": "Anna"}}]
    started, events = session_of(tracker("c-agent", later, paused=True))
    assert started.timestamp() == T0
    assert escalation_reason(events) == "customer_request" and human_involved(events)
