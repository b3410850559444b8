"""Drives the order form the way Rasa does, without Rasa: one user turn at a time.

Each turn runs ``validate_order_form`` on the message, applies the slot events, then
either asks for the next slot (``action_ask_<slot>`` if the domain has it) or, when
nothing is left, runs ``action_complete_order_job``. The responses sent are collected
by name, so tests can assert on what the customer was told.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.order_form import ActionCompleteOrderJob, ActionStartJob, ValidateOrderForm
from actions.order_form_asks import AskAction

DOMAIN = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())
ASK_ACTIONS = {cls().name(): cls() for cls in AskAction.__subclasses__()}


@dataclass
class Turn:
    responses: list[str]
    messages: list[dict[str, Any]]
    rejected: bool


@dataclass
class FormDriver:
    sender: str = "test-conversation"
    language: str = "en"
    slots: dict[str, Any] = field(default_factory=dict)
    active: bool = False
    log: list[str] = field(default_factory=list)
    last_events: list[dict[str, Any]] = field(default_factory=list)
    # What the channel puts on every message (e.g. its trusted ``client_id``).
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.slots = {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}
        self.slots["language"] = self.language
        self.slots["requested_slot"] = None

    def _tracker(self, text: str, intent: str, entities: list[dict[str, Any]]) -> Tracker:
        return Tracker(
            sender_id=self.sender,
            slots=dict(self.slots),
            latest_message={"text": text, "intent": {"name": intent, "confidence": 0.99},
                            "entities": entities, "metadata": dict(self.metadata)},
            events=[],
            paused=False,
            followup_action=None,
            active_loop={"name": "order_form"} if self.active else {},
            latest_action_name="action_listen",
        )

    def _apply(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]

    async def _run(self, action: Any, tracker: Tracker) -> CollectingDispatcher:
        dispatcher = CollectingDispatcher()
        self.last_events = await action.run(dispatcher, tracker, DOMAIN)
        self._apply(self.last_events)
        return dispatcher

    async def say(self, text: str, intent: str = "inform",
                  entities: dict[str, str] | None = None) -> Turn:
        """One customer message. Button payloads like '/inform{"item": "X"}' work too."""
        ents = [{"entity": k, "value": v} for k, v in (entities or {}).items()]
        if text.startswith("/") and "{" in text:
            intent = text[1:text.index("{")]
            payload = json.loads(text[text.index("{"):])
            ents = [{"entity": k, "value": v} for k, v in payload.items()]
        messages: list[dict[str, Any]] = []
        if not self.active:
            start = await self._run(ActionStartJob(), self._tracker(text, intent, ents))
            messages += start.messages
            self.active = True
        asked = self.slots.get("requested_slot")
        validation = await self._run(ValidateOrderForm(), self._tracker(text, intent, ents))
        messages += validation.messages
        # Rasa rejects the form when a slot was asked for and no other slot was set.
        rejected = bool(asked) and not any(
            e.get("event") == "slot" and e.get("name") != "requested_slot"
            for e in self.last_events
        )
        if not rejected:
            requested = self.slots.get("requested_slot")
            tracker = self._tracker(text, intent, ents)
            if requested is None:
                self.active = False
                messages += (await self._run(ActionCompleteOrderJob(), tracker)).messages
            elif f"action_ask_{requested}" in ASK_ACTIONS:
                messages += (await self._run(ASK_ACTIONS[f"action_ask_{requested}"],
                                             tracker)).messages
            else:
                messages.append({"response": f"utter_ask_{requested}"})
        responses = [m.get("response") or "" for m in messages]
        self.log.append(f"> {text}\n  " + ", ".join(responses))
        return Turn(responses, messages, rejected)


def kwargs_of(turn: Turn, response: str) -> dict[str, Any]:
    message = next(m for m in turn.messages if m.get("response") == response)
    return message
