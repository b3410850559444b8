"""Run with .venv-rasa's Python (tests/bot/test_rasa_side.py does): the project's tracker
store and broker against Rasa's own, on the same conversation, and the compiled check of
action-server answers against Rasa's. Prints one JSON object of findings."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore as RasaStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)

from rasa_plugins.brokers.sql import WalSQLEventBroker
from rasa_plugins.trackers import SQLTrackerStore

DOMAIN = Domain.load(str(Path(__file__).resolve().parents[2] / "domain.yml"))

def turns() -> list[list[Any]]:
    """Made when played: the store finds a session by its events' timestamps."""
    return [
    [UserUttered("hey", {"name": "greet", "confidence": 0.9}), ActionExecuted("action_listen")],
    [UserUttered("hi", {"name": "greet", "confidence": 0.99}), SlotSet("language", "en"),
     ActionExecuted("utter_greet"), BotUttered("Hello!"), ActionExecuted("action_listen")],
    [UserUttered("where is my order", {"name": "track_order", "confidence": 0.9}),
     SlotSet("job", "track"), ActionExecuted("order_form"), ActionExecuted("action_listen")],
    # A new session in the same conversation: only its own events are counted.
    [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
     UserUttered("привет", {"name": "greet", "confidence": 0.95}),
     SlotSet("language", "ru"), ActionExecuted("action_listen")],
    ]


def rows(db: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(query).fetchall()


async def play(store: Any) -> None:
    tracker = await store.get_or_create_tracker("c-1", append_action_listen=True)
    for number in range(4):
        tracker = await store.retrieve("c-1") or tracker
        for event in turns()[number]:
            tracker.update(event)
            await asyncio.sleep(0.001)
        await store.save(tracker)
        if number < 3:
            # Saving again adds nothing. (Not after a new session in the same tracker
            # object: Rasa's store then counts from the new session and stores the old
            # session's events again; ours does the same, on purpose identical.)
            await store.save(tracker)


def stored(folder: Path, name: str) -> dict[str, Any]:
    events = rows(folder / f"{name}-tracker.db",
                  "SELECT sender_id, type_name, intent_name, action_name, data FROM events "
                  "ORDER BY id")
    published = rows(folder / f"{name}-broker.db", "SELECT sender_id, data FROM events ORDER BY id")
    def strip(data: str) -> dict[str, Any]:
        body = json.loads(data)
        body.pop("timestamp", None)
        return body
    return {"events": [(*row[:4], strip(row[4])) for row in events],
            "published": [(row[0], strip(row[1])) for row in published]}


async def stores(folder: Path) -> dict[str, Any]:
    found = {}
    for name, store_class, broker_class in (("rasa", RasaStore, SQLEventBroker),
                                            ("ours", SQLTrackerStore, WalSQLEventBroker)):
        broker = broker_class(db=str(folder / f"{name}-broker.db"))
        store = store_class(domain=DOMAIN, db=str(folder / f"{name}-tracker.db"),
                            event_broker=broker)
        await play(store)
        found[name] = stored(folder, name)
    journal = rows(folder / "ours-tracker.db", "PRAGMA journal_mode")[0][0]
    return {"same": found["rasa"] == found["ours"], "events": len(found["ours"]["events"]),
            "published": len(found["ours"]["published"]), "journal": journal,
            "rasa": found["rasa"] if found["rasa"] != found["ours"] else None,
            "ours": found["ours"] if found["rasa"] != found["ours"] else None}


CASES: list[Any] = [
    {"events": [{"event": "slot", "name": "language", "value": "ru"}],
     "responses": [{"text": "hi"}]},
    {"events": [{"event": "slot", "value": "ru"}], "responses": []},  # no slot name
    {"events": [{"event": "slot", "name": "x", "value": 1, "timestamp": "now"}]},
    {"events": [{"event": "no_such_kind"}]},
    {"events": [{"name": "language"}]},
    {"events": ["slot"]},
    {"events": {"event": "slot"}},
    {"events": [], "responses": ["hi"]},
    {"events": [{"event": "bot", "text": "hello", "metadata": None}]},
    {"events": [{"event": "active_loop", "name": "order_form"},
                {"event": "action", "name": "order_form", "policy": None,
                 "confidence": 1.0}]},
    {"events": [{"event": "user", "text": "hi", "parse_data": {}}]},
    {"events": [{"event": "followup", "name": 3}]},
    {"responses": [{"text": "only responses"}]},
    {},
    [],
]


def answer_checks() -> list[list[Any]]:
    """Each case: Rasa's own verdict (jsonschema.validate) and the installed check's."""
    import jsonschema

    action = RemoteAction("action_x", None)
    spec = RemoteAction.action_response_format_spec()
    verdicts = []
    for case in CASES:
        try:
            jsonschema.validate(case, spec)
            rasa = "valid"
        except ValidationError as exc:
            rasa = exc.message
        try:
            ours = "valid" if action._validate_action_result(case) else "false"
        except ValidationError as exc:
            suffix = exc.message.find(". Failed to validate Action server response")
            ours = exc.message[:suffix]
        verdicts.append([rasa, ours])
    return verdicts


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        # Rasa's own check first (the tracker store installs the compiled one).
        action = RemoteAction("action_x", None)
        try:
            action._validate_action_result({"events": [{"event": "slot", "value": "ru"}],
                                            "responses": []})
            rasa_bad = "accepted"
        except ValidationError as exc:
            rasa_bad = exc.message
        result = asyncio.run(stores(Path(folder)))
        result["answers"] = answer_checks()
        result["rasa_bad"] = rasa_bad
        print(json.dumps(result, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
