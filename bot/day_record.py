"""What happened in a simulated day, conversation by conversation (``Record``), and what
the service-quality metrics must say about it, computed from the records alone
(``expected``): the simulated day (``simulation.py``) checks the dashboard against it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Record:
    """One conversation, as the simulated customer and agent lived it."""

    sender: str
    scenario: str
    language: str
    session: int = 0                  # 1 = the same customer coming back
    intent: str | None = None         # the topic, where the script fixes it (a payload)
    started: float = 0.0              # wall clock of the first message
    first_reply_seconds: float | None = None
    article: str | None = None
    feedback: str | None = None       # helped | not_helped
    unanswered: list[tuple[str, str]] = field(default_factory=list)  # (group, text)
    escalation: str | None = None     # reason
    ticket_id: int | None = None
    ticket_created: float | None = None
    claim_sent: float | None = None   # the claim request went out ...
    claimed: float | None = None      # ... and its answer came back
    agent_replied: float | None = None
    resolved: bool = False
    abandoned: bool = False
    leaving: float | None = None      # the customer's "never mind" went out ...
    left_at: float | None = None      # ... and its answer came back
    csat: int | None = None
    nps: int | None = None
    nps_asked: bool = False
    comment: str | None = None
    survey_seen: bool = False
    status_told: bool = False         # asked where the request stands, and was told
    reopened: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def human_involved(self) -> bool:
        return self.claimed is not None


# What the metrics must say, from the records alone ------------------------------------------

# The console API gives a ticket's creation to the second (truncated).
CREATED_PRECISION = 1.0


def _span(record: Record, start: float | None, end: float | None) -> tuple[float, float] | None:
    """Seconds from the ticket's creation to a request that went out at ``start`` and
    came back at ``end``, as (earliest, latest): the service did it somewhere in between,
    and the ticket was created within a second after the time the API shows."""
    if start is None or end is None or record.ticket_created is None:
        return None
    return start - record.ticket_created - CREATED_PRECISION, end - record.ticket_created


def waited(record: Record) -> tuple[float, float] | None:
    """How long the chat waited for a person, as the (earliest, latest) the script can
    tell: until it was claimed, or until the customer left."""
    if record.claimed is not None:
        return _span(record, record.claim_sent, record.claimed)
    return _span(record, record.leaving, record.left_at)


def too_close(records: list[Record], target: float, margin: float = 1.0) -> list[str]:
    """Chats whose wait, or the agent's first reply, is too near the target for the script
    to know on which side the service saw it."""
    near = []
    for r in records:
        for span in (waited(r), _span(r, r.claimed, r.agent_replied)):
            if span is not None and span[0] - margin < target < span[1] + margin:
                near.append(r.sender)
                break
    return near


def expected(records: list[Record], target: float) -> dict[str, Any]:
    """The metrics from the records alone; waits are measured on the script's clock."""
    convs = list(records)
    escalated = [r for r in convs if r.escalation]
    claimed = [r for r in convs if r.claimed is not None]
    over = [r for r in escalated if (w := waited(r)) is not None and w[0] > target]
    csat = [r for r in convs if r.csat is not None]
    nps = [r for r in convs if r.nps is not None]

    def mean(values: list[int]) -> float | None:
        return round(statistics.mean(values), 2) if values else None

    promoters = sum(1 for r in nps if r.nps is not None and r.nps >= 9)
    detractors = sum(1 for r in nps if r.nps is not None and r.nps <= 6)
    articles: dict[str, Counter[str]] = {}
    for r in convs:
        if r.article:
            articles.setdefault(r.article, Counter())["shown"] += 1
            if r.feedback:
                articles[r.article][r.feedback] += 1
    groups: Counter[str] = Counter(g for r in convs for g, _ in r.unanswered)
    return {
        "conversations": len(convs),
        "escalated": len(escalated),
        "escalations_by_reason": dict(Counter(r.escalation for r in escalated
                                              if r.escalation)),
        "abandoned": sum(1 for r in convs if r.abandoned),
        "human_involved": len(claimed),
        "reopened": sum(1 for r in convs if r.reopened),
        "contained": sum(1 for r in convs if not r.escalation and not r.reopened),
        "fcr": sum(1 for r in convs if not r.reopened and (not r.escalation or r.resolved)),
        "pickups": len(claimed),
        # Every escalation is in agent hours; customers who gave up before the target
        # are left out, those who waited longer count as misses.
        "pickup_in_hours": len(claimed) + sum(1 for r in over if r.claimed is None),
        "pickup_within_target": len(claimed) - sum(1 for r in over if r.claimed is not None),
        "late": sorted(r.ticket_id for r in over if r.ticket_id is not None),
        "human_frt_within_target": sum(
            1 for r in convs if r.agent_replied is not None and r.ticket_created is not None
            and r.agent_replied - r.ticket_created <= target),
        # Each pickup lies between its claim going out and its answer coming back.
        "pickup_earliest": sorted(w[0] for r in claimed if (w := waited(r)) is not None),
        "pickup_latest": sorted(w[1] for r in claimed if (w := waited(r)) is not None),
        "human_frt_count": sum(1 for r in convs if r.agent_replied is not None),
        "handle_count": sum(1 for r in convs if r.resolved),
        "csat_responses": len(csat),
        "csat_mean": mean([r.csat for r in csat if r.csat is not None]),
        "csat_assistant_responses": sum(1 for r in csat if not r.human_involved),
        "csat_human_responses": sum(1 for r in csat if r.human_involved),
        "csat_human_mean": mean([r.csat for r in csat if r.human_involved and r.csat]),
        "csat_assistant_mean": mean([r.csat for r in csat if not r.human_involved and r.csat]),
        "csat_satisfied": sum(1 for r in csat if r.csat is not None and r.csat >= 4),
        "nps_responses": len(nps),
        "nps": round(100 * (promoters - detractors) / len(nps), 1) if nps else None,
        "articles": {a: dict(c) for a, c in articles.items()},
        "unanswered_groups": dict(groups),
        "by_language": dict(Counter(r.language for r in convs)),
        "by_intent": dict(Counter(r.intent for r in convs if r.intent)),
        "surveys_answered_human": sum(1 for r in csat if r.human_involved),
        "today": datetime.now(UTC).date().isoformat(),
    }
