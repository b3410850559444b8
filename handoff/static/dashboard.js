/* Supervisor dashboard of the agent console: service-quality figures from /api/metrics,
   their tiles and tables (ES module); dashboard_charts.js draws the charts. console.js
   (console_views.js) loads it the first time a supervisor opens the dashboard and calls
   show() and hide().
   Security rule (every file of the console): text from the server is only ever put into
   the page with textContent / text nodes / element properties, never parsed as HTML. */
import { $, h } from "./dom.js";
import { renderCharts, resizeCharts } from "./dashboard_charts.js";
import { NONE, duration, int, isNum, isoDay, mean, pct, pretty, signed, targetText } from "./dashboard_format.js";

const REFRESH_MS = 60000;
const FILTER_DEBOUNCE_MS = 300;
const DAYS_DEFAULT = 7;

const state = {
  started: false,
  visible: false,
  data: null,
  loadedAt: 0,
  seq: 0,
  channels: new Set(), // every channel seen, for the filter
  languages: new Set(),
};

// ---- filters ---------------------------------------------------------------------------
function defaultRange() {
  const to = new Date();
  const from = new Date(to);
  from.setDate(to.getDate() - (DAYS_DEFAULT - 1));
  return [isoDay(from), isoDay(to)];
}

function filters() {
  return {
    from: $("dash-from").value,
    to: $("dash-to").value,
    channel: $("dash-channel").value || "all",
    language: $("dash-language").value || "all",
  };
}

const query = (f) => new URLSearchParams(f).toString();

function fillSelect(select, values, allText) {
  const keep = select.value || "all";
  const sorted = [...values].sort();
  const current = [...select.options].map((o) => o.value).join("|");
  if (current === ["all", ...sorted].join("|")) return;
  select.textContent = "";
  select.append(new Option(allText, "all"), ...sorted.map((v) => new Option(pretty(v), v)));
  select.value = keep === "all" || values.has(keep) ? keep : "all";
}

function updateFilterOptions(d) {
  for (const c of Array.isArray(d.channels) ? d.channels : []) state.channels.add(String(c));
  for (const row of Array.isArray(d.by_channel) ? d.by_channel : []) state.channels.add(String(row.key));
  for (const row of Array.isArray(d.by_language) ? d.by_language : []) state.languages.add(String(row.key));
  const f = d.filters || {};
  if (f.channel && f.channel !== "all") state.channels.add(String(f.channel));
  if (f.language && f.language !== "all") state.languages.add(String(f.language));
  fillSelect($("dash-channel"), state.channels, "All channels");
  fillSelect($("dash-language"), state.languages, "All languages");
  for (const option of $("dash-language").options) if (option.value !== "all") option.text = option.value.toUpperCase();
}

function setError(text) {
  $("dash-error").textContent = text || "";
}

// ---- loading ---------------------------------------------------------------------------
async function load() {
  const f = filters();
  if (!f.from || !f.to) { setError("Choose both dates."); return; }
  if (f.from > f.to) { setError("The start date is after the end date."); return; }
  setError("");
  const csv = $("dash-csv");
  csv.href = `/api/metrics.csv?${query(f)}`;
  csv.setAttribute("download", `metrics-${f.from}-${f.to}${f.channel !== "all" ? `-${f.channel}` : ""}.csv`);
  const view = $("dashboard-view");
  const seq = ++state.seq;
  view.dataset.state = state.data ? "refreshing" : "loading";
  view.setAttribute("aria-busy", "true");
  let res = null;
  let data = null;
  try {
    res = await fetch(`/api/metrics?${query(f)}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
    try { data = await res.json(); } catch { /* empty or non-JSON body */ }
  } catch {
    res = null;
  }
  if (seq !== state.seq) return; // a newer request overtook this one
  view.removeAttribute("aria-busy");
  if (res && res.status === 401) { location.href = "/console/login"; return; }
  if (!res || !res.ok || !data || typeof data !== "object") {
    let text = "Cannot reach the server — check your connection.";
    if (res && res.status === 403) text = "Only supervisors can see the dashboard.";
    else if (res) text = (data && data.error) || `Could not load the figures (HTTP ${res.status}).`;
    setError(text);
    view.dataset.state = "error";
    return;
  }
  state.data = data;
  state.loadedAt = Date.now();
  try {
    render(data);
    view.dataset.state = "ready";
  } catch (err) {
    setError(`Could not draw the dashboard: ${err.message}`);
    view.dataset.state = "error";
  }
}

let filterTimer = 0;
function loadSoon() {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(load, FILTER_DEBOUNCE_MS);
}

// ---- rendering -------------------------------------------------------------------------
function render(d) {
  const totals = d.totals || {};
  const target = Number(d.target_seconds) || 240;
  updateFilterOptions(d);
  const range = d.range || {};
  const f = d.filters || {};
  const parts = [`${range.from || "?"} to ${range.to || "?"}`];
  if (range.timezone) parts.push(`days in ${range.timezone}`);
  if (f.channel && f.channel !== "all") parts.push(`channel ${f.channel}`);
  if (f.language && f.language !== "all") parts.push(`language ${String(f.language).toUpperCase()}`);
  $("dash-range").textContent = parts.join(" · ");
  $("dash-updated").textContent = `Updated ${new Date().toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" })} · refreshes every minute`;
  renderLive(d.live || {}, target);
  renderKpis(totals, target);
  if (!window.Chart) setError("The chart library did not load: the figures are shown without charts.");
  renderCharts(d, totals, target);
  renderUnanswered(Array.isArray(d.unanswered) ? d.unanswered : []);
  renderArticles(Array.isArray(d.articles) ? d.articles : []);
  renderIntents(Array.isArray(d.by_intent) ? d.by_intent : []);
}

function renderLive(live, target) {
  const box = $("dash-live");
  box.textContent = "";
  const oldest = Number(live.oldest_waiting_s);
  const chip = (key, label, text, warn) => h("div", {
    cls: `live-chip${warn ? " warn" : ""}`, attrs: { "data-live": key },
  }, h("span", { cls: "live-label", text: label }), h("strong", { cls: "live-value", text }));
  box.append(
    h("span", { cls: "live-title", text: "Right now" }),
    chip("queued", "Waiting for an agent", int(live.queued), false),
    chip("oldest_waiting_s", "Longest wait", isNum(oldest) && live.queued ? duration(oldest) : NONE,
      isNum(oldest) && oldest > target),
    chip("alerts_open", `Over the ${targetText(target)} target`, int(live.alerts_open), Number(live.alerts_open) > 0));
}

/* A figure: the formatted text, with the raw JSON value in data-raw for tests. */
function figure(t, key, format, cls = "") {
  const raw = t[key];
  return h("span", {
    cls: `kpi-figure ${cls}`.trim(), text: format(raw),
    attrs: { "data-kpi": key, "data-raw": raw == null ? "" : raw },
  });
}

function renderKpis(t, target) {
  const within = targetText(target);
  const tiles = [
    { tile: "conversations", label: "Conversations", main: figure(t, "conversations", int),
      sub: [figure(t, "human_involved", int), " with an agent · ", figure(t, "abandoned", int), " left the queue"] },
    { tile: "containment", label: "Contained by the assistant", main: figure(t, "containment_rate", pct),
      sub: [figure(t, "contained", int), " without an agent, not reopened in 24 h"] },
    { tile: "fcr", label: "First-contact resolution", main: figure(t, "fcr_rate", pct),
      sub: [figure(t, "fcr", int), " resolved · ", figure(t, "reopened", int), " reopened"] },
    { tile: "escalation", label: "Escalation rate", main: figure(t, "escalation_rate", pct),
      sub: [figure(t, "escalated", int), " handed to an agent"] },
    { tile: "assistant-frt", label: "Assistant first reply", main: figure(t, "assistant_frt_median_s", duration),
      sub: ["median · p90 ", figure(t, "assistant_frt_p90_s", duration)] },
    { tile: "pickup", label: "Agent pickup time", main: figure(t, "pickup_median_s", duration),
      sub: ["median · p90 ", figure(t, "pickup_p90_s", duration), " · ", figure(t, "pickups", int), " pickups"] },
    { tile: "pickup-target", label: `Picked up within ${within}`, main: figure(t, "pickup_within_target_share", pct),
      sub: [figure(t, "pickup_within_target", int), " of ", figure(t, "pickup_in_hours", int), " in agent hours"],
      status: share(t.pickup_within_target_share) },
    { tile: "human-frt", label: `Agent first reply within ${within}`, main: figure(t, "human_frt_within_target_share", pct),
      sub: ["median ", figure(t, "human_frt_median_s", duration), " · ", figure(t, "human_frt_count", int), " chats"],
      status: share(t.human_frt_within_target_share) },
    { tile: "handle", label: "Handle time", main: figure(t, "handle_median_s", duration),
      sub: ["median · ", figure(t, "handle_count", int), " chats"] },
    { tile: "csat", label: "CSAT (1–5)", main: figure(t, "csat_mean", mean), wide: true,
      sub: [figure(t, "csat_responses", int), " answers · ", figure(t, "csat_satisfied_share", pct), " satisfied"],
      extra: h("dl", { cls: "kpi-split" },
        h("div", {}, h("dt", { text: "Assistant only" }),
          h("dd", {}, figure(t, "csat_assistant_mean", mean, "split-value"), " (", figure(t, "csat_assistant_responses", int), ")")),
        h("div", {}, h("dt", { text: "With an agent" }),
          h("dd", {}, figure(t, "csat_human_mean", mean, "split-value"), " (", figure(t, "csat_human_responses", int), ")"))) },
    { tile: "nps", label: "Net Promoter Score", main: figure(t, "nps", signed),
      sub: [figure(t, "nps_responses", int), " answers: ", figure(t, "nps_promoters", int), " promoters, ",
        figure(t, "nps_passives", int), " passives, ", figure(t, "nps_detractors", int), " detractors"] },
  ];
  const box = $("dash-kpis");
  box.textContent = "";
  for (const tile of tiles) {
    box.append(h("article", {
      cls: `kpi${tile.wide ? " kpi-wide" : ""}`,
      attrs: { "data-testid": "kpi-tile", "data-tile": tile.tile, "data-status": tile.status || null },
    },
    h("h3", { cls: "kpi-label", text: tile.label }),
    h("p", { cls: "kpi-value" }, tile.main),
    tile.extra || null,
    h("p", { cls: "kpi-sub" }, ...tile.sub)));
  }
}

function share(v) { // a traffic light for "within the target" shares
  if (!isNum(v)) return null;
  return v >= 0.8 ? "good" : v >= 0.5 ? "warn" : "bad";
}

// ---- tables ----------------------------------------------------------------------------
function table(box, caption, headers, rows, emptyText) {
  box.textContent = "";
  if (!rows.length) {
    box.append(h("p", { cls: "empty", text: emptyText }));
    box.dataset.rows = "0";
    return;
  }
  box.dataset.rows = String(rows.length);
  box.append(h("table", { cls: "dash-table" },
    h("caption", { cls: "sr-only", text: caption }),
    h("thead", {}, h("tr", {}, ...headers.map(([text, cls]) => h("th", { cls, text, attrs: { scope: "col" } })))),
    h("tbody", {}, ...rows)));
}

function renderUnanswered(list) {
  const sorted = [...list].sort((a, b) => (Number(b.count) || 0) - (Number(a.count) || 0));
  const rows = sorted.map((u, i) => {
    const examples = (Array.isArray(u.examples) ? u.examples : []).slice(0, 3);
    const langs = Object.entries(u.languages || {}).sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${String(k).toUpperCase()} ${v}`).join(" · ");
    return h("tr", { attrs: { "data-testid": "unanswered-row", "data-label": u.label, "data-count": u.count } },
      h("td", { cls: "num muted", text: i + 1 }),
      h("td", { cls: "topic", text: u.label || "?" }),
      h("td", { cls: "num strong", text: int(Number(u.count)) }),
      h("td", { cls: "langs", text: langs }),
      h("td", { cls: "examples-cell" }, examples.length ? h("ul", { cls: "examples" }, ...examples.map((e) => h("li", { text: `“${e}”` }))) : ""));
  });
  table($("table-unanswered"), "Top unanswered topics",
    [["#", "num"], ["Topic"], ["Asked", "num"], ["Languages"], ["Examples"]], rows,
    "No unanswered questions in this range.");
}

function renderArticles(list) {
  const sorted = [...list].sort((a, b) => (Number(b.shown) || 0) - (Number(a.shown) || 0) || String(a.article).localeCompare(String(b.article)));
  const rows = sorted.map((a) => {
    const helpful = isNum(a.helpfulness) ? a.helpfulness : null;
    return h("tr", { attrs: { "data-testid": "article-row", "data-article": a.article } },
      h("td", { cls: "topic", text: a.article || "?" }),
      h("td", { cls: "num", text: int(Number(a.shown)) }),
      h("td", { cls: "num", text: int(Number(a.helped)) }),
      h("td", { cls: "num", text: int(Number(a.not_helped)) }),
      h("td", { cls: "helpfulness" },
        helpful == null ? h("span", { cls: "muted", text: "no votes" }) : h("meter", {
          attrs: { min: 0, max: 1, low: 0.5, high: 0.75, optimum: 1, value: helpful, "aria-hidden": "true" },
        }),
        helpful == null ? null : h("span", { cls: "meter-text", text: pct(helpful) })));
  });
  table($("table-articles"), "Help articles",
    [["Article"], ["Shown", "num"], ["Helped", "num"], ["Did not help", "num"], ["Helpfulness"]], rows,
    "No help article was shown in this range.");
}

function renderIntents(list) {
  const sorted = list.filter((r) => Number(r.conversations) > 0)
    .sort((a, b) => Number(b.conversations) - Number(a.conversations));
  const rows = sorted.map((r) => h("tr", { attrs: { "data-testid": "intent-row", "data-intent": r.key } },
    h("td", { cls: "topic", text: pretty(r.key) }),
    h("td", { cls: "num", text: int(r.conversations) }),
    h("td", { cls: "num", text: pct(r.containment_rate) }),
    h("td", { cls: "num", text: pct(r.escalation_rate) }),
    h("td", { cls: "num", text: pct(r.fcr_rate) }),
    h("td", { cls: "num", text: mean(r.csat_mean) })));
  table($("table-intents"), "Topics",
    [["Topic"], ["Conversations", "num"], ["Contained", "num"], ["Escalated", "num"], ["FCR", "num"], ["CSAT", "num"]], rows,
    "No conversations in this range.");
}

// ---- showing and hiding ----------------------------------------------------------------
function start() {
  state.started = true;
  const [from, to] = defaultRange();
  $("dash-from").value = from;
  $("dash-to").value = to;
  $("dash-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(filterTimer); // a change just before the click: load once
    load();
  });
  for (const id of ["dash-from", "dash-to", "dash-channel", "dash-language"]) $(id).addEventListener("change", loadSoon);
  setInterval(() => { if (state.visible && !document.hidden) load(); }, REFRESH_MS);
  document.addEventListener("visibilitychange", () => {
    if (state.visible && !document.hidden && Date.now() - state.loadedAt > REFRESH_MS) load();
  });
}

export function show() {
  if (!state.started) start();
  state.visible = true;
  if (!state.data || Date.now() - state.loadedAt > REFRESH_MS) load();
  else resizeCharts();
}

export function hide() {
  state.visible = false;
}
