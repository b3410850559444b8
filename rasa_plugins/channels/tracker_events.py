"""Questions channels ask of a conversation's record before handing a message to Rasa.

Pure (no Rasa import): it reads Rasa's event objects by attribute, so the tests can use
stand-ins.
"""

from __future__ import annotations

from typing import Any


def has_user_message(tracker: Any, message_id: str) -> bool:
    """Whether the conversation already holds the customer's message with this id (a
    channel passes its own id, such as Telegram's update id, as Rasa's message id)."""
    for event in reversed(list(tracker.events) if tracker is not None else []):
        if getattr(event, "type_name", None) == "user" \
                and getattr(event, "message_id", None) == message_id:
            return True
    return False
