"""Which item of an order the customer means: a button, a number, words of its name, or
what kind of thing it is in the customer's own words ("часы", "чохол", "the phone")."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import yaml
from rasa_sdk import Tracker

from actions.conversation import latest_entity, latest_text
from actions.shop.base import OrderItem

_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4,
    "первый": 1, "первое": 1, "первую": 1, "второй": 2, "второе": 2, "вторую": 2,
    "третий": 3, "третье": 3, "третью": 3,
    "перший": 1, "першу": 1, "перше": 1, "другий": 2, "другу": 2, "друге": 2,
    "третій": 3, "третю": 3,
}
_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
MIN_NAME_WORD = 3
MIN_PART_WORD = 4  # 'phone' finds 'smartphone'
TYPES_FILE = Path(__file__).with_name("item_types.yml")
# Phrases that name a contact detail, not an item: "my phone number is ...".
_NOT_ITEMS = re.compile(r"phone ?number|by phone|номер[а-я]* (?:телефон|мобильн|мобільн)[а-яієї]*|"
                        r"телефон[а-яієї]* \+?\d|phone:? \+?\d", re.IGNORECASE)


@cache
def item_types() -> tuple[tuple[frozenset[str], tuple[str, ...]], ...]:
    """(item-name words, customer word stems) per kind of product."""
    data = yaml.safe_load(TYPES_FILE.read_text(encoding="utf-8")) or {}
    return tuple((frozenset(str(n).lower() for n in entry["names"]),
                  tuple(str(w).lower() for w in entry["words"]))
                 for entry in (data.get("types") or {}).values())


def _kind_score(text: str, words: Sequence[str], item: OrderItem) -> int:
    """2 when the message names the item's kind of product in any language."""
    name_words = set(_WORD_RE.findall(item.name.lower()))
    for names, stems in item_types():
        if not name_words & names:
            continue
        for stem in stems:
            if (" " in stem and stem in text) or any(w.startswith(stem) for w in words):
                return 2
    return 0


def item_candidates(text: str, items: Sequence[OrderItem]) -> list[OrderItem]:
    """The items the words of ``text`` fit best (several when they fit equally well)."""
    text = _NOT_ITEMS.sub(" ", text.lower())
    words = _WORD_RE.findall(text)
    scored: list[tuple[int, OrderItem]] = []
    for item in items:
        name_words = {w for w in _WORD_RE.findall(item.name.lower()) if len(w) >= MIN_NAME_WORD}
        asked = {w for w in words if len(w) >= MIN_PART_WORD}
        partial = sum(1 for w in asked for n in name_words if w != n and w in n)
        score = (2 * len(name_words & set(words)) + partial
                 + (4 if item.sku.lower() in text else 0) + _kind_score(text, words, item))
        scored.append((score, item))
    best = max((score for score, _ in scored), default=0)
    return [item for score, item in scored if best and score == best]


def item_buttons(items: Sequence[OrderItem]) -> list[dict[str, str]]:
    """One quick-reply per item; the payload carries the SKU, not the customer's words."""
    return [
        {"title": item.name, "payload": "/inform" + json.dumps({"item": item.sku})}
        for item in items
    ]


def choose_item(tracker: Tracker, items: Sequence[OrderItem],
                offered: Sequence[OrderItem] | None = None,
                by_number: bool = True) -> OrderItem | None:
    """The item meant; a number ("2", "second") counts among the ``offered`` buttons."""
    sku = latest_entity(tracker, "item")
    if sku:
        return next((item for item in items if item.sku == sku), None)
    text = latest_text(tracker).lower()
    if not text or text.startswith("/"):
        return None
    words = _WORD_RE.findall(text)
    for word in words if by_number else ():
        index = int(word) if word.isdigit() else _ORDINALS.get(word)
        choices = offered if offered else items
        if index and 1 <= index <= len(choices) and len(words) <= 3:
            return choices[index - 1]
    # Otherwise the item whose name or kind fits the message best, if only one does.
    candidates = item_candidates(text, items)
    return candidates[0] if len(candidates) == 1 else None
