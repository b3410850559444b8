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
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta, tzinfo
from typing import Any

from contract.metrics_tables import (
    FAQ_ANSWERED,
    FAQ_HELPED,
    FAQ_NOT_HELPED,
    FAQ_UNANSWERED,
)
from metrics.conversations import (
    ALL,
    DEFAULT_LANGUAGE,
    UNKNOWN_REASON,
    Conversation,
    EventRow,
    SurveyRow,
    conversations,
    measured_sessions,
    select,
    utc,
)

# What the dashboard, the CSV export and the tests read from here.
__all__ = ["ALL", "SUMMARY_KEYS", "Conversation", "conversations", "csv_text", "payload",
           "select", "summary"]

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


# Groups unanswered questions by meaning: (text, language) pairs -> clusters.
Cluster = Callable[[list[tuple[str, str]]], list[dict[str, Any]]]


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
    sessions_by_id = measured_sessions(events, surveys, zone)
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
