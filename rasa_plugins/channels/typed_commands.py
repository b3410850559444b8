"""What a customer types is read as words, never as Rasa's ``/intent{...}`` shorthand.

Rasa takes a message that starts with ``/`` as an intent with entities and skips its
NLU (``/inform{"item": "PH-NOVA-7"}``, ``/EXTERNAL_survey``, ``/affirm@0.99``). The
assistant's own buttons use that form, so the channels cannot refuse it outright. They
pass such a message on unchanged only when it is:

- the payload of a button the assistant offered in this conversation lately (the last
  ``LOOKBACK_EVENTS`` events of the tracker, which every Rasa process shares), or
- a public command every customer may send at any time: ``/restart`` (start over),
  ``/session_start`` (a new session, as Rasa's own chat widgets send on opening; no more
  than ``/restart`` can do, and a chat a person owns stays with them) and
  ``/request_human`` (the widget's "talk to a person" button).

``EXTERNAL_*`` intents are the handoff service's (sent through Rasa's authenticated
``trigger_intent`` API) and are never taken from a channel, offered or not. Anything else
that starts with ``/`` loses its leading slashes, so Rasa's NLU reads it like any other
text: a customer cannot set an entity, pick an intent, skip a question or start the
survey by typing the shorthand.

Pure (no Rasa import): events are read by attribute, so the tests use stand-ins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

PREFIX = "/"
PUBLIC_COMMANDS = frozenset({"/restart", "/session_start", "/request_human"})
EXTERNAL_PREFIX = "/EXTERNAL_"
LOOKBACK_EVENTS = 200
LEADING = re.compile(r"^[\s/]+")  # "/ /inform{...}" loses both slashes


def is_shorthand(text: str) -> bool:
    """Whether Rasa could read the text as an intent (it starts with ``/``)."""
    return text.strip().startswith(PREFIX)


def offered_payloads(tracker: Any, lookback: int = LOOKBACK_EVENTS) -> Iterator[str]:
    """Payloads of the buttons the assistant offered lately, newest first."""
    events = list(tracker.events)[-lookback:] if tracker is not None else []
    for event in reversed(events):
        if getattr(event, "type_name", None) != "bot":
            continue
        for button in (getattr(event, "data", None) or {}).get("buttons") or []:
            if isinstance(button, dict) and button.get("payload") is not None:
                yield str(button["payload"])


def allowed(text: str, offered: Iterable[str]) -> bool:
    """Whether a message in the shorthand may reach Rasa as it is."""
    stripped = text.strip()
    if stripped.startswith(EXTERNAL_PREFIX):
        return False
    if stripped in PUBLIC_COMMANDS:
        return True
    return any(stripped == payload.strip() for payload in offered)


def as_words(text: str) -> str:
    """The text with its leading slashes taken off, so Rasa's NLU reads it.

    A message of slashes only stays as it is: Rasa needs a name after the slash to read
    an intent, so ``/`` or ``//`` cannot become one.
    """
    stripped = text.strip()
    words = LEADING.sub("", stripped)
    return words if words else stripped


def guarded(text: str, offered: Iterable[str]) -> str:
    """What Rasa is given for a customer's ``text``: it unchanged, unless it is shorthand
    the assistant did not offer, which is given as words (``as_words``)."""
    if not is_shorthand(text) or allowed(text, offered):
        return text if not is_shorthand(text) else text.strip()
    return as_words(text)
