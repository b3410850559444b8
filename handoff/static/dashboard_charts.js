/* Supervisor dashboard: the charts, drawn with the vendored Chart.js
   (static/vendor/chart.umd.min.js, a classic script that defines window.Chart). Without it
   the dashboard still shows its figures and tables (ES module).
   Security rule (every file of the console): text from the server is only ever put into
   the page with textContent / text nodes / element properties, never parsed as HTML. */
import { $, pad } from "./dom.js";
import { NONE, clock, dayLabel, isNum, pretty, targetText } from "./dashboard_format.js";

const HISTOGRAM_BINS_TO_TARGET = 8; // the target is the end of the 8th bin

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

const charts = new Map(); // canvas id -> Chart
let defaultsSet = false;

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
  const old = charts.get(id);
  if (old) { old.destroy(); charts.delete(id); }
  card.querySelector(".chart-box").hidden = !hasData;
  card.querySelector(".chart-empty").hidden = hasData;
  card.dataset.state = hasData ? "ready" : "empty";
  if (!hasData || !window.Chart) return;
  charts.set(id, new window.Chart(canvas, config));
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

export function renderCharts(d, totals, target) {
  if (window.Chart && !defaultsSet) {
    chartDefaults();
    defaultsSet = true;
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

/* After the dashboard was hidden: charts measure their boxes again. */
export function resizeCharts() {
  for (const chart of charts.values()) chart.resize();
}
