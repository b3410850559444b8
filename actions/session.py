"""A new conversation session that keeps a person's chat with the person.

Rasa starts a new session after ``session_expiration_time`` of customer silence (domain.yml,
or ``SESSION_EXPIRATION_MINUTES``: rasa_plugins/model_loading.py). Its ``SessionStarted`` resets the
tracker, which also un-pauses it: with Rasa's own ``action_session_start`` the assistant
would answer a customer whose chat an agent owns (or who is queued for one), and the
handoff service would read the new session as "the customer restarted" and close the
ticket.

This action does what Rasa's does (a ``session_started``, the previous session's slots
carried over with ``carry_over_slots_to_new_session``, then ``action_listen``), and when
the previous session ended paused by a handoff that was never handed back, it pauses the
new session again, so Rasa records the customer's message without answering it and the
handoff service relays it to the agent. Its ``session_started`` is marked
(contract/session_marker.py) so that the handoff service keeps the ticket, and the
survey and the metrics count the chat as the one conversation it still is.

The tracker tells whether the chat was paused; the handoff service tells whether its
ticket is still open. A ticket closed while the customer was away normally resumed the
conversation already; if that hand-back has not reached Rasa yet, the service answering
"no request" (and no escalation of the conversation still waiting in the outbox) means
the new session starts unpaused. When the service cannot be asked, the tracker decides:
a paused chat stays with the person (the service resumes it when it closes the ticket).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, SessionStarted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.runtime import Runtime, get_runtime
from contract.session_marker import kept_metadata

log = logging.getLogger(__name__)


def previous_session(tracker: Tracker) -> list[dict[str, Any]]:
    """The events of the session that is ending, without reverted ones, as Rasa's
    ``applied_events`` has them (a restart or a session start begins afresh)."""
    applied: list[dict[str, Any]] = []

    def undo_till(kind: str) -> None:
        while applied:
            if applied.pop().get("event") == kind:
                return

    for event in tracker.events:
        kind = event.get("event")
        if kind in ("restart", "session_started"):
            applied = []
        elif kind == "undo":
            undo_till("action")
        elif kind == "rewind":
            undo_till("user")
            undo_till("action")
        else:
            applied.append(event)
    return applied


def carried_slots(events: list[dict[str, Any]]) -> list[EventType]:
    """The session's slot events again, in order, as Rasa's ``ActionSessionStart``."""
    carried: list[EventType] = []
    for event in events:
        if event.get("event") != "slot":
            continue
        slot: EventType = {"event": "slot", "timestamp": None, "name": event.get("name"),
                           "value": event.get("value")}
        if event.get("metadata"):
            slot["metadata"] = event["metadata"]
        carried.append(slot)
    return carried


def paused_by_handoff(tracker: Tracker, events: list[dict[str, Any]]) -> bool:
    """Paused at the end of the session, by a pause never followed by a resume."""
    if not tracker.is_paused():
        return False
    last = next((e.get("event") for e in reversed(events)
                 if e.get("event") in ("pause", "resume")), None)
    # A session kept by this action starts with its own pause, so a pause is always seen
    # in the session; the tracker's flag alone would also do, the events say why.
    return last == "pause"


async def ticket_closed(rt: Runtime, conversation_id: str) -> bool:
    """True only when the handoff service says there is no open request and no
    escalation of this conversation is still on its way to it."""
    if rt.handoff_status is None:
        return False
    state = await rt.handoff_status.state(conversation_id)
    if state is None or state["state"] != "none":
        return False
    if rt.outbox is not None and any(row.conversation_id == conversation_id
                                     for row in await rt.outbox.pending()):
        return False
    return True


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        events = previous_session(tracker)
        keep = paused_by_handoff(tracker, events)
        if keep and await ticket_closed(await get_runtime(), tracker.sender_id):
            log.info("%s: new session unpaused (its handoff ticket was closed meanwhile)",
                     tracker.sender_id)
            keep = False
        start = SessionStarted()
        if keep:
            start["metadata"] = kept_metadata()
        # With the selective domain (endpoints.yml) this action gets no domain: the
        # setting is domain.yml's carry_over_slots_to_new_session, true for this product.
        session_config = (domain or {}).get("session_config") or {}
        carried = (carried_slots(events)
                   if session_config.get("carry_over_slots_to_new_session", True) else [])
        paused: list[EventType] = [ConversationPaused()] if keep else []
        if keep:
            log.info("%s: new session kept paused for its handoff", tracker.sender_id)
        return [start, *carried, *paused, ActionExecuted("action_listen")]
