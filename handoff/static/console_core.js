/* Agent console, shared core (ES module): settings, the console's state, clock and
   timers, server access and the status line. console.js starts the console.
   Security rule (every file of the console): text from the server is only ever put into
   the page with textContent / text nodes / element properties, never parsed as HTML. */
import { $, h, pad } from "./dom.js";

export { $, h };

export const PING_MS = 25000;
export const POLL_MS = 15000;
export const DEBOUNCE_MS = 200;
export const BACKOFF_MS = [1000, 2000, 5000];
const NEAR_FRACTION = 0.75;
export const LOGIN_URL = "/console/login";
export const SOUND_KEY = "console.sound";
export const BEEP_GAP_MS = 2000;

export const state = {
  me: null,             // Agent
  csrf: "",
  target: 240,          // pickup target in seconds
  offset: 0,            // server clock minus local clock, ms
  queue: [],            // TicketSummary[]
  agents: [],
  ticketId: null,       // id of the open ticket (string)
  ticket: null,         // TicketDetail of the open ticket
  messages: new Map(),  // message id -> {node, sig} for the open ticket
  drafts: new Map(),    // ticket id -> unsent reply text
  unread: new Set(),    // ids of my tickets with customer messages I have not looked at
  busy: false,          // a ticket action (claim, transfer, ...) is in flight
  role: "agent",        // "agent" | "supervisor" (only supervisors see the dashboard)
  view: "chats",        // "chats" | "dashboard"
  alerts: new Map(),    // ticket id -> pickup-target alert shown in the banner
  alerted: new Set(),   // ids of tickets the server raised an alert for (row highlight)
  dismissed: new Set(), // alert ids the agent closed in the banner
};

export const same = (a, b) => a != null && b != null && String(a) === String(b);
export const isMine = (t) => Boolean(t && state.me && t.status === "assigned" && t.agent && same(t.agent.id, state.me.id));

// ---- time --------------------------------------------------------------------------
export function parseTime(iso) {
  if (typeof iso !== "string" || !iso) return null;
  // A timestamp without a zone is taken as UTC (the server works in UTC).
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(iso) || !iso.includes("T") ? iso : `${iso}Z`;
  const ms = Date.parse(zoned);
  return Number.isFinite(ms) ? ms : null;
}
export const serverNow = () => Date.now() + state.offset;
export function syncClock(iso) {
  const ms = parseTime(iso);
  if (ms !== null) state.offset = ms - Date.now();
}
function mmss(seconds) { // minutes are not capped at 59: "75:03"
  const s = Math.max(0, Math.floor(seconds));
  return `${pad(Math.floor(s / 60))}:${pad(s % 60)}`;
}
const localDate = (iso) => { const ms = parseTime(iso); return ms === null ? null : new Date(ms); };
const hhmm = (d) => (d ? `${pad(d.getHours())}:${pad(d.getMinutes())}` : "");
export const ymd = (iso) => { const d = localDate(iso); return d ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` : ""; };
export function timeEl(iso) { // local HH:MM, full date and time on hover
  const d = localDate(iso);
  return h("time", { cls: "time", text: hhmm(d), attrs: { datetime: iso, title: d ? d.toLocaleString() : null } });
}
export const targetText = () => (state.target % 60 === 0 ? `${state.target / 60} min` : mmss(state.target));

/* A ticking "mm:ss since created" element; `until` freezes it (e.g. at claim time). The
   pickup-target highlight counts from the ticket's pickup clock: for a chat queued outside
   agent hours, from the start of agent hours, and not at all before ("none"). */
export function waitEl(t, { until = null, highlight = false, testid = null } = {}) {
  let since = parseTime(t.created_at);
  if (since === null) since = serverNow() - (Number(t.waiting_seconds) || 0) * 1000;
  const clock = "pickup_clock_at" in t ? (parseTime(t.pickup_clock_at) ?? "none") : since;
  return h("span", {
    cls: "wait live-wait",
    attrs: { "data-since": since, "data-until": until, "data-highlight": highlight ? "1" : null, "data-clock": highlight ? clock : null, "data-testid": testid },
  });
}

/* Every second: refresh all live timers and the pickup-target highlight of queued rows. */
export function tick() {
  const now = serverNow();
  for (const node of document.querySelectorAll(".live-wait")) {
    const end = node.dataset.until ? Number(node.dataset.until) : now;
    const seconds = (end - Number(node.dataset.since)) / 1000;
    const text = mmss(seconds);
    if (node.textContent !== text) node.textContent = text;
    if (!node.dataset.highlight) continue;
    const row = node.closest(".queue-item");
    // The server's flag wins over the local clock (it knows agent hours and clock skew).
    const clock = node.dataset.clock;
    const pickup = clock === "none" ? 0 : (end - Number(clock || node.dataset.since)) / 1000;
    const over = pickup > state.target || Boolean(row && row.dataset.alerted);
    const near = !over && pickup >= state.target * NEAR_FRACTION;
    for (const el of [node, row]) {
      if (!el) continue;
      el.classList.toggle("near-target", near);
      el.classList.toggle("over-target", over);
    }
    const label = row && row.querySelector(".over-label");
    if (label) label.hidden = !over;
  }
}

// ---- server access -------------------------------------------------------------------
export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    init.headers["X-CSRF-Token"] = state.csrf;
    init.body = JSON.stringify(body || {});
  }
  let res;
  try { res = await fetch(path, init); } catch { throw new Error("Cannot reach the server — check your connection."); }
  if (res.status === 401) location.href = LOGIN_URL; // session gone: back to the sign-in page
  let data = {};
  try { data = await res.json(); } catch { /* empty or non-JSON body */ }
  if (res.ok) return data;
  const err = new Error(data.error || `Request failed (HTTP ${res.status}).`);
  err.status = res.status;
  throw err;
}

let statusTimer = 0;
/* Non-blocking status line (toast). kind: "info" | "error". */
export function say(text, kind = "info") {
  const line = $("status-line");
  line.dataset.kind = kind;
  line.textContent = text;
  clearTimeout(statusTimer);
  if (text) statusTimer = setTimeout(() => { line.textContent = ""; }, kind === "error" ? 10000 : 5000);
}

export function debounce(fn, ms) {
  let timer = 0;
  return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
}
