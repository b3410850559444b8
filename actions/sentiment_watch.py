"""Scores every customer message for sentiment and escalates when the mood turns.

Run by Rasa's ``action_extract_slots`` after every user message, inside
``action_read_message`` (actions/reading.py), so it sees each message once, before any
other action, also in the middle of a form. One strongly negative message, or
``HANDOFF_NEGATIVE_IN_A_ROW`` negative ones in a row, set ``escalation_reason``; the
escalation policy then hands over. While a person has the chat the trail keeps growing
(the agent sees it) but nothing escalates.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions.conversation import is_button_payload, latest_text
from actions.escalation import MAX_TRAIL, REASON_SLOT, SENTIMENT_SLOT, sentiment_trail
from actions.runtime import get_runtime
from actions.settings import ActionSettings
from contract.payload import SentimentEntry

MAX_SCORED_CHARS = 1000


def should_escalate(trail: list[SentimentEntry], settings: ActionSettings) -> bool:
    """One strongly negative message, or enough negative ones in a row (newest last)."""
    if not trail:
        return False
    latest = trail[-1]
    if latest["label"] == "negative" and latest["strong"]:
        return True
    recent = trail[-settings.negative_in_a_row:]
    return len(recent) == settings.negative_in_a_row and all(
        entry["label"] == "negative" and entry["score"] >= settings.negative_threshold
        for entry in recent)


async def sentiment_events(tracker: Tracker) -> list[EventType]:
    """The latest message scored onto ``sentiment_trail``; ``escalation_reason`` if due."""
    text = latest_text(tracker)
    if not text or is_button_payload(tracker):
        return []
    rt = await get_runtime()
    if rt.sentiment is None or rt.knowledge is None:
        return []
    # Rasa may run the slot mappings twice for one message (a form starting, say).
    message_id = str((tracker.latest_message or {}).get("message_id") or "")
    earlier = sentiment_trail(tracker)
    if message_id and earlier and earlier[-1].get("message_id") == message_id:
        return []
    model, embedder = rt.sentiment, rt.knowledge.retriever.embedder
    [mood] = await rt.knowledge.run(model.score, embedder, [text[:MAX_SCORED_CHARS]])
    entry: SentimentEntry = {
        "text": text[:300], "label": mood.label, "score": round(mood.score, 4),
        "strong": mood.label == "negative" and mood.strong >= rt.settings.strong_negative,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "message_id": message_id}
    trail = [*earlier, entry][-MAX_TRAIL:]
    events: list[EventType] = [SlotSet(SENTIMENT_SLOT, trail)]
    already = tracker.is_paused() or tracker.get_slot(REASON_SLOT)
    if not already and should_escalate(trail, rt.settings):
        events.append(SlotSet(REASON_SLOT, "negative_sentiment"))
    return events
