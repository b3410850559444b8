"""Rasa's SQL tracker store, without the work it repeats on every saved turn.

Rasa 3.6's ``SQLTrackerStore.save`` first streams the new events to the event broker,
and to find them it loads the whole conversation again (every event parsed and replayed
into a tracker) only to count its events; then it counts the stored events a second time,
with a query, to know which to insert; then the broker commits each event on its own.
Here the stored events are counted once, the same new events are inserted and handed to
the broker in one transaction each, and each event is serialised once. What is stored and
what the broker receives are unchanged (the same rows, in the same order, the broker's
rows after the tracker's).

With SQLite the engine keeps its connection open in WAL mode (as the broker does:
rasa_plugins/brokers/sql.py) instead of opening a file per session. PostgreSQL is used as Rasa
uses it, with its pool settings.

Used from endpoints.yml as ``type: rasa_plugins.trackers.SQLTrackerStore``. Rasa builds it before
it loads the model, so it also installs this project's two other changes to Rasa's
per-process costs: the compiled check of the action server's answers
(rasa_plugins/remote_actions.py) and the model loader for serving (rasa_plugins/model_loading.py).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore as RasaSQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from rasa_plugins import model_loading, remote_actions
from rasa_plugins.brokers.sql import wal_engine

log = logging.getLogger(__name__)


class TrackerStoreSetupError(RuntimeError):
    """The tracker store could not be built (never an AttributeError: Rasa would then
    silently fall back to an in-memory store that loses every conversation)."""


class SQLTrackerStore(RasaSQLTrackerStore):
    engine: Any  # Rasa's SQLAlchemy engine, replaced by a WAL one for SQLite

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            remote_actions.install()
            model_loading.install()
            super().__init__(*args, **kwargs)
            if self.engine.dialect.name == "sqlite":
                url = self.engine.url
                self.engine.dispose()
                self.engine = wal_engine(url)
                self.sessionmaker.configure(bind=self.engine)
        except (AttributeError, ImportError) as exc:
            raise TrackerStoreSetupError(f"cannot set up the SQL tracker store: {exc}") from exc

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Insert the events not stored yet, then hand the same events to the broker."""
        with self.session_scope() as session:
            stored = self._event_query(session, tracker.sender_id,
                                       fetch_events_from_all_sessions=False).count()
            new = list(tracker.events)[stored:]
            bodies = [event.as_dict() for event in new]
            if new:
                # One executemany of plain rows: the ORM's unit of work costs more than
                # the inserts themselves.
                session.execute(self.SQLEvent.__table__.insert(), [
                    {"sender_id": tracker.sender_id, "type_name": event.type_name,
                     "timestamp": data.get("timestamp"),
                     "intent_name": data.get("parse_data", {}).get("intent", {}).get(
                         INTENT_NAME_KEY),
                     "action_name": data.get("name"), "data": json.dumps(data)}
                    for event, data in zip(new, bodies, strict=True)])
            session.commit()
        if self.event_broker is not None and bodies:
            published = [{"sender_id": tracker.sender_id, **data} for data in bodies]
            publish_many = getattr(self.event_broker, "publish_many", None)
            if publish_many is not None:
                publish_many(published)
            else:
                for body in published:
                    self.event_broker.publish(body)
        log.debug("tracker %s: %d new events stored", tracker.sender_id, len(new))
