/* Supervisor dashboard of the agent console: service-quality figures from /api/metrics,
   drawn with the vendored Chart.js (static/vendor/chart.umd.min.js, window.Chart).
   console.js shows it (window.SupportDashboard.show/hide) to supervisors only.
   Security rule for this file, as in console.js: text from the server is only ever put into
   the page with textContent / text nodes / element properties, never parsed as HTML. */
"use strict";

(() => {
  const REFRESH_MS = 60000;
  const FILTER_DEBOUNCE_MS = 300;
  const DAYS_DEFAULT = 7;
  const HISTOGRAM_BINS_TO_TARGET = 8; // the target is the end of the 8th bin
  const NONE = "—";

  const COLOR = {
    contained: "#2e8b57",
    escalated: "#d9822b",
    other: "#9aa5b1",
    blue: "#1f5fbf",
    purple: "#7b4fc4",
    teal: "#178a94",
    red: "#c0392b",
    green: "#2e8b57",
    grid: "#e3e6ea",
    text: "#1c2330",
  };
  const PALETTE = ["#1f5fbf", "#2e8b57", "#d9822b", "#7b4fc4", "#178a94", "#c0392b", "#8a6d3b", "#5d6675"];

  const state = {
    started: false,
    visible: false,
    data: null,
    loadedAt: 0,
    seq: 0,
    charts: new Map(),   // canvas id -> Chart
    channels: new Set(), // every channel seen, for the filter
    languages: new Set(),
  };

  const $ = (id) => document.getElementById(id);

  /* Create an element. Strings among the children become text nodes (never HTML). */
  function h(tag, opts = {}, ...children) {
    const node = document.createElement(tag);
    if (opts.cls) node.className = opts.cls;
    if (opts.text != null) node.textContent = String(opts.text);
    for (const [key, value] of Object.entries(opts.attrs || {})) {
      if (value != null && value !== false) node.setAttribute(key, String(value));
    }
    for (const child of children) if (child != null && child !== false) node.append(child);
    return node;
  }

  // ---- formatting ------------------------------------------------------------------------
  const pad = (n) => String(n).padStart(2, "0");
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const isoDay = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const int = (v) => (isNum(v) ? String(Math.round(v)) : NONE);
  const pct = (v) => (isNum(v) ? `${(v * 100).toFixed(1).replace(/\.0$/, "")}%` : NONE);
  const mean = (v) => (isNum(v) ? v.toFixed(2) : NONE);
  const signed = (v) => (isNum(v) ? `${v > 0 ? "+" : ""}${(Math.round(v * 10) / 10).toString()}` : NONE);
  function clock(seconds) { // 75 -> "1:15"
    const s = Math.max(0, Math.round(seconds));
    return `${Math.floor(s / 60)}:${pad(s % 60)}`;
  }
  function duration(v) {
    if (!isNum(v)) return NONE;
    return v < 60 ? `${Math.round(v * 10) / 10} s` : `${clock(v)} min`;
  }
  const targetText = (target) => (target % 60 === 0 ? `${target / 60} min` : `${clock(target)} min`);
  const pretty = (key) => {
    const s = String(key == null ? "?" : key).replace(/[_-]+/g, " ").trim();
    return s ? s[0].toUpperCase() + s.slice(1) : "?";
  };
  function dayLabel(key, long) {
    const d = new Date(`${key}T12:00:00`);
    if (Number.isNaN(d.getTime())) return String(key);
    return d.toLocaleDateString("en-GB", long ? { weekday: "short", day: "numeric", month: "short" }
      : { day: "numeric", month: "short" });
  }

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

  // ---- charts ----------------------------------------------------------------------------
  function chartDefaults() {
    const C = window.Chart;
    C.defaults.font.family = getComputedStyle(document.documentElement).fontFamily || "system-ui, sans-serif";
    C.defaults.font.size = 12;
    C.defaults.color = COLOR.text;
    C.defaults.borderColor = COLOR.grid;
    C.defaults.animation = false;
    C.defaults.responsive = true;
    C.defaults.maintainAspectRatio = false;
    C.defaults.plugins.legend.labels.boxWidth = 12;
    C.defaults.plugins.legend.position = "bottom";
  }

  /* Draw (or clear, with an empty-state text) the chart of one canvas. */
  function draw(id, hasData, config) {
    const canvas = $(id);
    const card = canvas.closest(".dash-card");
    const old = state.charts.get(id);
    if (old) { old.destroy(); state.charts.delete(id); }
    card.querySelector(".chart-box").hidden = !hasData;
    card.querySelector(".chart-empty").hidden = hasData;
    card.dataset.state = hasData ? "ready" : "empty";
    if (!hasData || !window.Chart) return;
    state.charts.set(id, new window.Chart(canvas, config));
  }

  const nums = (rows, key, scale = 1) => rows.map((r) => (isNum(r[key]) ? Math.round(r[key] * scale * 10) / 10 : null));
  const anyNum = (values) => values.some((v) => isNum(v));
  const percentAxis = { min: 0, max: 100, ticks: { callback: (v) => `${v}%` } };
  const percentTooltip = { callbacks: { label: (c) => `${c.dataset.label}: ${c.parsed.y == null ? NONE : `${c.parsed.y}%`}` } };

  /* Per day over the range, or per hour when the range is one day. */
  function series(d) {
    const range = d.range || {};
    const byDay = Array.isArray(d.by_day) ? d.by_day : [];
    if (range.from && range.from === range.to) {
      const hours = new Map((Array.isArray(d.by_hour) ? d.by_hour : []).map((r) => [String(r.key), r]));
      const rows = [];
      for (let hour = 0; hour < 24; hour += 1) rows.push(hours.get(`${range.from}T${pad(hour)}`) || { conversations: 0 });
      return { rows, labels: rows.map((_, hour) => `${pad(hour)}:00`), unit: "hour" };
    }
    const long = byDay.length <= 14;
    return { rows: byDay, labels: byDay.map((r) => dayLabel(r.key, long)), unit: "day" };
  }

  function renderCharts(d, totals, target) {
    if (!window.Chart) {
      setError("The chart library did not load: the figures are shown without charts.");
    } else if (!state.chartDefaults) {
      chartDefaults();
      state.chartDefaults = true;
    }
    const { rows, labels, unit } = series(d);
    const per = unit === "hour" ? "per hour" : "per day";
    $("chart-volume-note").textContent = `${unit === "hour" ? "Per hour" : "Per day"}, by outcome`;
    $("chart-rates-note").textContent = `Containment, first-contact resolution and escalation rate ${per}`;
    $("chart-csat-note").textContent = `Mean rating 1–5 ${per}: all, assistant only, with an agent`;
    $("chart-nps-note").textContent = `NPS ${per} (−100 to 100)`;

    // Volumes, stacked by outcome.
    const contained = rows.map((r) => Number(r.contained) || 0);
    const escalated = rows.map((r) => Number(r.escalated) || 0);
    const other = rows.map((r, i) => Math.max(0, (Number(r.conversations) || 0) - contained[i] - escalated[i]));
    draw("chart-volume", (Number(totals.conversations) || 0) > 0, {
      type: "bar",
      data: { labels, datasets: [
        { label: "Contained by the assistant", data: contained, backgroundColor: COLOR.contained, stack: "v" },
        { label: "Handed to an agent", data: escalated, backgroundColor: COLOR.escalated, stack: "v" },
        { label: "Reopened within 24 h", data: other, backgroundColor: COLOR.other, stack: "v" },
      ] },
      options: { scales: { x: { stacked: true, grid: { display: false } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { tooltip: { mode: "index", intersect: false } } },
    });

    // Channels.
    const byChannel = (Array.isArray(d.by_channel) ? d.by_channel : []).filter((r) => Number(r.conversations) > 0);
    draw("chart-channels", byChannel.length > 0, {
      type: "doughnut",
      data: { labels: byChannel.map((r) => pretty(r.key)),
        datasets: [{ data: byChannel.map((r) => Number(r.conversations)), backgroundColor: byChannel.map((_, i) => PALETTE[i % PALETTE.length]) }] },
      options: { cutout: "55%", plugins: { legend: { position: "right" } } },
    });

    // Containment, FCR and escalation rate.
    const containment = nums(rows, "containment_rate", 100);
    const fcr = nums(rows, "fcr_rate", 100);
    const escalation = nums(rows, "escalation_rate", 100);
    draw("chart-rates", anyNum(containment) || anyNum(fcr) || anyNum(escalation), {
      type: "line",
      data: { labels, datasets: [
        { label: "Containment", data: containment, borderColor: COLOR.contained, backgroundColor: COLOR.contained, borderWidth: 3 },
        { label: "First-contact resolution", data: fcr, borderColor: COLOR.blue, backgroundColor: COLOR.blue },
        { label: "Escalation", data: escalation, borderColor: COLOR.escalated, backgroundColor: COLOR.escalated, borderDash: [6, 4] },
      ] },
      options: { spanGaps: true, scales: { y: percentAxis, x: { grid: { display: false } } },
        plugins: { tooltip: { mode: "index", intersect: false, ...percentTooltip } } },
    });

    drawPickup(Array.isArray(d.pickup_seconds) ? d.pickup_seconds : [], target);

    // Within the target, per day.
    const pickupShare = nums(rows, "pickup_within_target_share", 100);
    const frtShare = nums(rows, "human_frt_within_target_share", 100);
    $("chart-within-note").textContent = `Share of pickups and of agents' first replies within ${targetText(target)}, ${per}`;
    draw("chart-within", anyNum(pickupShare) || anyNum(frtShare), {
      type: "line",
      data: { labels, datasets: [
        { label: `Picked up within ${targetText(target)}`, data: pickupShare, borderColor: COLOR.blue, backgroundColor: COLOR.blue, borderWidth: 3 },
        { label: `Agent's first reply within ${targetText(target)}`, data: frtShare, borderColor: COLOR.purple, backgroundColor: COLOR.purple },
      ] },
      options: { spanGaps: true, scales: { y: percentAxis, x: { grid: { display: false } } },
        plugins: { tooltip: { mode: "index", intersect: false, ...percentTooltip } } },
    });

    // CSAT.
    const csat = nums(rows, "csat_mean");
    draw("chart-csat", anyNum(csat), {
      type: "line",
      data: { labels, datasets: [
        { label: "All", data: csat, borderColor: COLOR.text, backgroundColor: COLOR.text, borderWidth: 3 },
        { label: "Assistant only", data: nums(rows, "csat_assistant_mean"), borderColor: COLOR.contained, backgroundColor: COLOR.contained },
        { label: "With an agent", data: nums(rows, "csat_human_mean"), borderColor: COLOR.escalated, backgroundColor: COLOR.escalated },
      ] },
      options: { spanGaps: true, scales: { y: { min: 1, max: 5, ticks: { stepSize: 1 } }, x: { grid: { display: false } } },
        plugins: { tooltip: { mode: "index", intersect: false } } },
    });

    // NPS.
    const nps = nums(rows, "nps");
    draw("chart-nps", anyNum(nps), {
      type: "bar",
      data: { labels, datasets: [{ label: "NPS", data: nps,
        backgroundColor: nps.map((v) => (isNum(v) && v < 0 ? COLOR.red : COLOR.green)) }] },
      options: { scales: { y: { min: -100, max: 100 }, x: { grid: { display: false } } }, plugins: { legend: { display: false } } },
    });

    // Escalation reasons.
    const reasons = Object.entries(totals.escalations_by_reason || {})
      .map(([k, v]) => [k, Number(v) || 0]).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
    draw("chart-reasons", reasons.length > 0, {
      type: "bar",
      data: { labels: reasons.map(([k]) => pretty(k)),
        datasets: [{ label: "Escalations", data: reasons.map(([, v]) => v), backgroundColor: COLOR.escalated }] },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { grid: { display: false } } },
        plugins: { legend: { display: false } } },
    });

    // Languages.
    const langs = (Array.isArray(d.by_language) ? d.by_language : []).filter((r) => Number(r.conversations) > 0)
      .sort((a, b) => Number(b.conversations) - Number(a.conversations));
    draw("chart-languages", langs.length > 0, {
      type: "bar",
      data: { labels: langs.map((r) => String(r.key).toUpperCase()), datasets: [
        { label: "Conversations", data: langs.map((r) => Number(r.conversations) || 0), backgroundColor: COLOR.blue },
        { label: "Contained", data: langs.map((r) => Number(r.contained) || 0), backgroundColor: COLOR.contained },
      ] },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { grid: { display: false } } } },
    });
  }

  /* Draws a dashed vertical line at the pickup target between two histogram bars. */
  const targetLine = {
    id: "targetLine",
    afterDatasetsDraw(chart, _args, opts) {
      const x = chart.scales.x;
      if (!x || opts.index == null) return;
      const left = x.getPixelForValue(opts.index - 1);
      const right = x.getPixelForValue(opts.index);
      const at = (left + right) / 2;
      const { top, bottom } = chart.chartArea;
      const ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = COLOR.red;
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(at, top);
      ctx.lineTo(at, bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = COLOR.red;
      ctx.font = `600 12px ${window.Chart.defaults.font.family}`;
      ctx.textAlign = "center";
      ctx.textBaseline = "bottom";
      ctx.fillText(opts.text || "target", at, top - 4);
      ctx.restore();
    },
  };

  function drawPickup(pickups, target) {
    const values = pickups.map(Number).filter((v) => Number.isFinite(v) && v >= 0);
    const width = target / HISTOGRAM_BINS_TO_TARGET;
    const bins = HISTOGRAM_BINS_TO_TARGET * 2; // up to twice the target, then one "longer" bin
    const counts = new Array(bins + 1).fill(0);
    for (const v of values) {
      const index = v <= 0 ? 0 : Math.ceil(v / width) - 1; // bins are (lo, hi]: the target itself is within
      counts[Math.min(index, bins)] += 1;
    }
    const labels = counts.map((_, i) => (i < bins ? clock((i + 1) * width) : `> ${clock(bins * width)}`));
    const within = values.filter((v) => v <= target).length;
    $("chart-pickup-note").textContent = values.length
      ? `${values.length} pickups, ${within} within ${targetText(target)} (dashed line); bars show the upper end of each ${clock(width)} min bin`
      : `Chats per waiting time; the dashed line marks the ${targetText(target)} target`;
    draw("chart-pickup", values.length > 0, {
      type: "bar",
      data: { labels, datasets: [{ label: "Chats picked up", data: counts, categoryPercentage: 0.95, barPercentage: 0.95,
        backgroundColor: counts.map((_, i) => (i < HISTOGRAM_BINS_TO_TARGET ? COLOR.blue : COLOR.red)) }] },
      options: {
        layout: { padding: { top: 20 } }, // room for the target's label above the bars
        scales: { x: { grid: { display: false }, title: { display: true, text: "waited up to (min:s)" } },
          y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: {
          legend: { display: false },
          targetLine: { index: HISTOGRAM_BINS_TO_TARGET, text: `target ${targetText(target)}` },
          tooltip: { callbacks: { title: (items) => {
            const i = items[0].dataIndex;
            return i < bins ? `${clock(i * width)}–${clock((i + 1) * width)} min` : `longer than ${clock(bins * width)} min`;
          } } },
        },
      },
      plugins: [targetLine],
    });
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

  function show() {
    if (!state.started) start();
    state.visible = true;
    if (!state.data || Date.now() - state.loadedAt > REFRESH_MS) load();
    else for (const chart of state.charts.values()) chart.resize();
  }

  function hide() {
    state.visible = false;
  }

  window.SupportDashboard = Object.freeze({ show, hide, reload: load });
})();
