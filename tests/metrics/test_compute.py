"""The metric definitions, edge by edge, on hand-built rows with exact expected numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from metrics.compute import (
    SUMMARY_KEYS,
    Conversation,
    conversations,
    csv_text,
    payload,
    summary,
)

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 23 November 2026, 11:00 in Berlin.
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
DAY = date(2026, 11, 23)
TARGET = 240


@dataclass
class Row:
    conversation_id: str
    at: datetime
    kind: str
    channel: str | None = None
    language: str | None = None
    intent: str | None = None
    reason: str | None = None
    article: str | None = None
    agent: str | None = None
    ticket_id: int | None = None
    value: float | None = None
    text: str | None = None


@dataclass
class Answer:
    conversation_id: str
    session_started_at: datetime
    asked_at: datetime
    human_involved: bool = False
    csat: int | None = None
    nps: int | None = None


def at(seconds: float, start: datetime = T0) -> datetime:
    return start + timedelta(seconds=seconds)


def chat(cid: str, start: datetime = T0, *, intent: str = "track_order",
         channel: str = "rest", language: str | None = "en", bot_after: float | None = 2.0,
         extra: Sequence[tuple[float, str, dict[str, Any]]] = ()) -> list[Row]:
    """One session: start, a customer message, the assistant's answer, then ``extra`` rows
    given as (seconds after start, kind, fields)."""
    rows = [Row(cid, start, "session_started", channel=channel),
            Row(cid, at(1, start), "customer_message", channel=channel, language=language,
                intent=intent)]
    if bot_after is not None:
        rows.append(Row(cid, at(1 + bot_after, start), "bot_message", channel=channel))
    rows += [Row(cid, at(s, start), kind, **fields) for s, kind, fields in extra]
    return rows


def one(rows: list[Row], surveys: Sequence[Answer] = ()) -> Conversation:
    found = conversations(rows, surveys, BERLIN)
    assert len(found) == 1
    return found[0]


def totals(rows: list[Row], surveys: Sequence[Answer] = (), **options: Any) -> dict[str, Any]:
    return payload(rows, surveys, date_from=DAY, date_to=DAY, zone=BERLIN,
                   target_seconds=TARGET, **options)["totals"]


def test_a_conversation_takes_its_topic_channel_and_language_from_its_rows() -> None:
    rows = [Row("c", T0, "session_started"),
            Row("c", at(1), "customer_message", channel="widget", language="en",
                intent="greet"),
            Row("c", at(2), "bot_message", channel="widget"),
            Row("c", at(5), "customer_message", channel="telegram", language="ru",
                intent="track_order"),
            Row("c", at(6), "customer_message", channel="telegram", intent="returns"),
            Row("c", at(7), "bot_message")]
    conv = one(rows)
    assert (conv.channel, conv.language, conv.intent) == ("widget", "ru", "track_order")
    assert conv.assistant_frt_s == 1.0
    assert conv.day == DAY and conv.hour == "2026-11-23T11"
    assert conv.contained and conv.fcr and not conv.escalated


def test_only_small_talk_is_other_and_no_language_is_english() -> None:
    rows = chat("c", intent="greet", language=None)
    conv = one(rows)
    assert (conv.intent, conv.language) == ("other", "en")


def test_a_session_without_customer_messages_is_not_a_conversation() -> None:
    rows = [Row("c", T0, "session_started"), Row("c", at(1), "bot_message")]
    assert conversations(rows, [], BERLIN) == []


def test_rows_before_the_first_session_start_belong_to_the_first_session() -> None:
    rows = [Row("c", at(-5), "customer_message", channel="rest", intent="returns"),
            *chat("c", bot_after=None)]
    conv = one(rows)
    assert conv.intent == "returns"
    assert conv.first_customer_at == at(-5)


def test_naive_datetimes_are_utc() -> None:
    naive = [Row(r.conversation_id, r.at.replace(tzinfo=None), r.kind, channel=r.channel,
                 language=r.language, intent=r.intent) for r in chat("c")]
    conv = one(naive)
    assert conv.first_customer_at == at(1)
    assert conv.hour == "2026-11-23T11"


def test_reopened_within_24_hours_and_not_after() -> None:
    first = chat("a")
    # Last customer message at T0+1 s; the next conversation starts 24 h later exactly.
    again = chat("a", at(24 * 3600 - 1))
    late = chat("b") + chat("b", at(24 * 3600 + 1))
    found = conversations(first + again + late, [], BERLIN)
    by_start = {(c.conversation_id, c.first_customer_at): c for c in found}
    assert by_start[("a", at(1))].reopened
    assert not by_start[("a", at(1))].contained and not by_start[("a", at(1))].fcr
    assert not by_start[("a", at(24 * 3600))].reopened
    assert not by_start[("b", at(1))].reopened
    # The next day is outside the range but still makes today's conversation re-opened.
    numbers = totals(first + again + late)
    assert (numbers["conversations"], numbers["reopened"], numbers["contained"]) == (2, 1, 1)
    assert (numbers["containment_rate"], numbers["fcr_rate"]) == (0.5, 0.5)


def escalation(cid: str, *, in_hours: bool = True, reason: str = "customer_request",
               claimed: float | None = None, agent: float | None = None,
               resolved: float | None = None, abandoned: float | None = None) -> list[Row]:
    extra: list[tuple[float, str, dict[str, Any]]] = [
        (10, "escalated", {"reason": reason, "value": 1.0 if in_hours else 0.0})]
    if claimed is not None:
        extra.append((10 + claimed, "claimed", {"agent": "ann"}))
    if agent is not None:
        extra.append((10 + agent, "agent_message", {"agent": "ann"}))
    if resolved is not None:
        extra.append((10 + resolved, "resolved", {"agent": "ann"}))
    if abandoned is not None:
        extra.append((10 + abandoned, "abandoned", {}))
    return chat(cid, extra=extra)


def test_pickup_within_target_excludes_early_leavers_and_out_of_hours() -> None:
    rows = (escalation("fast", claimed=30, agent=45, resolved=330)
            + escalation("on-target", claimed=240, agent=300)
            + escalation("slow", claimed=600)
            + escalation("left-early", abandoned=100)
            + escalation("left-late", abandoned=300)
            + escalation("night", in_hours=False, reason="complaint", claimed=900)
            + chat("plain"))
    numbers = totals(rows)
    assert numbers["conversations"] == 7
    assert numbers["escalated"] == 6
    assert numbers["escalation_rate"] == round(6 / 7, 4) == 0.8571
    assert numbers["escalations_by_reason"] == {"complaint": 1, "customer_request": 5}
    assert numbers["pickups"] == 4
    assert numbers["pickup_median_s"] == 420.0          # median of 30, 240, 600, 900
    assert numbers["pickup_p90_s"] == 900.0             # index ceil(3.6) - 1 = 3
    # In hours: fast, on-target, slow, left-late (left-early excluded, night out of hours).
    assert numbers["pickup_in_hours"] == 4
    assert numbers["pickup_within_target"] == 2
    assert numbers["pickup_within_target_share"] == 0.5
    assert numbers["human_frt_count"] == 2
    assert numbers["human_frt_median_s"] == 172.5
    assert numbers["human_frt_within_target_share"] == 0.5   # 45 yes, 300 no
    assert numbers["handle_count"] == 1 and numbers["handle_median_s"] == 300.0
    assert numbers["abandoned"] == 2
    assert numbers["human_involved"] == 4
    assert numbers["contained"] == 1
    assert numbers["fcr"] == 2                           # "plain" and resolved "fast"
    assert numbers["fcr_rate"] == round(2 / 7, 4)
    pay = payload(rows, [], date_from=DAY, date_to=DAY, zone=BERLIN, target_seconds=TARGET)
    # In the order of the conversations (all start together here: by id).
    assert pay["pickup_seconds"] == [30.0, 900.0, 240.0, 600.0]


def test_an_abandoned_chat_that_was_claimed_is_not_abandoned() -> None:
    conv = one(escalation("c", claimed=20, abandoned=60))
    assert not conv.abandoned and conv.human_involved and conv.pickup_s == 20.0


def test_pickup_share_is_null_without_escalations_in_hours() -> None:
    numbers = totals(escalation("night", in_hours=False, claimed=10)
                     + escalation("gone", abandoned=5))
    assert numbers["pickup_in_hours"] == 0
    assert numbers["pickup_within_target_share"] is None


def test_csat_split_and_nps_arithmetic() -> None:
    rows = chat("a") + chat("b") + chat("c") + chat("d")
    surveys = [
        Answer("a", T0, at(60), csat=5, nps=10),
        Answer("b", T0, at(60), csat=4, nps=9),
        Answer("c", T0, at(60), human_involved=True, csat=2, nps=7),
        Answer("d", T0, at(60), human_involved=True, csat=None, nps=3),
        # A survey for a conversation not in the events is not counted.
        Answer("zzz", T0, at(60), csat=1, nps=0),
    ]
    numbers = totals(rows, surveys)
    assert numbers["csat_responses"] == 3
    assert numbers["csat_mean"] == 3.67
    assert numbers["csat_satisfied_share"] == 0.6667
    assert (numbers["csat_assistant_responses"], numbers["csat_assistant_mean"]) == (2, 4.5)
    assert (numbers["csat_human_responses"], numbers["csat_human_mean"]) == (1, 2.0)
    assert numbers["nps_responses"] == 4
    assert (numbers["nps_promoters"], numbers["nps_passives"],
            numbers["nps_detractors"]) == (2, 1, 1)
    assert numbers["nps"] == 25.0


def test_a_survey_belongs_to_its_session() -> None:
    second = T0 + timedelta(hours=30)
    rows = chat("a") + chat("a", second)
    exact = Answer("a", second, at(60, second), csat=1)
    # Session start not recorded as such (clock skew): the session running when asked.
    by_time = Answer("a", T0 + timedelta(seconds=3), at(60), csat=5)
    found = conversations(rows, [exact, by_time], BERLIN)
    assert [s.csat for s in found[0].surveys] == [5]
    assert [s.csat for s in found[1].surveys] == [1]


def test_days_and_hours_are_shop_local_across_midnight() -> None:
    before = datetime(2026, 11, 23, 22, 58, 0, tzinfo=UTC)     # 23:59 in Berlin
    after = datetime(2026, 11, 23, 23, 0, 0, tzinfo=UTC)       # 00:01 on the 24th
    rows = chat("late", before) + chat("later", after)
    pay = payload(rows, [], date_from=DAY, date_to=date(2026, 11, 25), zone=BERLIN,
                  target_seconds=TARGET)
    assert [(d["key"], d["conversations"]) for d in pay["by_day"]] == [
        ("2026-11-23", 1), ("2026-11-24", 1), ("2026-11-25", 0)]
    assert [(h["key"], h["conversations"]) for h in pay["by_hour"]] == [
        ("2026-11-23T23", 1), ("2026-11-24T00", 1)]
    assert pay["range"] == {"from": "2026-11-23", "to": "2026-11-25",
                            "timezone": "Europe/Berlin"}
    only_first = payload(rows, [], date_from=DAY, date_to=DAY, zone=BERLIN,
                         target_seconds=TARGET)
    assert only_first["totals"]["conversations"] == 1


def test_filters_by_channel_and_language() -> None:
    rows = (chat("w", channel="widget", language="ru", intent="returns")
            + chat("t", channel="telegram", language="en")
            + chat("r", channel="rest", language="uk"))
    pay = payload(rows, [], date_from=DAY, date_to=DAY, zone=BERLIN, target_seconds=TARGET,
                  channel="widget")
    assert pay["channels"] == ["rest", "telegram", "widget"]
    assert pay["filters"] == {"channel": "widget", "language": "all"}
    assert pay["totals"]["conversations"] == 1
    assert [g["key"] for g in pay["by_channel"]] == ["widget"]
    assert [g["key"] for g in pay["by_intent"]] == ["returns"]
    ru = payload(rows, [], date_from=DAY, date_to=DAY, zone=BERLIN, target_seconds=TARGET,
                 language="uk")
    assert [g["key"] for g in ru["by_language"]] == ["uk"]
    none = payload(rows, [], date_from=DAY, date_to=DAY, zone=BERLIN, target_seconds=TARGET,
                   channel="widget", language="en")
    assert none["totals"]["conversations"] == 0


def test_articles_and_unanswered_follow_the_filters() -> None:
    def faq(s: float, kind: str, article: str | None = None,
            text: str | None = None) -> tuple[float, str, dict[str, Any]]:
        return (s, kind, {"article": article, "text": text})

    rows = (chat("w", channel="widget", extra=[
                faq(3, "faq_answered", "returns-window"), faq(4, "faq_helped", "returns-window"),
                faq(5, "faq_answered", "returns-window"),
                faq(6, "faq_not_helped", "returns-window"),
                faq(7, "faq_answered", "shipping"),
                faq(8, "faq_unanswered", text="do you sell gift cards")])
            + chat("t", channel="telegram", language="ru", extra=[
                faq(3, "faq_answered", "shipping"),
                faq(4, "faq_unanswered", text="есть ли подарочные карты")])
            # A row in no counted conversation counts by its own day and channel.
            + [Row("x", at(30), "faq_answered", channel="widget", article="shipping"),
               Row("y", at(86400), "faq_answered", channel="widget", article="shipping")])
    seen: list[list[tuple[str, str]]] = []

    def cluster(items: list[tuple[str, str]]) -> list[dict[str, Any]]:
        seen.append(items)
        return [{"label": "gift cards", "count": len(items), "examples": [],
                 "languages": {}}]

    pay = payload(rows, [], date_from=DAY, date_to=DAY, zone=BERLIN, target_seconds=TARGET,
                  cluster=cluster)
    assert pay["articles"] == [
        {"article": "shipping", "shown": 3, "helped": 0, "not_helped": 0, "helpfulness": None},
        {"article": "returns-window", "shown": 2, "helped": 1, "not_helped": 1,
         "helpfulness": 0.5},
    ]
    assert seen == [[("do you sell gift cards", "en"), ("есть ли подарочные карты", "ru")]]
    assert pay["unanswered"][0]["count"] == 2
    widget = payload(rows, [], date_from=DAY, date_to=DAY, zone=BERLIN,
                     target_seconds=TARGET, channel="widget", cluster=cluster)
    assert [(a["article"], a["shown"]) for a in widget["articles"]] == [
        ("returns-window", 2), ("shipping", 2)]
    assert seen[-1] == [("do you sell gift cards", "en")]
    assert payload(rows, [], date_from=DAY, date_to=DAY, zone=BERLIN,
                   target_seconds=TARGET)["unanswered"] == []


def test_an_empty_range_has_every_day_and_nulls() -> None:
    pay = payload([], [], date_from=DAY, date_to=date(2026, 11, 24), zone=BERLIN,
                  target_seconds=TARGET, live={"queued": 0, "oldest_waiting_s": None,
                                               "alerts_open": 0})
    assert [d["key"] for d in pay["by_day"]] == ["2026-11-23", "2026-11-24"]
    assert pay["by_hour"] == pay["by_channel"] == pay["articles"] == pay["unanswered"] == []
    assert pay["channels"] == [] and pay["pickup_seconds"] == []
    assert pay["live"] == {"queued": 0, "oldest_waiting_s": None, "alerts_open": 0}
    assert pay["target_seconds"] == TARGET
    empty = pay["totals"]
    assert tuple(empty) == SUMMARY_KEYS
    assert empty["conversations"] == 0 and empty["escalations_by_reason"] == {}
    nulls = [k for k, v in empty.items() if v is None]
    assert nulls == ["escalation_rate", "containment_rate", "fcr_rate",
                     "assistant_frt_median_s", "assistant_frt_p90_s", "pickup_median_s",
                     "pickup_p90_s", "pickup_within_target_share", "human_frt_median_s",
                     "human_frt_within_target_share", "handle_median_s", "csat_mean",
                     "csat_satisfied_share", "csat_assistant_mean", "csat_human_mean", "nps"]
    assert all(tuple(d) == ("key", *SUMMARY_KEYS) for d in pay["by_day"])


def test_medians_and_p90_and_rounding() -> None:
    rows: list[Row] = []
    for n, delay in enumerate([1.04, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.26]):
        rows += chat(f"c{n}", bot_after=delay)
    numbers = summary(conversations(rows, [], BERLIN), TARGET)
    assert numbers["assistant_frt_median_s"] == 5.5
    assert numbers["assistant_frt_p90_s"] == 9.0          # index ceil(9.0) - 1 = 8
    rows += chat("c10", bot_after=11.0)
    numbers = summary(conversations(rows, [], BERLIN), TARGET)
    assert numbers["assistant_frt_median_s"] == 6.0
    assert numbers["assistant_frt_p90_s"] == 10.3         # index ceil(9.9) - 1 = 9


def test_csv_groups_rows_and_leaves_null_cells_empty() -> None:
    rows = (chat("a", channel="widget", language="ru", intent="returns")
            + escalation("b", reason="complaint", claimed=60)
            + escalation("c", reason="angry", abandoned=10)
            + chat("d", bot_after=None)
            + chat("e", datetime(2026, 11, 24, 9, 0, tzinfo=UTC)))
    text = csv_text(rows, [Answer("a", T0, at(60), csat=4)], date_from=DAY,
                    date_to=date(2026, 11, 24), zone=BERLIN, target_seconds=TARGET)
    table = list(csv.reader(io.StringIO(text)))
    header = table[0]
    keys = [k for k in SUMMARY_KEYS if k != "escalations_by_reason"]
    assert header == ["day", "channel", "language", "intent", *keys,
                      "escalations_angry", "escalations_complaint"]
    records = [dict(zip(header, line, strict=True)) for line in table[1:]]
    assert [(r["day"], r["channel"], r["language"], r["intent"]) for r in records] == [
        ("2026-11-23", "rest", "en", "track_order"),
        ("2026-11-23", "widget", "ru", "returns"),
        ("2026-11-24", "rest", "en", "track_order")]
    rest = records[0]
    assert rest["conversations"] == "3"
    assert rest["escalated"] == "2" and rest["escalation_rate"] == "0.6667"
    assert rest["escalations_angry"] == "1" and rest["escalations_complaint"] == "1"
    assert rest["pickup_median_s"] == "60.0"
    assert rest["pickup_within_target_share"] == "1.0"     # "c" left before the target
    assert rest["csat_mean"] == "" and rest["nps"] == ""
    widget = records[1]
    assert widget["csat_mean"] == "4.0" and widget["escalations_angry"] == "0"
    assert widget["escalation_rate"] == "0.0"
    assert text.endswith("\n") and "\r" not in text
    only_widget = csv_text(rows, [], date_from=DAY, date_to=DAY, zone=BERLIN,
                           target_seconds=TARGET, channel="widget")
    assert only_widget.splitlines()[0].split(",")[-1] == "nps_detractors"
    assert len(only_widget.splitlines()) == 2


def test_csv_of_an_empty_range_is_a_header() -> None:
    text = csv_text([], [], date_from=DAY, date_to=DAY, zone=BERLIN, target_seconds=TARGET)
    assert text.count("\n") == 1 and text.startswith("day,channel,language,intent,conversations,")
