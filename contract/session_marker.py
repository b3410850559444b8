"""The mark on a Rasa ``session_started`` that continues a person's chat.

actions/session.py (the custom ``action_session_start``) writes it when a new session
starts while a handoff ticket is queued or owned by an agent and keeps the session paused.
The handoff service keeps the ticket open on such a start, and the survey and the metrics
count what follows as the same conversation. No imports: Rasa's, the action server's and
the services' code all read it.
"""

from __future__ import annotations

from typing import Any

HANDOFF_KEY = "handoff"
KEPT = "kept"


def kept_metadata() -> dict[str, str]:
    """The ``metadata`` of a session start that keeps the handoff."""
    return {HANDOFF_KEY: KEPT}


def continues_handoff(event: dict[str, Any]) -> bool:
    """Whether ``event`` is a session start that kept a person's chat paused."""
    metadata = event.get("metadata")
    return (event.get("event") == "session_started" and isinstance(metadata, dict)
            and metadata.get(HANDOFF_KEY) == KEPT)
