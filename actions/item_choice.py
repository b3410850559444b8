"""Which item of an order the customer means: a button, a number, or words of its name."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

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
    # Otherwise the item whose name shares the most words with the message.
    best, best_score = None, 0
    for item in items:
        name_words = {w for w in _WORD_RE.findall(item.name.lower()) if len(w) >= MIN_NAME_WORD}
        asked = {w for w in words if len(w) >= MIN_PART_WORD}
        partial = sum(1 for w in asked for n in name_words if w != n and w in n)
        score = 2 * len(name_words & set(words)) + partial + (4 if item.sku.lower() in text else 0)
        if score > best_score:
            best, best_score = item, score
    return best
