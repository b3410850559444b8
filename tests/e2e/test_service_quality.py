"""A simulated support day through the real services, and the metrics it must produce.

``bot.simulation`` drives 200 conversations (and 10 customers coming back) over REST with
agents working in the console API; its records say what it did. Every metric the product
computes from its own record (Rasa's broker table, the knowledge log, the queue, the
surveys) is checked against values computed from those records alone. Then the supervisor
dashboard is rendered in headless Chromium (screenshots in results/screenshots/), the CSV
export is compared, and the alert webhook must have received exactly the late chats.

The pickup target is 10 s here instead of 240 s (HANDOFF_PICKUP_TARGET_SECONDS), so the
4-minute rule is exercised in seconds; everything else runs as in production.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import subprocess
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import processes
from bot.console_client import Console as SimConsole
from bot.day_record import Record, expected, too_close
from bot.simulation import Day
from contract.signing import SignatureError, verify
from tests.e2e.conftest import PINNED_NOW, Console, wait_for

TARGET = 10.0
METRICS_TOKEN = "scrape-" + uuid.uuid4().hex
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "results" / "screenshots"
ZONE = ZoneInfo("Europe/Berlin")


@dataclass
class Receiver:
    """The supervisors' chat: records every alert POSTed to it, with its signature check."""

    secret: str
    alerts: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    verify(receiver.secret, dict(self.headers.items()), body)
                    receiver.alerts.append(json.loads(body))
                    self.send_response(204)
                except SignatureError:
                    receiver.refused += 1
                    self.send_response(401)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()


@dataclass
class Simulated:
    stack: processes.Stack
    records: list[Record]
    expect: dict[str, Any]
    receiver: Receiver
    supervisor: tuple[str, str]
    agents: list[tuple[str, str]]

    def console(self, who: tuple[str, str]) -> Console:
        console = Console(self.stack.handoff_url)
        console.login(*who)
        return console


def add_account(stack: processes.Stack, username: str, role: str) -> tuple[str, str]:
    password = f"pw-{uuid.uuid4().hex}"
    result = subprocess.run(
        [str(processes.services_python()), "-m", "bot", "agent", "add", username, "--name",
         username.title(), "--max-chats", "20", "--role", role, "--password-stdin"],
        input=password + "\n", text=True, capture_output=True, env=stack.env,
        cwd=processes.ROOT, check=False)
    assert result.returncode == 0, result.stderr
    return username, password


async def run_day(stack: processes.Stack, agents: list[tuple[str, str]]) -> list[Record]:
    consoles = [SimConsole(stack.handoff_url, user, password) for user, password in agents]
    for console in consoles:
        await console.login()
    day = Day(stack.url, consoles, TARGET)
    try:
        return await day.run(total=200, returning=10)
    finally:
        await day.close()
        for console in consoles:
            await console.close()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulated]:
    folder = tmp_path_factory.mktemp("quality")
    secret = "alerts-" + uuid.uuid4().hex
    receiver = Receiver(secret)
    receiver.start()
    logs: list[str] = []
    stack = processes.start_stack(folder, fixed_now=PINNED_NOW, sink=logs.append, extra_env={
        "HANDOFF_WEBHOOK_SECRET": secret,
        "HANDOFF_PICKUP_TARGET_SECONDS": str(int(TARGET)),
        "PICKUP_ALERT_POLL_SECONDS": "0.5",
        "PICKUP_ALERT_WEBHOOK_URL": receiver.url,
        "SURVEY_QUIET_SECONDS": "25",
        "HANDOFF_METRICS_TOKEN": METRICS_TOKEN,
    })
    try:
        agents = [add_account(stack, f"agent{i}", "agent") for i in range(3)]
        supervisor = add_account(stack, "chief", "supervisor")
        # A supervisor opening the console starts loading the question encoder; the first
        # dashboard waits for it. Done before the day, so the day's timings do not.
        warm = Console(stack.handoff_url)
        warm.login(*supervisor)
        request = urllib.request.Request(stack.handoff_url + "/api/metrics")
        with warm.opener.open(request, timeout=180) as response:
            assert response.status == 200
        records = asyncio.run(run_day(stack, agents))
        yield Simulated(stack, records, expected(records, TARGET), receiver, supervisor,
                        agents)
    finally:
        stack.stop()
        receiver.stop()
    tracebacks = [line for line in logs if "Traceback" in line]
    assert not tracebacks, "a server logged a traceback:\n" + "\n".join(logs[-120:])


def metrics(sim: Simulated, **params: str) -> dict[str, Any]:
    console = sim.console(sim.supervisor)
    today = datetime.now(ZONE).date().isoformat()
    query = "&".join(f"{k}={v}" for k, v in {"from": today, "to": today, **params}.items())

    def settled() -> dict[str, Any] | None:
        status, body = console.call("GET", f"/api/metrics?{query}")
        assert status == 200, body
        done = body["totals"]["conversations"] == sim.expect["conversations"]
        return body if done else None

    # The collector folds Rasa's events in within a second or so of the last message.
    return dict(wait_for(settled, timeout=60, what="the metrics to catch up"))


def csv_of(console: Console, path: str) -> str:
    with console.opener.open(console.base_url + path, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/csv")
        return str(response.read().decode("utf-8"))


def test_the_day_ran_as_planned(simulated: Simulated) -> None:
    problems = {r.sender: r.problems for r in simulated.records if r.problems}
    assert not problems
    assert len(simulated.records) == 210
    assert simulated.expect["csat_responses"] >= 100
    assert simulated.expect["nps_responses"] >= 5
    assert not too_close(simulated.records, TARGET)
    assert len(simulated.expect["late"]) >= 5
    waiting = [r for r in simulated.records if r.scenario == "human_cancel"]
    assert waiting and all(r.status_told for r in waiting)


def test_metrics_match_the_script_record(simulated: Simulated) -> None:
    body = metrics(simulated)
    totals, expect = body["totals"], simulated.expect
    conversations = expect["conversations"]
    assert totals["conversations"] == conversations
    for key in ("escalated", "abandoned", "human_involved", "reopened", "contained", "fcr",
                "pickups", "pickup_in_hours", "pickup_within_target", "human_frt_count",
                "handle_count", "csat_responses", "csat_assistant_responses",
                "csat_human_responses", "nps_responses"):
        assert totals[key] == expect[key], key
    assert totals["escalations_by_reason"] == expect["escalations_by_reason"]
    assert totals["escalation_rate"] == round(expect["escalated"] / conversations, 4)
    assert totals["containment_rate"] == round(expect["contained"] / conversations, 4)
    assert totals["fcr_rate"] == round(expect["fcr"] / conversations, 4)
    assert totals["pickup_within_target_share"] == round(
        expect["pickup_within_target"] / expect["pickup_in_hours"], 4)
    for key in ("csat_mean", "csat_assistant_mean", "csat_human_mean", "nps"):
        assert totals[key] == pytest.approx(expect[key], abs=0.01), key
    assert totals["csat_satisfied_share"] == round(
        expect["csat_satisfied"] / expect["csat_responses"], 4)
    # Times: the product measures from its own events; the script from its own clock.
    # Each claim happened between the script's request going out and its answer coming
    # back (counted from the ticket's creation, which the API gives to the second), so
    # the k-th shortest pickup lies between the k-th shortest of each bound (the product
    # rounds to 0.1 s).
    pickups = sorted(body["pickup_seconds"])
    assert len(pickups) == len(expect["pickup_earliest"])
    for product, earliest, latest in zip(pickups, expect["pickup_earliest"],
                                         expect["pickup_latest"], strict=True):
        assert earliest - 0.1 <= product <= latest + 0.1
    assert 0 < totals["assistant_frt_median_s"] < 5
    assert totals["human_frt_within_target_share"] == round(
        expect["human_frt_within_target"] / expect["human_frt_count"], 4)
    by_language = {row["key"]: row["conversations"] for row in body["by_language"]}
    assert by_language == expect["by_language"]
    by_intent = {row["key"]: row["conversations"] for row in body["by_intent"]}
    for intent, count in expect["by_intent"].items():
        assert by_intent.get(intent) == count, intent


def test_articles_and_unanswered_topics(simulated: Simulated) -> None:
    body = metrics(simulated)
    articles = {a["article"]: a for a in body["articles"]}
    for article, counts in simulated.expect["articles"].items():
        assert articles[article]["shown"] == counts["shown"], article
        assert articles[article]["helped"] == counts.get("helped", 0), article
        assert articles[article]["not_helped"] == counts.get("not_helped", 0), article
    groups = simulated.expect["unanswered_groups"]
    top = body["unanswered"][:len(groups)]
    assert sorted(t["count"] for t in top) == sorted(groups.values())


def test_channel_filter_and_csv_export(simulated: Simulated) -> None:
    body = metrics(simulated, channel="rest")
    assert body["totals"]["conversations"] == simulated.expect["conversations"]
    console = simulated.console(simulated.supervisor)
    today = datetime.now(ZONE).date().isoformat()
    text = csv_of(console, f"/api/metrics.csv?from={today}&to={today}")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sum(int(r["conversations"]) for r in rows) == simulated.expect["conversations"]
    assert sum(int(r["escalated"]) for r in rows) == simulated.expect["escalated"]
    assert sum(int(r["csat_responses"] or 0) for r in rows) == \
        simulated.expect["csat_responses"]
    status, other = console.call("GET", f"/api/metrics?from={today}&to={today}&channel=telegram")
    assert status == 200 and other["totals"]["conversations"] == 0


def test_agents_do_not_see_the_dashboard(simulated: Simulated) -> None:
    console = simulated.console(simulated.agents[0])
    status, _ = console.call("GET", "/api/metrics")
    assert status == 403
    status, _ = console.call("GET", "/api/metrics.csv")
    assert status == 403


def test_late_chats_alerted_the_supervisors_webhook(simulated: Simulated) -> None:
    late = simulated.expect["late"]
    assert late
    alerted = sorted(a["ticket_id"] for a in simulated.receiver.alerts)
    assert alerted == late
    assert simulated.receiver.refused == 0
    assert all(a["waiting_seconds"] >= TARGET and "min" in a["text"]
               for a in simulated.receiver.alerts)


def test_quiet_conversations_get_the_survey(simulated: Simulated) -> None:
    silent = [r for r in simulated.records if r.scenario == "faq_silent"][:3]

    def surveyed() -> bool:
        for record in silent:
            url = (f"{simulated.stack.url}/webhooks/rest/messages?sender={record.sender}"
                   "&after=0&wait=0")
            with urllib.request.urlopen(url, timeout=30) as response:
                messages = json.loads(response.read())["messages"]
            if not any(b["payload"].startswith("/survey_answer")
                       for m in messages for b in m.get("buttons") or []):
                return False
        return True

    wait_for(surveyed, timeout=90, what="the quiet-time survey")


def test_prometheus_metrics(simulated: Simulated) -> None:
    url = f"{simulated.stack.handoff_url}/metrics"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=30)
    assert refused.value.code == 401
    scrape = urllib.request.Request(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    with urllib.request.urlopen(scrape, timeout=30) as r:
        text = r.read().decode()
    assert "handoff_http_request_duration_seconds_bucket" in text
    assert "handoff_queue_length" in text
    assert "handoff_oldest_waiting_seconds" in text
    assert "handoff_outbox_backlog" in text


def test_dashboard_in_chromium(simulated: Simulated, browser: Any) -> None:
    from tests.e2e import dashboard_page as dash
    from tests.e2e.conftest import console_page

    username, password = simulated.supervisor
    signed_in = SimpleNamespace(handoff_url=simulated.stack.handoff_url,
                                agents={username: password})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    today = datetime.now(ZONE).date().isoformat()
    with console_page(browser, signed_in, username) as page:  # type: ignore[arg-type]
        dash.open_dashboard(page, simulated.stack.handoff_url)
        dash.set_filters(page, today, today, "all")
        drawn = dash.wait_for_charts(page)
        assert len(drawn) >= 6, drawn
        dash.screenshot_dashboard(page, SCREENSHOTS / "dashboard-day.png")
        tiles = dash.tile_values(page)
        assert str(simulated.expect["conversations"]) in tiles["conversations"]
        text = dash.download_csv(page)
        console = simulated.console(simulated.supervisor)
        api_text = csv_of(console, f"/api/metrics.csv?from={today}&to={today}&channel=all")
        assert text.strip() == api_text.strip()
        page.set_viewport_size({"width": 390, "height": 844})
        dash.screenshot_dashboard(page, SCREENSHOTS / "dashboard-phone.png")


# Last: it removes a conversation the tests above count.
def stored_rows(folder: Path, conversation_id: str) -> dict[str, int]:
    checks = {"tracker.db": "SELECT count(*) FROM events WHERE sender_id = ?",
              "events.db": "SELECT count(*) FROM events WHERE sender_id = ?",
              "actions.db": "SELECT count(*) FROM knowledge_turns WHERE conversation_id = ?",
              "handoff.db": "SELECT count(*) FROM tickets WHERE conversation_id = ?",
              "metrics.db": "SELECT count(*) FROM metric_events WHERE conversation_id = ?"}
    found = {}
    for name, query in checks.items():
        with sqlite3.connect(folder / name) as conn:
            found[name] = conn.execute(query, (conversation_id,)).fetchone()[0]
    with sqlite3.connect(folder / "metrics.db") as conn:
        found["surveys"] = conn.execute("SELECT count(*) FROM surveys WHERE conversation_id = ?",
                                        (conversation_id,)).fetchone()[0]
    return found


def erasure_log(folder: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(folder / "metrics.db") as conn:
        return conn.execute("SELECT actor, conversation_ref, counts_json FROM erasure_log "
                            "WHERE kind = 'conversation' ORDER BY id").fetchall()


# Last: these remove conversations the tests above count.
def test_an_agent_erases_a_conversation_in_the_console(simulated: Simulated,
                                                       browser: Any) -> None:
    from tests.e2e.conftest import console_page

    record = next(r for r in simulated.records if r.scenario == "unanswered" and r.resolved)
    folder = simulated.stack.folder
    before = stored_rows(folder, record.sender)
    assert before["tracker.db"] and before["actions.db"] and before["surveys"]
    console = simulated.console(simulated.agents[0])
    status, _ = console.act(record.ticket_id or 0, "erase", {"confirm": "another-id"})
    assert status == 422
    username, password = simulated.agents[0]
    signed_in = SimpleNamespace(handoff_url=simulated.stack.handoff_url,
                                agents={username: password})
    with console_page(browser, signed_in, username) as page:  # type: ignore[arg-type]
        page.goto(f"/console#ticket-{record.ticket_id}")
        page.on("dialog", lambda dialog: dialog.accept())
        page.get_by_test_id("erase-button").click()
        page.get_by_text("Conversation erased").wait_for(timeout=20_000)
    assert set(stored_rows(folder, record.sender).values()) == {0}
    logged = erasure_log(folder)
    assert [row[0] for row in logged] == [username]
    assert record.sender not in json.dumps(logged)


def test_a_conversation_is_erased_on_request_by_e_mail(simulated: Simulated) -> None:
    record = next(r for r in simulated.records if r.scenario == "faq_helped")
    result = subprocess.run(
        [str(processes.services_python()), "-m", "bot", "erase", record.sender, "--by", "chief"],
        text=True, capture_output=True, env=simulated.stack.env, cwd=processes.ROOT,
        check=False)
    assert result.returncode == 0, result.stderr
    assert "erased" in result.stdout
    assert set(stored_rows(simulated.stack.folder, record.sender).values()) == {0}
    assert [row[0] for row in erasure_log(simulated.stack.folder)][-1] == "cli:chief"
