"""A session start that kept a person's chat (actions/session.py) is no new conversation in
the record: the escalation, the agent's pickup and the resolution stay one conversation."""

from __future__ import annotations

from datetime import UTC, datetime

from contract import metrics_tables as mt
from contract.metrics_tables import MetricEvent
from contract.session_marker import kept_metadata
from metrics.conversations import _sessions_by_id
from metrics.records import rasa_rows

T0 = 1795000000.0


def test_only_a_plain_session_start_starts_a_conversation() -> None:
    plain = {"event": "session_started", "timestamp": T0}
    kept = {**plain, "metadata": kept_metadata()}
    assert [row["kind"] for row in rasa_rows(1, "c", plain, "en")] == [mt.SESSION_STARTED]
    assert rasa_rows(2, "c", kept, "en") == []


def test_a_handoff_across_a_kept_session_is_one_conversation() -> None:
    def row(kind: str, seconds: float) -> MetricEvent:
        return MetricEvent(source_key=f"{kind}:{seconds}", conversation_id="c", kind=kind,
                           at=datetime.fromtimestamp(T0 + seconds, UTC), language="en")

    rows = [row(mt.SESSION_STARTED, 0), row(mt.CUSTOMER_MESSAGE, 1), row(mt.ESCALATED, 2),
            row(mt.CLAIMED, 30)]
    later = {"event": "session_started", "timestamp": T0 + 4000, "metadata": kept_metadata()}
    rows += [row(r["kind"], 4000) for r in rasa_rows(9, "c", later, "en")]
    rows += [row(mt.CUSTOMER_MESSAGE, 4001), row(mt.RESOLVED, 4100)]
    [session] = _sessions_by_id(rows)["c"]
    assert {r.kind for r in session.rows} >= {mt.ESCALATED, mt.CLAIMED, mt.RESOLVED}
