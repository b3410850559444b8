"""Console routes for service quality: the supervisors' metrics (JSON and CSV), and the
agent action that erases a customer's conversation from every store.

``GET /api/metrics`` and ``GET /api/metrics.csv`` take ``from`` and ``to`` (shop-local
dates, inclusive; default the last 7 days), ``channel`` and ``language`` (default
``all``). Supervisors only: agents get 403. ``POST /api/tickets/{id}/erase`` with
``{"confirm": "<conversation id>"}`` erases that ticket's conversation (any agent: the
customer asks whoever is helping them); the erasure log keeps who, when and how many rows,
never the content or the conversation id itself.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from handoff.api import SERVICE, SETTINGS, SUPERVISOR_HOOKS, authenticated, error
from handoff.hours import pickup_clock
from handoff.store import Agent, utcnow
from metrics import compute
from metrics.clusters import QuestionClusterer
from metrics.erase import Stores
from metrics.retention import erase_and_log

log = logging.getLogger(__name__)

MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 7
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9999, 12, 1)
CLUSTERER = web.AppKey("clusterer", dict)
STORES = web.AppKey("stores", Stores)


class RangeError(ValueError):
    pass


def _day(raw: str | None, default: date, name: str) -> date:
    if not raw:
        return default
    try:
        day = date.fromisoformat(raw)
    except ValueError as exc:
        raise RangeError(f"'{name}' must be a date like 2026-11-23, got {raw!r}") from exc
    if not FIRST_DAY <= day <= LAST_DAY:  # the range's days around it must exist too
        raise RangeError(f"'{name}' must be a date between {FIRST_DAY} and {LAST_DAY}, "
                         f"got {raw!r}")
    return day


def parse_range(query: Any, today: date) -> tuple[date, date, str, str]:
    date_to = _day(query.get("to"), today, "to")
    date_from = _day(query.get("from"), date_to - timedelta(days=DEFAULT_RANGE_DAYS - 1),
                     "from")
    if date_from > date_to:
        raise RangeError("'from' is after 'to'")
    if (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise RangeError(f"at most {MAX_RANGE_DAYS} days at a time")
    channel = str(query.get("channel") or compute.ALL)[:64]
    language = str(query.get("language") or compute.ALL)[:8]
    return date_from, date_to, channel, language


async def _rows(request: web.Request, date_from: date, date_to: date,
                zone: ZoneInfo) -> tuple[list[Any], list[Any]]:
    """The record a day beyond both ends of the range (re-opened conversations)."""
    start = datetime.combine(date_from - timedelta(days=1), datetime.min.time(), zone)
    end = datetime.combine(date_to + timedelta(days=2), datetime.min.time(), zone)
    return await request.app[SERVICE].quality_record(start, end)


async def _live(request: web.Request) -> dict[str, Any]:
    service = request.app[SERVICE]
    now = utcnow()
    clocks = [(t, pickup_clock(t)) for t in await service.queued()]
    queued = [t for t, clock in clocks if clock is not None]
    waits = [(now - clock).total_seconds() for _, clock in clocks if clock is not None]
    return {"queued": len(queued), "oldest_waiting_s": round(max(waits), 1) if waits else None,
            "alerts_open": sum(1 for t in queued if t.alerted_at is not None)}


def _load_clusterer() -> QuestionClusterer:
    clusterer = QuestionClusterer.from_settings()
    clusterer.language_means()  # the reference questions, embedded once
    return clusterer


async def _clusterer(app: web.Application) -> QuestionClusterer:
    """The encoder for unanswered questions: loaded once, in a thread (about 15 s)."""
    holder = app[CLUSTERER]
    if "task" not in holder:
        holder["task"] = asyncio.ensure_future(asyncio.to_thread(_load_clusterer))
    clusterer: QuestionClusterer = await asyncio.shield(holder["task"])
    return clusterer


def _warm_up(app: web.Application) -> None:
    """A supervisor opened the console: load the encoder now, so their dashboard is quick.
    (Consoles of agents only never load it.)"""
    if "warm_up" in app[CLUSTERER]:
        return

    async def load() -> None:
        try:
            await _clusterer(app)
        except Exception:
            log.exception("the question encoder did not load; the dashboard will retry")
            app[CLUSTERER].pop("task", None)
            app[CLUSTERER].pop("warm_up", None)

    app[CLUSTERER]["warm_up"] = asyncio.get_running_loop().create_task(load())


async def _stop_warm_up(app: web.Application) -> None:
    task = app[CLUSTERER].get("warm_up")
    if task is not None:
        task.cancel()


@dataclass
class Query:
    """A supervisor's metrics request: the range and filters, and the record they need."""

    date_from: date
    date_to: date
    channel: str
    language: str
    zone: ZoneInfo
    events: list[Any]
    surveys: list[Any]


async def _query(request: web.Request, agent: Agent) -> tuple[Query | None, web.Response | None]:
    """The checked request (supervisors only), or the response refusing it."""
    if agent.role != "supervisor":
        return None, error(403, "the service-quality dashboard is for supervisors")
    zone = ZoneInfo(request.app[SETTINGS].timezone)
    try:
        date_from, date_to, channel, language = parse_range(request.query,
                                                            utcnow().astimezone(zone).date())
    except RangeError as exc:
        return None, error(400, str(exc))
    events, surveys = await _rows(request, date_from, date_to, zone)
    return Query(date_from, date_to, channel, language, zone, events, surveys), None


async def metrics_json(request: web.Request, agent: Agent) -> web.Response:
    query, refused = await _query(request, agent)
    if query is None:
        return refused or error(400, "bad request")
    settings = request.app[SETTINGS]
    clusterer: QuestionClusterer | None
    try:
        clusterer = await _clusterer(request.app)
    except Exception:  # the numbers still come; only the topics are missing
        log.exception("unanswered questions not grouped: the encoder did not load")
        request.app[CLUSTERER].pop("task", None)
        clusterer = None

    def build() -> dict[str, Any]:
        assert query is not None
        return compute.payload(query.events, query.surveys, date_from=query.date_from,
                               date_to=query.date_to, zone=query.zone,
                               target_seconds=settings.pickup_target_seconds,
                               channel=query.channel, language=query.language, live=live,
                               cluster=clusterer)

    live = await _live(request)
    # Embedding the unanswered questions is CPU work: off the event loop.
    body = await asyncio.to_thread(build)
    return web.json_response(body)


async def metrics_csv(request: web.Request, agent: Agent) -> web.StreamResponse:
    query, refused = await _query(request, agent)
    if query is None:
        return refused or error(400, "bad request")
    text = compute.csv_text(query.events, query.surveys, date_from=query.date_from,
                            date_to=query.date_to, zone=query.zone,
                            target_seconds=request.app[SETTINGS].pickup_target_seconds,
                            channel=query.channel, language=query.language)
    name = f"service-quality-{query.date_from}-{query.date_to}-{query.channel}.csv"
    return web.Response(text=text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def erase_ticket(request: web.Request, agent: Agent) -> web.Response:
    service = request.app[SERVICE]
    try:
        ticket_id = int(request.match_info["ticket_id"])
    except ValueError:
        return error(404, "no such chat")
    ticket = await service.ticket(ticket_id)
    if ticket is None:
        return error(404, "no such chat")
    try:
        body = await request.json()
    except ValueError:
        return error(400, "the body must be JSON")
    if not isinstance(body, dict) or body.get("confirm") != ticket.conversation_id:
        return error(422, "confirm with the conversation id: {\"confirm\": \"<id>\"}")
    if ticket.status == "assigned" and ticket.agent_id != agent.id:
        return error(409, "another agent has this chat: they erase it, or release it first")
    conversation_id = ticket.conversation_id
    if ticket.status in ("queued", "assigned"):
        # Closed first, so nobody answers a conversation that no longer exists.
        await service.close_erased(ticket)
    retention = request.app[SETTINGS].retention
    counts = await erase_and_log(request.app[STORES], conversation_id, agent.username,
                                 utcnow(), salt=retention.log_salt if retention else "")
    log.info("agent %s erased a conversation (%d rows)", agent.username, sum(counts.values()))
    await service.console_refresh()
    return web.json_response({"erased": True, "rows": sum(counts.values()), "counts": counts})


def setup(app: web.Application, stores: Stores) -> None:
    app[CLUSTERER] = {}
    app[STORES] = stores
    app.setdefault(SUPERVISOR_HOOKS, []).append(_warm_up)
    app.on_cleanup.append(_stop_warm_up)
    app.router.add_get("/api/metrics", authenticated(metrics_json))
    app.router.add_get("/api/metrics.csv", authenticated(metrics_csv))
    app.router.add_post("/api/tickets/{ticket_id}/erase", authenticated(erase_ticket))
