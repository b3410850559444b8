"""The service-quality numbers, computed from ``metric_events`` and ``surveys`` rows.

Pure functions, no I/O: the caller reads the rows (from ``date_from`` − 1 day to
``date_to`` + 1 day, so that a conversation re-opened the next day is seen) and passes
them in. Every definition below is the one the README documents:

* a conversation is one Rasa session of one conversation id with at least one customer
  message; its day, hour, channel, language and intent come from its rows;
* times are seconds between the first row of one kind and the first row of another kind
  after it; rates and shares are 0..1 and rounded to 4 decimals, seconds to 1, means to 2;
* medians are ``statistics.median``; p90 is the value at index ceil(0.9·n) − 1 of the
  sorted values.

Datetimes without a time zone (SQLite returns them so) are UTC.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Protocol

from contract.metrics_tables import (
    ABANDONED,
    AGENT_MESSAGE,
    BOT_MESSAGE,
    CLAIMED,
    CUSTOMER_MESSAGE,
    ESCALATED,
    FAQ_ANSWERED,
    FAQ_HELPED,
    FAQ_NOT_HELPED,
    FAQ_UNANSWERED,
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

# The keys of every summary object, in the order the JSON and the CSV use.
SUMMARY_KEYS = (
    "conversations", "escalated", "escalation_rate", "escalations_by_reason",
    "contained", "containment_rate", "fcr", "fcr_rate", "reopened", "abandoned",
    "human_involved",
    "assistant_frt_median_s", "assistant_frt_p90_s",
    "pickups", "pickup_median_s", "pickup_p90_s", "pickup_in_hours", "pickup_within_target",
    "pickup_within_target_share",
    "human_frt_count", "human_frt_median_s", "human_frt_within_target_share",
    "handle_count", "handle_median_s",
    "csat_responses", "csat_mean", "csat_satisfied_share",
    "csat_assistant_responses", "csat_assistant_mean", "csat_human_responses",
    "csat_human_mean",
    "nps_responses", "nps", "nps_promoters", "nps_passives", "nps_detractors",
)
CSV_GROUP_COLUMNS = ("day", "channel", "language", "intent")


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


# Groups unanswered questions by meaning: (text, language) pairs -> clusters.
Cluster = Callable[[list[tuple[str, str]]], list[dict[str, Any]]]


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


def _build(events: Iterable[EventRow], surveys: Iterable[SurveyRow],
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
    sessions_by_id = _build(events, surveys, zone)
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


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _secs(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _median(values: Sequence[float]) -> float | None:
    return _secs(statistics.median(values)) if values else None


def _p90(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return _secs(ordered[math.ceil(0.9 * len(ordered)) - 1])


def _mean(values: Sequence[int]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


def summary(convs: Sequence[Conversation], target_seconds: float) -> dict[str, Any]:
    """The summary object of the contract for ``convs``: counts, rates, times, CSAT, NPS."""
    total = len(convs)
    escalated = [c for c in convs if c.escalated]
    contained = sum(c.contained for c in convs)
    fcr = sum(c.fcr for c in convs)
    assistant = [c.assistant_frt_s for c in convs if c.assistant_frt_s is not None]
    pickups = [c.pickup_s for c in convs if c.pickup_s is not None]
    # Pickup target: escalations in agent hours, except customers who left unclaimed
    # before the target elapsed (nobody could have failed them yet).
    in_hours = [c for c in escalated if c.in_hours
                and not (c.abandon_s is not None and c.abandon_s < target_seconds)]
    within = sum(c.pickup_s is not None and c.pickup_s <= target_seconds for c in in_hours)
    human_frt = [c.human_frt_s for c in convs if c.human_frt_s is not None]
    handle = [c.handle_s for c in convs if c.handle_s is not None]
    answers = [a for c in convs for a in c.surveys]
    csat = [a.csat for a in answers if a.csat is not None]
    csat_assistant = [a.csat for a in answers if a.csat is not None and not a.human_involved]
    csat_human = [a.csat for a in answers if a.csat is not None and a.human_involved]
    nps = [a.nps for a in answers if a.nps is not None]
    promoters = sum(score >= 9 for score in nps)
    detractors = sum(score <= 6 for score in nps)
    reasons = Counter(c.reason or UNKNOWN_REASON for c in escalated)
    result: dict[str, Any] = {
        "conversations": total,
        "escalated": len(escalated),
        "escalation_rate": _share(len(escalated), total),
        "escalations_by_reason": dict(sorted(reasons.items())),
        "contained": contained,
        "containment_rate": _share(contained, total),
        "fcr": fcr,
        "fcr_rate": _share(fcr, total),
        "reopened": sum(c.reopened for c in convs),
        "abandoned": sum(c.abandoned for c in convs),
        "human_involved": sum(c.human_involved for c in convs),
        "assistant_frt_median_s": _median(assistant),
        "assistant_frt_p90_s": _p90(assistant),
        "pickups": len(pickups),
        "pickup_median_s": _median(pickups),
        "pickup_p90_s": _p90(pickups),
        "pickup_in_hours": len(in_hours),
        "pickup_within_target": within,
        "pickup_within_target_share": _share(within, len(in_hours)),
        "human_frt_count": len(human_frt),
        "human_frt_median_s": _median(human_frt),
        "human_frt_within_target_share": _share(
            sum(s <= target_seconds for s in human_frt), len(human_frt)),
        "handle_count": len(handle),
        "handle_median_s": _median(handle),
        "csat_responses": len(csat),
        "csat_mean": _mean(csat),
        "csat_satisfied_share": _share(sum(score >= 4 for score in csat), len(csat)),
        "csat_assistant_responses": len(csat_assistant),
        "csat_assistant_mean": _mean(csat_assistant),
        "csat_human_responses": len(csat_human),
        "csat_human_mean": _mean(csat_human),
        "nps_responses": len(nps),
        "nps": round(100 * (promoters - detractors) / len(nps), 1) if nps else None,
        "nps_promoters": promoters,
        "nps_passives": len(nps) - promoters - detractors,
        "nps_detractors": detractors,
    }
    return result


def _grouped(convs: Iterable[Conversation], key: Callable[[Conversation], str],
             target_seconds: float) -> list[dict[str, Any]]:
    groups: dict[str, list[Conversation]] = defaultdict(list)
    for conv in convs:
        groups[key(conv)].append(conv)
    return [{"key": name, **summary(members, target_seconds)}
            for name, members in sorted(groups.items())]


def _days(date_from: date, date_to: date) -> list[date]:
    return [date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1)]


def payload(events: Iterable[EventRow], surveys: Iterable[SurveyRow], *, date_from: date,
            date_to: date, zone: tzinfo, target_seconds: float, channel: str = ALL,
            language: str = ALL, live: dict[str, Any] | None = None,
            cluster: Cluster | None = None) -> dict[str, Any]:
    """The whole metrics JSON of the contract for shop-local days ``date_from``..``date_to``.

    ``events`` should reach a day beyond both ends of the range (re-opened conversations);
    ``cluster`` groups unanswered questions (``clusters.QuestionClusterer``), else none.
    """
    sessions_by_id = _build(events, surveys, zone)
    all_convs = sorted((s.conversation for sessions in sessions_by_id.values()
                        for s in sessions if s.conversation is not None),
                       key=lambda c: (c.first_customer_at, c.conversation_id))
    in_range = select(all_convs, date_from, date_to)
    chosen = select(in_range, date_from, date_to, channel, language)
    by_day = {day: [c for c in chosen if c.day == day] for day in _days(date_from, date_to)}

    chosen_ids = {id(c) for c in chosen}

    def in_filters(row: EventRow, conv: Conversation | None) -> bool:
        if conv is not None:
            return id(conv) in chosen_ids
        # A row outside any counted conversation: its own local day, channel and language.
        day = utc(row.at).astimezone(zone).date()
        return (date_from <= day <= date_to and channel in (ALL, row.channel)
                and language in (ALL, row.language or DEFAULT_LANGUAGE))

    articles: dict[str, Counter[str]] = defaultdict(Counter)
    unanswered: list[tuple[str, str]] = []
    for sessions in sessions_by_id.values():
        for session in sessions:
            conv = session.conversation
            for row in session.rows:
                if row.kind not in {FAQ_ANSWERED, FAQ_HELPED, FAQ_NOT_HELPED, FAQ_UNANSWERED}:
                    continue
                if not in_filters(row, conv):
                    continue
                if row.kind == FAQ_UNANSWERED:
                    if row.text and row.text.strip():
                        fallback = conv.language if conv is not None else DEFAULT_LANGUAGE
                        unanswered.append((row.text, row.language or fallback))
                elif row.article:
                    articles[row.article][row.kind] += 1
    article_rows: list[dict[str, Any]] = []
    for article, counts in articles.items():
        helped, not_helped = counts[FAQ_HELPED], counts[FAQ_NOT_HELPED]
        article_rows.append({
            "article": article, "shown": counts[FAQ_ANSWERED], "helped": helped,
            "not_helped": not_helped, "helpfulness": _share(helped, helped + not_helped)})
    article_rows.sort(key=lambda a: (-a["shown"], a["article"]))
    return {
        "range": {"from": date_from.isoformat(), "to": date_to.isoformat(),
                  "timezone": str(zone)},
        "filters": {"channel": channel, "language": language},
        "target_seconds": target_seconds,
        "channels": sorted({c.channel for c in in_range}),
        "totals": summary(chosen, target_seconds),
        "by_day": [{"key": day.isoformat(), **summary(members, target_seconds)}
                   for day, members in by_day.items()],
        "by_hour": _grouped(chosen, lambda c: c.hour, target_seconds),
        "by_channel": _grouped(chosen, lambda c: c.channel, target_seconds),
        "by_language": _grouped(chosen, lambda c: c.language, target_seconds),
        "by_intent": _grouped(chosen, lambda c: c.intent, target_seconds),
        "articles": article_rows,
        "unanswered": cluster(unanswered) if cluster is not None and unanswered else [],
        "pickup_seconds": [_secs(c.pickup_s) for c in chosen if c.pickup_s is not None],
        "live": live,
    }


def _cell(value: Any) -> Any:
    return "" if value is None else value


def csv_text(events: Iterable[EventRow], surveys: Iterable[SurveyRow], *, date_from: date,
             date_to: date, zone: tzinfo, target_seconds: float, channel: str = ALL,
             language: str = ALL) -> str:
    """The CSV export: one row per (day, channel, language, intent) with conversations.

    Takes the same rows and filters as ``payload``; empty cells stand for null.
    """
    chosen = select(conversations(events, surveys, zone), date_from, date_to,
                    channel, language)
    groups: dict[tuple[str, str, str, str], list[Conversation]] = defaultdict(list)
    for conv in chosen:
        groups[(conv.day.isoformat(), conv.channel, conv.language, conv.intent)].append(conv)
    reasons = sorted({c.reason or UNKNOWN_REASON for c in chosen if c.escalated})
    keys = [key for key in SUMMARY_KEYS if key != "escalations_by_reason"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_GROUP_COLUMNS, *keys, *(f"escalations_{r}" for r in reasons)])
    for group, members in sorted(groups.items()):
        numbers = summary(members, target_seconds)
        by_reason = numbers["escalations_by_reason"]
        writer.writerow([*group, *(_cell(numbers[key]) for key in keys),
                         *(by_reason.get(r, 0) for r in reasons)])
    return out.getvalue()
