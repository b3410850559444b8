"""Every table a conversation lives in, per store: the one list erasure and retention use.

A store is one database URL of the product (README, settings table):

* ``tracker``: Rasa's SQL tracker store (``TRACKER_DB_DIALECT``/``TRACKER_DB`` or
  ``TRACKER_DB_URL``);
* ``broker``: Rasa's SQL event broker (``RASA_EVENTS_DB_URL``);
* ``actions``: the action server's records (``ACTIONS_DB_URL``);
* ``handoff``: the agent queue (``HANDOFF_DB_URL``);
* ``metrics``: service-quality records (``METRICS_DB_URL``).

Each entry names the column that holds the conversation id (or the parent table it hangs
from) and how retention tells an old row (``Age``). The tables are lightweight SQLAlchemy
constructs: the modules that create them are not imported, and a table a store has never
created is skipped.

Kept out on purpose (they hold no conversation and expire by themselves):
``STORES_WITHOUT_CONVERSATIONS`` lists them with the reason, so a new table must be put in
one list or the other (``tests/contract/test_tables.py`` checks every declared table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import DateTime, Float, Integer, String, Text, column, table
from sqlalchemy.sql.expression import TableClause

Store = Literal["tracker", "broker", "actions", "handoff", "metrics"]
STORES: tuple[Store, ...] = ("tracker", "broker", "actions", "handoff", "metrics")

# How retention tells a row is older than the cutoff:
# - "epoch": a float column of seconds since 1970 (Rasa's tracker store);
# - "json-timestamp": the ``timestamp`` inside a JSON text column (Rasa's event broker);
# - "datetime": a timezone-aware datetime column; a NULL one is never old (an escalation
#   not delivered yet is kept until it is);
# - "closed-ticket": a ticket resolved or abandoned before the cutoff (an open ticket is
#   never purged, however old);
# - "parent": goes with its parent row (a ticket's messages and pending alert).
AgeRule = Literal["epoch", "json-timestamp", "datetime", "closed-ticket", "parent"]
OPEN_TICKETS = ("queued", "assigned")

_TS = DateTime(timezone=True)


@dataclass(frozen=True)
class ConversationTable:
    store: Store
    rows: TableClause
    conversation: str | None      # the column holding the conversation id; None: "parent"
    age: AgeRule
    age_column: str | None = None  # the column the age rule reads
    parent: str | None = None      # for "parent": the table it hangs from, by ``parent_key``
    parent_key: str | None = None

    @property
    def name(self) -> str:
        return str(self.rows.name)

    @property
    def key(self) -> str:
        """How counts name it: ``store.table``."""
        return f"{self.store}.{self.name}"


def _entry(store: Store, name: str, conversation: str | None, age: AgeRule,
           age_column: str | None, *extra: tuple[str, object],
           parent: str | None = None, parent_key: str | None = None) -> ConversationTable:
    columns = {name_: kind for name_, kind in extra}
    for wanted in (conversation, age_column, parent_key):
        if wanted is not None:
            columns.setdefault(wanted, String)
    rows = table(name, *(column(c, t) for c, t in columns.items()))  # type: ignore[arg-type]
    return ConversationTable(store, rows, conversation, age, age_column, parent, parent_key)


TICKETS = _entry("handoff", "tickets", "conversation_id", "closed-ticket", None,
                 ("id", Integer), ("status", String), ("created_at", _TS),
                 ("resolved_at", _TS))

# Upstream stores first (Rasa, the action server, the handoff service, the metrics): a row
# folded downstream while an erasure runs cannot outlive its source. Within a store a
# parent's children come before it (foreign keys).
CONVERSATION_TABLES: tuple[ConversationTable, ...] = (
    _entry("tracker", "events", "sender_id", "epoch", "timestamp",
           ("id", Integer), ("timestamp", Float)),
    _entry("broker", "events", "sender_id", "json-timestamp", "data",
           ("id", Integer), ("data", Text)),
    _entry("actions", "knowledge_turns", "conversation_id", "datetime", "created_at",
           ("created_at", _TS)),
    _entry("actions", "handoff_outbox", "conversation_id", "datetime", "delivered_at",
           ("delivered_at", _TS)),
    _entry("actions", "lookup_failures", "conversation_id", "datetime", "updated_at",
           ("updated_at", _TS)),
    _entry("handoff", "messages", None, "parent", None, ("ticket_id", Integer),
           parent="tickets", parent_key="ticket_id"),
    _entry("handoff", "pending_alerts", None, "parent", None, ("ticket_id", Integer),
           parent="tickets", parent_key="ticket_id"),
    TICKETS,
    _entry("handoff", "security_events", "conversation_id", "datetime", "received_at",
           ("received_at", _TS)),
    _entry("metrics", "metric_events", "conversation_id", "datetime", "at", ("at", _TS)),
    _entry("metrics", "surveys", "conversation_id", "datetime", "asked_at",
           ("asked_at", _TS)),
)

# Tables of the same stores that hold no conversation, and why they are not erased.
STORES_WITHOUT_CONVERSATIONS: dict[str, str] = {
    "actions.verification_slots": "keyed by order number or a keyed hash of the client; "
                                  "each slot frees itself after LOOKUP_WINDOW_MINUTES",
    "actions.verification_locks": "keyed like the slots; a lock ends after "
                                  "LOOKUP_COOLING_MINUTES",
    "shop.orders": "the shop's own records (SHOP_DB_URL), not the conversation's",
    "shop.order_items": "the shop's own records (demo shop)",
    "shop.returns": "the shop's own records (demo shop): a return outlives the chat",
    "shop.warranty_claims": "the shop's own records (demo shop)",
    "shop.address_changes": "the shop's own records (demo shop)",
    "handoff.agents": "the shop's agent accounts",
    "handoff.agent_sessions": "agents' console logins; they expire",
    "handoff.feed_cursor": "a position in Rasa's event table, no content",
    "handoff.login_throttle": "failed console logins under a hashed key; they expire",
    "metrics.metric_cursors": "positions in the upstream tables, no content",
    "metrics.erasure_log": "who erased what and how many rows, the id only as a salted hash",
}


def in_store(store: Store) -> tuple[ConversationTable, ...]:
    return tuple(entry for entry in CONVERSATION_TABLES if entry.store == store)


def by_key(key: str) -> ConversationTable:
    for entry in CONVERSATION_TABLES:
        if entry.key == key:
            return entry
    raise KeyError(key)
