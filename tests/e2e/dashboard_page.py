"""The supervisor dashboard and the pickup-target alerts of the agent console, as the
browser tests drive them (Playwright's sync API, like the rest of tests/e2e).

The page must already be signed in (``console_page`` in conftest.py signs in; for the
dashboard the account must have the supervisor role). Hooks used here, all in
handoff/static/console.html and its modules (console*.js, dashboard*.js):

* ``tab-dashboard`` (shown to supervisors only), ``dashboard-view`` with ``data-state``
  ``loading`` / ``refreshing`` / ``ready`` / ``error``;
* filters ``dash-from``, ``dash-to`` (``<input type=date>``), ``dash-channel``,
  ``dash-language`` (``<select>``, value ``all`` or a key), CSV link ``dash-csv``;
* KPI tiles ``[data-testid=kpi-tile][data-tile=...]``; every figure inside one is a
  ``[data-kpi=<summary key>]`` element with its text and the JSON value in ``data-raw``;
* chart canvases ``canvas[data-testid=chart]`` with ids ``chart-*`` inside
  ``.dash-card[data-chart=<id>]`` (``data-state`` ``ready`` or ``empty``);
* alerts: ``alert-banner`` with ``[data-testid=alert-item][data-ticket-id]`` rows; queue
  rows ``.queue-item.over-target`` (past the target) and ``[data-alerted="1"]`` (the
  server raised the alert) with the ``over-target-badge``; ``sound-toggle`` with
  ``data-sound`` (``on`` / ``off`` / ``blocked``) and ``data-beeps`` (beeps played).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Download, Page

WAIT_MS = 20_000

CHART_IDS = ("chart-volume", "chart-channels", "chart-rates", "chart-pickup", "chart-within",
             "chart-csat", "chart-nps", "chart-reasons", "chart-languages")

# The canvases Chart.js has drawn with at least one data point (a number, 0 included: an
# NPS of 0 is a figure; a chart without data shows its empty state instead of a canvas).
RENDERED_CHARTS = """() => {
    if (!window.Chart) return null;
    const view = document.getElementById('dashboard-view');
    if (!view || view.dataset.state !== 'ready') return null;
    const drawn = [];
    for (const canvas of document.querySelectorAll('#dashboard-view canvas[data-testid=chart]')) {
        const card = canvas.closest('.dash-card');
        if (card && card.dataset.state === 'empty') continue;
        const chart = window.Chart.getChart(canvas);
        if (!chart) return null;  // not drawn yet
        if (!canvas.width || !canvas.height || !chart.chartArea) return null;
        const points = chart.data.datasets.reduce((n, ds) => n + ds.data.filter(
            v => typeof v === 'number' && Number.isFinite(v)).length, 0);
        if (points > 0) drawn.push(canvas.id);
    }
    return drawn;
}"""

TILES = """() => Object.fromEntries(Array.from(
    document.querySelectorAll('#dash-kpis [data-kpi]'),
    el => [el.dataset.kpi, el.textContent.trim()]))"""

TILES_RAW = """() => Object.fromEntries(Array.from(
    document.querySelectorAll('#dash-kpis [data-kpi]'),
    el => [el.dataset.kpi, el.dataset.raw === '' ? null : Number(el.dataset.raw)]))"""

ALERTS = """() => {
    const banner = document.getElementById('alert-banner');
    const ids = sel => Array.from(document.querySelectorAll(sel),
                                  el => Number(el.dataset.ticketId));
    const sound = document.getElementById('sound-toggle');
    return {
        banner: Boolean(banner && !banner.hidden),
        banner_text: banner && !banner.hidden ? banner.innerText.replace(/\\s+/g, ' ').trim() : '',
        alerts: ids('#alert-list [data-testid=alert-item]'),
        highlighted: ids('#queue-list .queue-item.over-target'),
        alerted: ids('#queue-list .queue-item[data-alerted="1"]'),
        badges: ids('#queue-list .queue-item:has([data-testid=over-target-badge])'),
        sound: sound ? sound.dataset.sound : null,
        beeps: sound ? Number(sound.dataset.beeps || 0) : 0,
    };
}"""


def _ready(page: Page, timeout_ms: int = WAIT_MS) -> None:
    expect(page.get_by_test_id("dashboard-view")).to_have_attribute("data-state", "ready",
                                                                    timeout=timeout_ms)


def open_dashboard(page: Page, console_url: str, timeout_ms: int = WAIT_MS) -> None:
    """Go to the console (if not there) and open the Dashboard tab; waits for the figures.

    ``console_url`` is the console page (``<handoff url>/console``) or the handoff
    service's base URL (``/console`` is added).
    """
    url = console_url.rstrip("/")
    if not url.endswith("/console"):
        url += "/console"
    if page.url.split("#", 1)[0].rstrip("/") != url:
        page.goto(url)
    tab = page.get_by_test_id("tab-dashboard")
    expect(tab).to_be_visible(timeout=timeout_ms)
    tab.click()
    expect(page.get_by_test_id("dashboard-view")).to_be_visible()
    _ready(page, timeout_ms)


def wait_for_charts(page: Page, timeout_ms: int = WAIT_MS) -> list[str]:
    """Wait until every chart canvas is drawn (or shows its empty state); returns the ids
    of the charts drawn with data, e.g. ``["chart-volume", "chart-pickup", ...]``."""
    handle = page.wait_for_function(RENDERED_CHARTS, timeout=timeout_ms)
    return [str(chart_id) for chart_id in handle.json_value()]


def empty_charts(page: Page) -> list[str]:
    """Ids of the charts that show their "no data" text instead of a chart."""
    return [str(chart_id) for chart_id in page.eval_on_selector_all(
        '#dashboard-view .dash-card[data-state="empty"]', "els => els.map(e => e.dataset.chart)")]


def screenshot_dashboard(page: Page, path: str | Path) -> Path:
    """A full-page screenshot of the dashboard (the page scrolls, not an inner panel).

    Charts are resized to their boxes first: after ``set_viewport_size`` Chart.js would
    otherwise redraw on its own a frame later."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.Chart && Object.values(window.Chart.instances)"
                  ".forEach(chart => chart.resize())")
    page.screenshot(path=str(target), full_page=True)
    return target


def set_filters(page: Page, date_from: str | None = None, date_to: str | None = None,
                channel: str | None = None, language: str | None = None,
                timeout_ms: int = WAIT_MS) -> None:
    """Change the filters (dates as ``YYYY-MM-DD``; channel/language ``all`` or a key) and
    wait for the new figures."""
    if date_from is not None:
        page.get_by_test_id("dash-from").fill(date_from)
    if date_to is not None:
        page.get_by_test_id("dash-to").fill(date_to)
    if channel is not None:
        page.get_by_test_id("dash-channel").select_option(channel)
    if language is not None:
        page.get_by_test_id("dash-language").select_option(language)
    page.get_by_test_id("dash-refresh").click()
    # The CSV link carries the filters of the request under way (set when it starts).
    wanted = {"from": date_from, "to": date_to, "channel": channel, "language": language}
    link = page.get_by_test_id("dash-csv")
    for key, value in wanted.items():
        if value is not None:
            expect(link).to_have_attribute(
                "href", re.compile(rf"[?&]{key}={re.escape(quote(value, safe=''))}(&|$)"),
                timeout=timeout_ms)
    _ready(page, timeout_ms)


def csv_url(page: Page) -> str:
    """The CSV export's address (path and query) as the page shows it."""
    return page.get_by_test_id("dash-csv").get_attribute("href") or ""


def download_csv(page: Page, timeout_ms: int = WAIT_MS) -> str:
    """Click "Export CSV" and return the downloaded file's text.

    Uses the ``download`` event rather than ``page.expect_download``: the context manager
    needs a running asyncio loop between calls, which tests/servers.py's loop containment
    does not leave behind.
    """
    downloads: list[Download] = []

    def collect(download: Download) -> None:
        downloads.append(download)

    page.on("download", collect)
    try:
        page.get_by_test_id("dash-csv").click()
        waited = 0
        while not downloads and waited < timeout_ms:
            page.wait_for_timeout(100)
            waited += 100
    finally:
        page.remove_listener("download", collect)
    assert downloads, f"no CSV download within {timeout_ms} ms"
    download = downloads[0]
    failure = download.failure()
    assert failure is None, f"CSV download failed: {failure}"
    return Path(download.path()).read_text(encoding="utf-8")


def tile_values(page: Page) -> dict[str, str]:
    """The KPI figures as shown, keyed by the summary key (``data-kpi``), e.g.
    ``{"conversations": "212", "containment_rate": "63.2%", "csat_mean": "4.21", ...}``."""
    return {str(k): str(v) for k, v in page.evaluate(TILES).items()}


def tile_raw(page: Page) -> dict[str, float | None]:
    """The same figures as the JSON numbers they were made from (``data-raw``)."""
    return dict(page.evaluate(TILES_RAW))


def alert_state(page: Page) -> dict[str, Any]:
    """What the console shows about the pickup-target rule.

    Keys: ``banner`` (bool: the alert banner is shown), ``banner_text``, ``alerts`` (ticket
    ids in the banner), ``highlighted`` (queue rows with class ``over-target``),
    ``alerted`` (rows the server raised an alert for), ``badges`` (rows with the "waiting
    over 4 min" badge), ``sound`` (``on`` / ``off`` / ``blocked``), ``beeps`` (played).
    """
    return dict(page.evaluate(ALERTS))


def wait_for_alert(page: Page, ticket_id: int, timeout_ms: int = WAIT_MS) -> dict[str, Any]:
    """Wait until the banner names the ticket and its queue row is highlighted."""
    expect(page.locator(f'#alert-list [data-testid="alert-item"][data-ticket-id="{ticket_id}"]'))\
        .to_be_visible(timeout=timeout_ms)
    expect(page.locator(f'#queue-list .queue-item[data-ticket-id="{ticket_id}"]'))\
        .to_have_attribute("data-alerted", "1", timeout=timeout_ms)
    return alert_state(page)


def enable_sound(page: Page) -> str:
    """Click the sound toggle until it says "on" (a click is the user gesture browsers need
    before a page may play sound); returns the final ``data-sound``."""
    toggle = page.get_by_test_id("sound-toggle")
    for _ in range(2):
        if toggle.get_attribute("data-sound") == "on":
            break
        toggle.click()
        page.wait_for_timeout(200)
    return toggle.get_attribute("data-sound") or ""
