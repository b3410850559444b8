"""What the assistant says, turned into Telegram messages.

Every text is sent with ``parse_mode=HTML`` and escaped, so ``<``, ``&``, ``*`` and ``_``
written by a customer, an article or an agent show literally; only the assistant's own
markdown links ``[title](https://...)`` become links. A text longer than Telegram's 4,096
characters is split on paragraph, then line, then word boundaries (a link is never cut),
instead of Rasa's one message per paragraph. Buttons become an inline keyboard, one
button per row; a payload over Telegram's 64-byte ``callback_data`` limit is sent as a
short stable key (``button_key``) that the input side resolves again.

Pure Python (no Rasa or aiogram imports), so the tests import it from the services'
environment.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

MAX_MESSAGE_CHARS = 4096
MAX_CALLBACK_BYTES = 64
KEY_PREFIX = "~"  # Rasa payloads start with "/" or are plain text; keys start with "~"
LINK_RE = re.compile(r"\[([^\[\]\n]+)\]\((https?://(?:[^\s()]|\([^\s()]*\))+)\)")


def button_key(payload: str) -> str:
    """``callback_data`` for a payload: itself when it fits in 64 bytes, else a digest."""
    if len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES:
        return payload
    return KEY_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def is_button_key(data: str) -> bool:
    return data.startswith(KEY_PREFIX) and len(data) == len(KEY_PREFIX) + 32


def inline_keyboard(buttons: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Rasa buttons as Telegram's ``InlineKeyboardMarkup``, one button per row."""
    rows = []
    for button in buttons:
        title = str(button.get("title") or "").strip()
        if not title:
            continue
        if button.get("url"):
            rows.append([{"text": title, "url": str(button["url"])}])
        elif button.get("payload") is not None:
            rows.append([{"text": title, "callback_data": button_key(str(button["payload"]))}])
    return {"inline_keyboard": rows} if rows else None


def _link_spans(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in LINK_RE.finditer(text)]


def _inside(spans: list[tuple[int, int]], position: int) -> bool:
    return any(start < position < end for start, end in spans)


def _cut(text: str, limit: int) -> int:
    """Where to end the first part of ``text``: the last paragraph break, line break or
    space within ``limit`` that is not inside a link; ``limit`` itself when a single word
    is longer than that."""
    spans = _link_spans(text)
    for pattern in (r"\n[ \t]*\n", r"\n", r"[ \t]"):
        ends = [m.start() for m in re.finditer(pattern, text[:limit + 1])
                if 0 < m.start() <= limit and not _inside(spans, m.start())]
        if ends:
            return ends[-1]
    # One word longer than the limit: cut it, but not in the middle of a link's markup.
    for start, end in spans:
        if start < limit < end and start > 0:
            return start
    return limit


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut at the best boundary."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        end = _cut(rest, limit)
        part = rest[:end].rstrip()
        if part:
            parts.append(part)
        rest = rest[end:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def to_html(text: str, links: bool = True) -> str:
    """``text`` escaped for Telegram's HTML mode; markdown links to http(s) become links."""
    if not links:
        return html.escape(text, quote=False)
    out: list[str] = []
    position = 0
    for match in LINK_RE.finditer(text):
        out.append(html.escape(text[position:match.start()], quote=False))
        title, url = match.group(1), match.group(2)
        out.append(f'<a href="{html.escape(url, quote=True)}">'
                   f"{html.escape(title, quote=False)}</a>")
        position = match.end()
    out.append(html.escape(text[position:], quote=False))
    return "".join(out)


def agent_header(agent_name: str, label: str) -> str:
    """The bold line above an agent's message, e.g. ``<b>Anna · support</b>``."""
    name = agent_name.strip()
    shown = f"{name} · {label}" if name else label
    return f"<b>{html.escape(shown, quote=False)}</b>"


def render(text: str, sender: str | None = None, agent_name: str | None = None,
           agent_label: str = "support", limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """The HTML messages that show one bot message.

    ``sender`` is the message's ``from`` (``agent``, ``system`` or none for the assistant).
    An agent's message is headed by their name in bold, and, like system messages, is
    shown exactly as written (no links made); the assistant's markdown links become links.
    """
    if sender == "agent":
        header = agent_header(agent_name or "", agent_label)
        parts = split_text(text, limit - len(agent_label) - len(agent_name or "") - 4)
        return [f"{header}\n{to_html(part, links=False)}" if i == 0
                else to_html(part, links=False) for i, part in enumerate(parts)]
    links = sender not in ("system",)
    return [to_html(part, links=links) for part in split_text(text, limit)]
