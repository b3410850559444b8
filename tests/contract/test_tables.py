"""The registry of conversation tables (contract/tables.py) against the tables the code
declares: every table is either erased and aged out, or listed with the reason it is not,
and the columns the registry names are the models' own."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase

from contract import tables

ROOT = Path(__file__).resolve().parents[2]
DECLARED = re.compile(r'__tablename__\s*=\s*"(\w+)"')
MODELS = ("actions.knowledge_log", "actions.handoff_outbox", "actions.lookup_guard",
          "actions.verification_throttle", "actions.shop.tables", "handoff.store",
          "handoff.security_events", "contract.metrics_tables", "metrics.retention")


def declared_names() -> set[str]:
    found = set()
    for folder in ("actions", "bot", "contract", "handoff", "knowledge", "metrics",
                   "rasa_plugins", "sentiment"):
        for path in (ROOT / folder).rglob("*.py"):
            found.update(DECLARED.findall(path.read_text(encoding="utf-8")))
    return found


def model_tables() -> dict[str, Table]:
    for name in MODELS:
        importlib.import_module(name)
    found: dict[str, Table] = {}
    pending = list(DeclarativeBase.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        table = getattr(cls, "__table__", None)
        if isinstance(table, Table):
            found[table.name] = table
    return found


def test_every_declared_table_is_erased_or_says_why_not() -> None:
    listed = {entry.name for entry in tables.CONVERSATION_TABLES} | {
        key.split(".", 1)[1] for key in tables.STORES_WITHOUT_CONVERSATIONS}
    missing = declared_names() - listed
    assert not missing, f"add these to contract/tables.py, erased or with a reason: {missing}"
    assert not {entry.key for entry in tables.CONVERSATION_TABLES} \
        & set(tables.STORES_WITHOUT_CONVERSATIONS)


def test_the_registry_names_the_models_own_columns() -> None:
    models = model_tables()
    checked = 0
    for entry in tables.CONVERSATION_TABLES:
        model = models.get(entry.name)
        if model is None or entry.store in ("tracker", "broker"):
            continue  # Rasa's own tables (its "events") are declared inside Rasa
        for wanted in (entry.conversation, entry.age_column, entry.parent_key):
            if wanted is not None:
                assert wanted in model.c, f"{entry.key} has no column {wanted}"
        checked += 1
    assert checked == len(tables.CONVERSATION_TABLES) - 2


def test_children_come_before_their_parent_and_parents_hold_the_conversation() -> None:
    order = [entry.key for entry in tables.CONVERSATION_TABLES]
    for entry in tables.CONVERSATION_TABLES:
        if entry.age == "parent":
            parent = tables.by_key(f"{entry.store}.{entry.parent}")
            assert parent.conversation is not None
            assert order.index(entry.key) < order.index(parent.key)
        else:
            assert entry.conversation is not None
    stores = [tables.STORES.index(entry.store) for entry in tables.CONVERSATION_TABLES]
    assert stores == sorted(stores)  # upstream stores first
