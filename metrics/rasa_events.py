"""One reader of Rasa's event table (the SQL event broker's ``events``: id, sender_id, data).

The handoff service's relay (new events of conversations a person owns, and a ticket's
backfill) and the metrics collector read the same table through one ``RasaEventTable``
built with the service. Until Rasa has started the table may not exist, so a failed read
is an empty answer; but if reading still fails after ``warn_after`` seconds (a wrong
``RASA_EVENTS_DB_URL``, a database that is down), it says so once at WARNING, naming the
database (without its password) and the error, and once more at INFO when reading works
again. Before, both readers logged every failure at DEBUG and a wrong URL left the relay
and the dashboard silently empty.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

WARN_AFTER_SECONDS = 30.0


class RasaEventTable:
    def __init__(self, engine: AsyncEngine, warn_after: float = WARN_AFTER_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.warn_after = warn_after
        self._clock = clock
        self._failing_since: float | None = None
        self._warned = False

    @property
    def where(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    async def after(self, cursor: int, limit: int) -> Sequence[Any] | None:
        """Rows (id, sender_id, data) after ``cursor`` in id order; None when unreadable."""
        return await self._read(
            "SELECT id, sender_id, data FROM events WHERE id > :cursor ORDER BY id "
            "LIMIT :limit", {"cursor": cursor, "limit": limit})

    async def last_id(self) -> int | None:
        """The highest id (0 for an empty table); None when unreadable."""
        rows = await self._read("SELECT max(id) FROM events", {})
        return None if rows is None else int(rows[0][0] or 0)

    async def latest_of(self, sender: str, limit: int) -> Sequence[Any] | None:
        """One conversation's latest rows (id, data), oldest first; None when unreadable."""
        rows = await self._read(
            "SELECT id, data FROM events WHERE sender_id = :sender ORDER BY id DESC "
            "LIMIT :limit", {"sender": sender, "limit": limit})
        return None if rows is None else list(reversed(rows))

    async def _read(self, query: str, values: dict[str, Any]) -> Sequence[Any] | None:
        try:
            async with self.engine.connect() as conn:
                rows = (await conn.execute(text(query), values)).all()
        except Exception as exc:  # any driver's error: the readers carry on and retry
            self._failed(exc)
            return None
        self._succeeded()
        return rows

    def _failed(self, exc: Exception) -> None:
        now = self._clock()
        if self._failing_since is None:
            self._failing_since = now
        if not self._warned and now - self._failing_since >= self.warn_after:
            self._warned = True
            log.warning("cannot read Rasa's event table at %s for %.0f s (%s: %s): the handoff "
                        "relay and the metrics see no new events until it can; check "
                        "RASA_EVENTS_DB_URL and that Rasa's event broker writes there",
                        self.where, now - self._failing_since, type(exc).__name__,
                        str(exc).splitlines()[0] if str(exc) else "")
        else:
            log.debug("Rasa's event table not readable: %s", exc)

    def _succeeded(self) -> None:
        if self._warned:
            log.info("Rasa's event table at %s is readable again", self.where)
        self._failing_since = None
        self._warned = False
