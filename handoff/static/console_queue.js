/* Agent console: the signed-in agent, the queue and the security events (ES module).
   Security rule (every file of the console): text from the server is only ever put into
   the page with textContent / text nodes / element properties, never parsed as HTML. */
import { $, DEBOUNCE_MS, api, debounce, h, isMine, same, say, state, syncClock, targetText, tick, timeEl,
  waitEl } from "./console_core.js";
import { claim } from "./console_actions.js";
import { isAlerted, syncAlerts } from "./console_alerts.js";
import { openTicket } from "./console_ticket.js";
import { renderViews } from "./console_views.js";

let queueSeq = 0; // drop answers of requests that a newer one overtook

// ---- header --------------------------------------------------------------------------
export async function loadMe() {
  const data = await api("GET", "/api/me");
  state.me = data.agent;
  state.csrf = data.csrf_token || "";
  state.target = Number(data.pickup_target_seconds) || 240;
  state.role = String(data.role || (data.agent && data.agent.role) || "agent");
  syncClock(data.server_time);
  renderMe();
  renderViews();
}

export function renderMe() {
  const me = state.me;
  if (!me) return;
  $("agent-name").textContent = me.display_name || me.username;
  const load = $("agent-load");
  load.textContent = `${me.active_chats} / ${me.max_chats} chats`;
  load.classList.toggle("full", me.active_chats >= me.max_chats);
}

// ---- queue ---------------------------------------------------------------------------
export async function loadQueue() {
  const seq = ++queueSeq;
  try {
    const data = await api("GET", "/api/queue");
    if (seq !== queueSeq) return; // a newer request is on its way
    syncClock(data.server_time);
    state.queue = Array.isArray(data.tickets) ? data.tickets : [];
    if (state.me) {
      // My load changes with every claim/transfer/resolve; the queue lists all assigned tickets.
      state.me.active_chats = state.queue.filter(isMine).length;
      renderMe();
    }
    syncAlerts();
    renderQueue();
  } catch (err) {
    if (seq === queueSeq) say(`Could not refresh the queue: ${err.message}`, "error");
  }
}
export const scheduleQueue = debounce(loadQueue, DEBOUNCE_MS);

// ---- security events: order or client locks on look-ups (handoff/security_events.py)
const SECURITY_LABELS = { order_locked: "Order locked", client_locked: "Client locked",
                          lookup_refused: "Look-up refused" };
export async function loadSecurity() {
  try {
    const data = await api("GET", "/api/security-events");
    const list = $("security-list");
    const events = Array.isArray(data.events) ? data.events : [];
    list.replaceChildren(...(events.length ? events.map((e) => h("li", {
      cls: "security-event", attrs: { "data-event": e.event, title: e.detail } },
      h("strong", { text: SECURITY_LABELS[e.event] || e.event }), " ",
      h("span", { text: `${e.scope} ${e.subject}` }), " · until ",
      timeEl(e.until), h("p", { cls: "muted", text: e.detail }))) :
      [h("li", { cls: "empty", text: "No security events." })]));
  } catch (err) {
    say(`Could not load the security events: ${err.message}`, "error");
  }
}
export const scheduleSecurity = debounce(loadSecurity, DEBOUNCE_MS);

export function renderQueue() {
  const list = $("queue-list");
  // Keep keyboard focus on the same row/button across re-renders.
  const active = document.activeElement;
  const focusRow = active && list.contains(active) ? active.closest("[data-ticket-id]") : null;
  const focus = focusRow ? { id: focusRow.dataset.ticketId, role: active.dataset.role } : null;

  const pos = (t) => (t.position == null ? 1e9 : Number(t.position));
  const queued = state.queue.filter((t) => t.status === "queued").sort((a, b) => pos(a) - pos(b));
  const assigned = state.queue.filter((t) => t.status !== "queued");
  for (const id of state.unread) if (!state.queue.some((t) => same(t.id, id) && isMine(t))) state.unread.delete(id);
  list.innerHTML = "";
  list.append(
    queueGroup(`Waiting (${queued.length})`, queued, "No customers waiting."),
    queueGroup(`With agents (${assigned.length})`, assigned, "No chats in progress."),
  );
  document.title = `${queued.length ? `(${queued.length}) ` : ""}Support agent console`;
  tick();
  if (focus) {
    const row = list.querySelector(`[data-ticket-id="${CSS.escape(focus.id)}"]`);
    const target = row && (row.querySelector(`[data-role="${focus.role}"]`) || row.querySelector("[data-role=open]"));
    if (target) target.focus();
  }
}

function queueGroup(title, tickets, emptyText) {
  const group = h("section", { cls: "queue-group" }, h("h3", { cls: "group-title", text: title }));
  if (!tickets.length) group.append(h("p", { cls: "empty", text: emptyText }));
  else group.append(h("ul", { cls: "queue-items" }, ...tickets.map(queueRow)));
  return group;
}

function truncate(text, max) {
  const s = String(text || "").replace(/\s+/g, " ").trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function queueRow(t) {
  const queued = t.status === "queued";
  const mine = isMine(t);
  const selected = same(t.id, state.ticketId);
  const alerted = queued && isAlerted(t);
  const li = h("li", {
    cls: `queue-item${selected ? " selected" : ""}${mine ? " mine" : ""}${t.customer_left ? " left" : ""}${alerted ? " over-target alerted" : ""}`,
    attrs: { "data-testid": "queue-item", "data-ticket-id": t.id, "data-status": t.status, "data-alerted": alerted ? "1" : null },
  });
  const open = h("button", {
    cls: "row-open",
    text: t.reason_text || t.reason || "Chat",
    attrs: { type: "button", "data-role": "open", "aria-current": selected ? "true" : null },
  });
  const top = h("div", { cls: "row-top" },
    queued && t.position != null ? h("span", { cls: "position", text: `#${t.position}`, attrs: { title: "Position in the queue" } }) : null,
    open,
    h("span", { cls: "wait-box", attrs: { title: queued ? "Waiting for an agent" : "Time since the handoff" } },
      h("span", { cls: "sr-only", text: queued ? "Waiting " : "Open for " }),
      waitEl(t, { highlight: queued, testid: "wait-time" }),
      h("span", { cls: "over-label", text: `over ${targetText()}`, attrs: { hidden: "" } })));

  const tags = h("div", { cls: "tags" },
    h("span", { cls: "tag", text: String(t.language || "?").toUpperCase(), attrs: { title: "Language" } }),
    h("span", { cls: "tag", text: t.channel || "?", attrs: { title: "Channel" } }),
    t.order_id ? h("span", { cls: "tag tag-order", text: t.order_id, attrs: { title: "Order" } }) : null,
    t.customer_left ? h("span", { cls: "badge badge-left", text: "Customer left" }) : null,
    t.outside_hours ? h("span", { cls: "badge badge-hours", text: "Outside hours" }) : null,
    alerted ? h("span", { cls: "badge badge-alert", text: `waiting over ${targetText()}`, attrs: { "data-testid": "over-target-badge" } }) : null,
    state.unread.has(String(t.id)) ? h("span", { cls: "badge badge-new", text: "New message" }) : null);

  li.append(top, tags);
  if (t.last_customer_text) {
    li.append(h("p", { cls: "last-text", text: `“${truncate(t.last_customer_text, 140)}”`, attrs: { title: t.last_customer_text } }));
  }
  if (t.customer_left && t.customer_email) {
    li.append(h("p", { cls: "row-email", text: `E-mail: ${t.customer_email}` }));
  }
  const foot = h("div", { cls: "row-foot" });
  if (queued) {
    foot.append(h("button", { cls: "btn btn-small primary", text: "Claim", attrs: { type: "button", "data-testid": "claim-button", "data-role": "claim" } }));
  } else if (t.agent) {
    foot.append(h("span", { cls: "assignee", text: mine ? "With you" : `With ${t.agent.display_name}` }));
  }
  li.append(foot);
  return li;
}

// Clicks anywhere on a row open it; the Claim button claims.
export function onQueueClick(event) {
  const row = event.target.closest(".queue-item");
  if (!row) return;
  if (event.target.closest("[data-role=claim]")) {
    claim(row.dataset.ticketId, event.target.closest("button"));
  } else if (!event.target.closest("a")) {
    openTicket(row.dataset.ticketId, { focus: event.detail === 0 }); // detail 0: keyboard
  }
}
