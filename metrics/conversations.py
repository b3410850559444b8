"""Conversations from the service-quality record: the ``metric_events`` and ``surveys``
rows of each Rasa session with a customer message, measured (first answer, escalation,
pickup, resolution, FAQ outcomes, surveys). Pure functions, no I/O; ``compute`` turns them
into the dashboard's numbers. Datetimes without a time zone (SQLite returns them so) are
UTC.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol

from contract.metrics_tables import (
    ABANDONED,
    AGENT_MESSAGE,
    BOT_MESSAGE,
    CLAIMED,
    CUSTOMER_MESSAGE,
    ESCALATED,
    RESOLVED,
    SESSION_STARTED,
)

# Intents that say nothing about what the conversation was about.
NON_TOPIC_INTENTS = frozenset({
    "greet", "goodbye", "thank", "affirm", "deny", "inform", "bot_challenge",
    "survey_answer", "survey_skip", "EXTERNAL_survey", "nlu_fallback",
})
OTHER_INTENT = "other"
DEFAULT_LANGUAGE = "en"
UNKNOWN_REASON = "unknown"
REOPEN_WINDOW = timedelta(hours=24)
ALL = "all"

class EventRow(Protocol):
    """What compute reads of a ``metric_events`` row (``tables.MetricEvent``)."""

    @property
    def conversation_id(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def kind(self) -> str: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def language(self) -> str | None: ...
    @property
    def intent(self) -> str | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def article(self) -> str | None: ...
    @property
    def value(self) -> float | None: ...
    @property
    def text(self) -> str | None: ...


class SurveyRow(Protocol):
    """What compute reads of a ``surveys`` row (``tables.Survey``)."""

    @property
    def conversation_id(self) -> str: ...
    @property
    def session_started_at(self) -> datetime: ...
    @property
    def asked_at(self) -> datetime: ...
    @property
    def human_involved(self) -> bool: ...
    @property
    def csat(self) -> int | None: ...
    @property
    def nps(self) -> int | None: ...


@dataclass(frozen=True)
class SurveyAnswer:
    csat: int | None
    nps: int | None
    human_involved: bool


@dataclass
class Conversation:
    """One counted conversation (a session with a customer message) and what it measured."""

    conversation_id: str
    session_start: datetime            # UTC
    first_customer_at: datetime        # UTC
    last_customer_at: datetime         # UTC
    day: date                          # shop-local date of the first customer message
    hour: str                          # shop-local "YYYY-MM-DDTHH" of the same
    channel: str
    language: str
    intent: str
    assistant_frt_s: float | None = None
    escalated: bool = False
    reason: str | None = None
    in_hours: bool = False
    claimed: bool = False
    pickup_s: float | None = None      # first escalated -> first claimed after it
    abandon_s: float | None = None     # first escalated -> first abandoned, if never claimed
    human_frt_s: float | None = None   # first escalated -> first agent message after it
    handle_s: float | None = None      # first claimed -> first resolved after it
    resolved: bool = False
    human_involved: bool = False
    abandoned: bool = False
    reopened: bool = False
    surveys: list[SurveyAnswer] = field(default_factory=list)

    @property
    def contained(self) -> bool:
        return not self.escalated and not self.reopened

    @property
    def fcr(self) -> bool:
        return not self.reopened and (not self.escalated or self.resolved)


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; naive values are UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass
class _Session:
    start: datetime | None
    rows: list[EventRow] = field(default_factory=list)
    conversation: Conversation | None = None


def _sessions_by_id(events: Iterable[EventRow]) -> dict[str, list[_Session]]:
    """Each conversation id's sessions, oldest first, with the rows that belong to them."""
    by_id: dict[str, list[tuple[datetime, int, int, EventRow]]] = defaultdict(list)
    for position, row in enumerate(events):
        # A session start sorts before anything else at the same instant.
        rank = 0 if row.kind == SESSION_STARTED else 1
        by_id[row.conversation_id].append((utc(row.at), rank, position, row))
    result: dict[str, list[_Session]] = {}
    for conversation_id, entries in by_id.items():
        entries.sort(key=lambda entry: entry[:3])
        sessions: list[_Session] = []
        for at, _, _, row in entries:
            if row.kind == SESSION_STARTED:
                sessions.append(_Session(start=at))
            elif not sessions:
                # Rows before any session start belong to the first session.
                sessions.append(_Session(start=None))
            if row.kind == SESSION_STARTED:
                continue
            sessions[-1].rows.append(row)
        # A leading start-less session merges into the first real session.
        if len(sessions) > 1 and sessions[0].start is None:
            first = sessions.pop(0)
            sessions[0].rows[:0] = first.rows
        result[conversation_id] = sessions
    return result


def _seconds(later: datetime, earlier: datetime) -> float:
    return (utc(later) - utc(earlier)).total_seconds()


def _first_after(rows: Sequence[EventRow], kind: str, index: int) -> EventRow | None:
    for row in rows[index + 1:]:
        if row.kind == kind:
            return row
    return None


def _index_of(rows: Sequence[EventRow], kind: str) -> int | None:
    for index, row in enumerate(rows):
        if row.kind == kind:
            return index
    return None


def _measure(conversation_id: str, session: _Session, zone: tzinfo) -> Conversation | None:
    rows = session.rows
    customer = [row for row in rows if row.kind == CUSTOMER_MESSAGE]
    if not customer:
        return None
    first_index = rows.index(customer[0])
    first_at = utc(customer[0].at)
    local = first_at.astimezone(zone)
    language = next((row.language for row in reversed(rows) if row.language), None)
    intent = next((row.intent for row in customer
                   if row.intent is not None and row.intent not in NON_TOPIC_INTENTS),
                  OTHER_INTENT)
    conv = Conversation(
        conversation_id=conversation_id,
        session_start=session.start or utc(rows[0].at),
        first_customer_at=first_at,
        last_customer_at=utc(customer[-1].at),
        day=local.date(),
        hour=local.strftime("%Y-%m-%dT%H"),
        channel=customer[0].channel or "unknown",
        language=language or DEFAULT_LANGUAGE,
        intent=intent,
    )
    bot = _first_after(rows, BOT_MESSAGE, first_index)
    if bot is not None:
        conv.assistant_frt_s = _seconds(bot.at, first_at)
    kinds = {row.kind for row in rows}
    conv.claimed = CLAIMED in kinds
    conv.resolved = RESOLVED in kinds
    conv.human_involved = conv.claimed or AGENT_MESSAGE in kinds
    conv.abandoned = ABANDONED in kinds and not conv.claimed
    escalated_index = _index_of(rows, ESCALATED)
    if escalated_index is not None:
        escalated = rows[escalated_index]
        conv.escalated = True
        conv.reason = escalated.reason or UNKNOWN_REASON
        conv.in_hours = escalated.value == 1
        claimed = _first_after(rows, CLAIMED, escalated_index)
        if claimed is not None:
            conv.pickup_s = _seconds(claimed.at, escalated.at)
        agent = _first_after(rows, AGENT_MESSAGE, escalated_index)
        if agent is not None:
            conv.human_frt_s = _seconds(agent.at, escalated.at)
        if conv.abandoned:
            left = next(row for row in rows if row.kind == ABANDONED)
            conv.abandon_s = max(0.0, _seconds(left.at, escalated.at))
    claimed_index = _index_of(rows, CLAIMED)
    if claimed_index is not None:
        resolved = _first_after(rows, RESOLVED, claimed_index)
        if resolved is not None:
            conv.handle_s = _seconds(resolved.at, rows[claimed_index].at)
    return conv


def _session_for(sessions: Sequence[_Session], survey: SurveyRow) -> _Session | None:
    started = utc(survey.session_started_at)
    for session in sessions:
        if session.start == started:
            return session
    asked = utc(survey.asked_at)
    candidates = [s for s in sessions if s.start is not None and s.start <= asked]
    if candidates:
        return candidates[-1]
    return sessions[0] if sessions else None


def measured_sessions(events: Iterable[EventRow], surveys: Iterable[SurveyRow],
           zone: tzinfo) -> dict[str, list[_Session]]:
    sessions_by_id = _sessions_by_id(events)
    for conversation_id, sessions in sessions_by_id.items():
        for session in sessions:
            session.conversation = _measure(conversation_id, session, zone)
        counted = [s.conversation for s in sessions if s.conversation is not None]
        for earlier, later in itertools.pairwise(counted):
            gap = later.first_customer_at - earlier.last_customer_at
            earlier.reopened = timedelta(0) <= gap <= REOPEN_WINDOW
    for survey in surveys:
        owner = _session_for(sessions_by_id.get(survey.conversation_id, []), survey)
        if owner is not None and owner.conversation is not None:
            owner.conversation.surveys.append(SurveyAnswer(
                csat=survey.csat, nps=survey.nps, human_involved=bool(survey.human_involved)))
    return sessions_by_id


def conversations(events: Iterable[EventRow], surveys: Iterable[SurveyRow],
                  zone: tzinfo = UTC) -> list[Conversation]:
    """Every counted conversation in ``events``, ordered by first customer message."""
    sessions_by_id = measured_sessions(events, surveys, zone)
    found = [s.conversation for sessions in sessions_by_id.values() for s in sessions
             if s.conversation is not None]
    found.sort(key=lambda c: (c.first_customer_at, c.conversation_id))
    return found


def select(convs: Iterable[Conversation], date_from: date, date_to: date,
           channel: str = ALL, language: str = ALL) -> list[Conversation]:
    """The conversations whose day is in the range and that match the filters."""
    return [c for c in convs
            if date_from <= c.day <= date_to
            and channel in (ALL, c.channel) and language in (ALL, c.language)]
