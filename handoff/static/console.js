/* Agent console: queue, ticket view, replies and live updates over a WebSocket.
   Security rule for this file: text from the server is only ever put into the page with
   textContent / text nodes / element properties, never parsed as HTML. */
"use strict";

(() => {
  const PING_MS = 25000;
  const POLL_MS = 15000;
  const DEBOUNCE_MS = 200;
  const BACKOFF_MS = [1000, 2000, 5000];
  const NEAR_FRACTION = 0.75;
  const LOGIN_URL = "/console/login";
  const SOUND_KEY = "console.sound";
  const BEEP_GAP_MS = 2000;

  const state = {
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
  let queueSeq = 0, ticketSeq = 0; // drop answers of requests that a newer one overtook

  const $ = (id) => document.getElementById(id);
  const same = (a, b) => a != null && b != null && String(a) === String(b);
  const isMine = (t) => Boolean(t && state.me && t.status === "assigned" && t.agent && same(t.agent.id, state.me.id));

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

  // ---- time --------------------------------------------------------------------------
  const pad = (n) => String(n).padStart(2, "0");
  function parseTime(iso) {
    if (typeof iso !== "string" || !iso) return null;
    // A timestamp without a zone is taken as UTC (the server works in UTC).
    const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(iso) || !iso.includes("T") ? iso : `${iso}Z`;
    const ms = Date.parse(zoned);
    return Number.isFinite(ms) ? ms : null;
  }
  const serverNow = () => Date.now() + state.offset;
  function syncClock(iso) {
    const ms = parseTime(iso);
    if (ms !== null) state.offset = ms - Date.now();
  }
  function mmss(seconds) { // minutes are not capped at 59: "75:03"
    const s = Math.max(0, Math.floor(seconds));
    return `${pad(Math.floor(s / 60))}:${pad(s % 60)}`;
  }
  const localDate = (iso) => { const ms = parseTime(iso); return ms === null ? null : new Date(ms); };
  const hhmm = (d) => (d ? `${pad(d.getHours())}:${pad(d.getMinutes())}` : "");
  const ymd = (iso) => { const d = localDate(iso); return d ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` : ""; };
  function timeEl(iso) { // local HH:MM, full date and time on hover
    const d = localDate(iso);
    return h("time", { cls: "time", text: hhmm(d), attrs: { datetime: iso, title: d ? d.toLocaleString() : null } });
  }
  const targetText = () => (state.target % 60 === 0 ? `${state.target / 60} min` : mmss(state.target));

  /* A ticking "mm:ss since created" element; `until` freezes it (e.g. at claim time). The
     pickup-target highlight counts from the ticket's pickup clock: for a chat queued outside
     agent hours, from the start of agent hours, and not at all before ("none"). */
  function waitEl(t, { until = null, highlight = false, testid = null } = {}) {
    let since = parseTime(t.created_at);
    if (since === null) since = serverNow() - (Number(t.waiting_seconds) || 0) * 1000;
    const clock = "pickup_clock_at" in t ? (parseTime(t.pickup_clock_at) ?? "none") : since;
    return h("span", {
      cls: "wait live-wait",
      attrs: { "data-since": since, "data-until": until, "data-highlight": highlight ? "1" : null, "data-clock": highlight ? clock : null, "data-testid": testid },
    });
  }

  /* Every second: refresh all live timers and the pickup-target highlight of queued rows. */
  function tick() {
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
  async function api(method, path, body) {
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
  function say(text, kind = "info") {
    const line = $("status-line");
    line.dataset.kind = kind;
    line.textContent = text;
    clearTimeout(statusTimer);
    if (text) statusTimer = setTimeout(() => { line.textContent = ""; }, kind === "error" ? 10000 : 5000);
  }

  function debounce(fn, ms) {
    let timer = 0;
    return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  // ---- header --------------------------------------------------------------------------
  async function loadMe() {
    const data = await api("GET", "/api/me");
    state.me = data.agent;
    state.csrf = data.csrf_token || "";
    state.target = Number(data.pickup_target_seconds) || 240;
    state.role = String(data.role || (data.agent && data.agent.role) || "agent");
    syncClock(data.server_time);
    renderMe();
    renderViews();
  }

  function renderMe() {
    const me = state.me;
    if (!me) return;
    $("agent-name").textContent = me.display_name || me.username;
    const load = $("agent-load");
    load.textContent = `${me.active_chats} / ${me.max_chats} chats`;
    load.classList.toggle("full", me.active_chats >= me.max_chats);
  }

  // ---- queue ---------------------------------------------------------------------------
  async function loadQueue() {
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
  const scheduleQueue = debounce(loadQueue, DEBOUNCE_MS);

  // ---- security events: order or client locks on look-ups (handoff/security_events.py)
  const SECURITY_LABELS = { order_locked: "Order locked", client_locked: "Client locked",
                            lookup_refused: "Look-up refused" };
  async function loadSecurity() {
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
  const scheduleSecurity = debounce(loadSecurity, DEBOUNCE_MS);

  function renderQueue() {
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
  function onQueueClick(event) {
    const row = event.target.closest(".queue-item");
    if (!row) return;
    if (event.target.closest("[data-role=claim]")) {
      claim(row.dataset.ticketId, event.target.closest("button"));
    } else if (!event.target.closest("a")) {
      openTicket(row.dataset.ticketId, { focus: event.detail === 0 }); // detail 0: keyboard
    }
  }

  // ---- ticket view ---------------------------------------------------------------------
  function openTicket(id, { focus = false } = {}) {
    id = String(id);
    if (!same(id, state.ticketId)) {
      if (state.ticketId != null) state.drafts.set(state.ticketId, $("reply-input").value);
      state.ticketId = id;
      state.ticket = null;
      $("transcript").innerHTML = "";
      state.messages.clear();
      $("reply-input").value = state.drafts.get(id) || "";
      $("note-input").value = "";
      $("reply-error").textContent = "";
      $("note-error").textContent = "";
      history.replaceState(null, "", `#ticket-${encodeURIComponent(id)}`);
    }
    state.unread.delete(id);
    for (const row of document.querySelectorAll(".queue-item")) {
      const sel = same(row.dataset.ticketId, id);
      row.classList.toggle("selected", sel);
      row.querySelector("[data-role=open]").setAttribute("aria-current", String(sel));
      if (sel) { const badge = row.querySelector(".badge-new"); if (badge) badge.remove(); }
    }
    return loadTicket({ focus, initial: true });
  }

  function closeTicket() {
    state.ticketId = null;
    state.ticket = null;
    state.messages.clear();
    $("transcript").innerHTML = "";
    $("ticket-view").hidden = true;
    $("ticket-empty").hidden = false;
    history.replaceState(null, "", location.pathname);
  }

  async function loadTicket({ focus = false, initial = false } = {}) {
    const id = state.ticketId;
    if (id == null) return;
    const seq = ++ticketSeq;
    try {
      const data = await api("GET", `/api/tickets/${encodeURIComponent(id)}`);
      if (seq !== ticketSeq || !same(id, state.ticketId)) return;
      state.ticket = data.ticket;
      renderTicket();
      mergeMessages(Array.isArray(data.messages) ? data.messages : [], { force: initial });
      if (focus) $("ticket-reason").focus();
    } catch (err) {
      if (seq !== ticketSeq) return;
      if (err.status === 404 && same(id, state.ticketId)) closeTicket();
      say(`Could not load chat #${id}: ${err.message}`, "error");
    }
  }
  const scheduleTicket = debounce(() => loadTicket(), DEBOUNCE_MS);

  function statusText(t) {
    switch (t.status) {
      case "queued": return t.position != null ? `Queued · #${t.position}` : "Queued";
      case "assigned": return isMine(t) ? "Assigned to you" : `Assigned to ${t.agent ? t.agent.display_name : "an agent"}`;
      case "resolved": return "Resolved";
      case "abandoned": return "Abandoned";
      default: return String(t.status || "");
    }
  }

  function renderTicket() {
    const t = state.ticket;
    const mine = isMine(t);
    const queued = t.status === "queued";
    $("ticket-empty").hidden = true;
    const view = $("ticket-view");
    view.hidden = false;
    view.dataset.ticketId = t.id;
    view.dataset.status = t.status;
    $("ticket-reason").textContent = t.reason_text || t.reason || "Chat";
    const status = $("ticket-status");
    status.textContent = statusText(t);
    status.dataset.status = t.status;

    const badges = $("ticket-badges");
    badges.innerHTML = "";
    if (t.customer_left) badges.append(h("span", { cls: "badge badge-left", text: "Customer left" }));
    if (t.outside_hours) badges.append(h("span", { cls: "badge badge-hours", text: "Outside hours" }));

    const meta = $("ticket-meta");
    meta.innerHTML = "";
    const item = (label, ...value) => meta.append(h("div", { cls: "meta-item" }, h("dt", { text: label }), h("dd", {}, ...value)));
    item("Chat", `#${t.id}`);
    item("Language", String(t.language || "?").toUpperCase());
    item("Channel", t.channel || "?");
    if (t.order_id) item("Order", t.order_id);
    item("Created", timeEl(t.created_at));
    const claimedMs = parseTime(t.claimed_at);
    if (queued) item("Waiting", waitEl(t));
    else if (claimedMs !== null) item("Waited", waitEl(t, { until: claimedMs }));
    if (t.claimed_at) item("Claimed", timeEl(t.claimed_at), t.agent ? ` by ${t.agent.display_name}` : "");
    if (t.resolved_at) item("Resolved", timeEl(t.resolved_at));

    $("ticket-email").hidden = !t.customer_email;
    $("ticket-email").textContent = t.customer_email ? `Customer e-mail: ${t.customer_email}` : "";

    renderSentiment(Array.isArray(t.sentiment_trail) ? t.sentiment_trail : []);
    renderOrder(t.order);

    // Controls: only the assigned agent may act; a queued ticket can be claimed.
    $("ticket-actions").hidden = !mine;
    // A customer's request to delete the conversation: by whoever has it, or once it is closed.
    $("erase-bar").hidden = !(mine || t.status === "resolved" || t.status === "abandoned");
    $("reply-form").hidden = !mine;
    $("note-form").hidden = !mine;
    $("claim-bar").hidden = !queued;
    $("ticket-claim").disabled = state.busy;
    const notice = $("ticket-notice");
    let text = "";
    if (t.status === "assigned" && !mine) text = `Read only — ${t.agent ? t.agent.display_name : "another agent"} is handling this chat.`;
    else if (queued) text = "Read only — claim the chat to reply.";
    else if (t.status === "resolved") text = "This chat is resolved and was handed back to the assistant.";
    else if (t.status === "abandoned") text = "This chat was abandoned.";
    else if (mine && t.customer_left) {
      text = t.customer_email ? `The customer has left; they can be reached at ${t.customer_email}.` : "The customer has left the chat.";
    }
    notice.textContent = text;
    notice.hidden = !text;
    if (mine) loadAgents();
    tick();
  }

  function renderSentiment(trail) {
    const list = $("sentiment-trail");
    list.innerHTML = "";
    if (!trail.length) {
      list.append(h("li", { cls: "empty", text: "No sentiment readings." }));
      return;
    }
    for (const s of trail) {
      const negative = s.label === "negative";
      const score = Number(s.score);
      list.append(h("li", { cls: `sentiment${negative ? " negative" : ""}${s.strong ? " strong" : ""}` },
        h("div", { cls: "sentiment-head" },
          h("span", { cls: "sentiment-label", text: `${negative ? "▼ " : ""}${s.label || "?"}${s.strong ? " (strong)" : ""}` }),
          h("span", { cls: "sentiment-score", text: Number.isFinite(score) ? score.toFixed(2) : "" }),
          s.at ? timeEl(s.at) : null),
        h("p", { cls: "sentiment-text", text: s.text || "" })));
    }
  }

  function money(amount, currency) {
    if (amount == null || amount === "") return "";
    const n = Number(amount);
    if (currency && Number.isFinite(n)) {
      try { return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(n); } catch { /* unknown code */ }
    }
    return `${amount}${currency ? ` ${currency}` : ""}`;
  }

  function renderOrder(order) {
    const body = $("order-body");
    body.innerHTML = "";
    if (!order) {
      body.append(h("p", { cls: "empty", text: "No verified order" }));
      return;
    }
    const dl = h("dl", { cls: "order-facts" });
    const fact = (label, value) => { if (value) dl.append(h("dt", { text: label }), h("dd", {}, value)); };
    fact("Order", order.order_id);
    fact("Status", order.status);
    fact("Placed", ymd(order.placed_at));
    fact("Total", money(order.total, order.currency));
    fact("Ship to", order.shipping_address);
    fact("Carrier", order.carrier);
    fact("Tracking", order.tracking_number);
    body.append(dl);

    const items = Array.isArray(order.items) ? order.items : [];
    if (items.length) {
      const th = (text, cls) => h("th", { cls, text, attrs: { scope: "col" } });
      body.append(h("table", { cls: "items" },
        h("caption", { cls: "sr-only", text: "Items" }),
        h("thead", {}, h("tr", {}, th("Item"), th("Qty", "num"), th("Price", "num"))),
        h("tbody", {}, ...items.map((it) => h("tr", {},
          h("td", {}, it.name || it.sku || "?", it.sku && it.name ? h("span", { cls: "sku", text: ` ${it.sku}` }) : null),
          h("td", { cls: "num", text: it.quantity ?? "" }),
          h("td", { cls: "num", text: money(it.unit_price, order.currency) }))))));
    }
    const records = (title, list, key) => {
      if (!Array.isArray(list) || !list.length) return;
      body.append(h("h4", { text: title }), h("ul", { cls: "records" }, ...list.map((r) => h("li", {},
        h("strong", { text: r[key] || "?" }), ` ${r.item || ""} — ${r.status || "?"}`,
        r.created_at ? h("span", { cls: "muted", text: ` (${ymd(r.created_at)})` }) : null))));
    };
    records("Returns", order.returns, "rma");
    records("Warranty claims", order.claims, "number");
  }

  // ---- transcript ----------------------------------------------------------------------
  const AUTHOR = { customer: "Customer", assistant: "Assistant", note: "Internal note — not sent to the customer" };

  function messageEl(m) {
    const kind = ["customer", "assistant", "agent", "system", "note"].includes(m.kind) ? m.kind : "system";
    const pending = kind === "agent" && m.delivered === false;
    const li = h("li", {
      cls: `msg msg-${kind}${pending ? " pending" : ""}`,
      attrs: { "data-testid": "message", "data-kind": m.kind, "data-message-id": m.id },
    });
    if (kind === "system") {
      li.append(h("span", { cls: "msg-text", text: m.text || "" }), " ", timeEl(m.at));
      return li;
    }
    const who = kind === "agent" ? m.author || "Agent" : AUTHOR[kind];
    li.append(
      h("div", { cls: "msg-head" },
        h("span", { cls: "msg-author", text: who }),
        kind === "note" && m.author ? h("span", { cls: "msg-by", text: `· ${m.author}` }) : null,
        timeEl(m.at),
        pending ? h("span", { cls: "msg-pending", text: "sending…" }) : null),
      h("p", { cls: "msg-text", text: m.text || "" }));
    return li;
  }

  /* Add new messages (by id) in order and update changed ones (e.g. delivered). */
  function mergeMessages(list, { force = false } = {}) {
    const box = $("transcript");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    // Opening a chat must not make screen readers read out the whole history.
    const quiet = box.childElementCount === 0 && list.length > 1;
    if (quiet) box.setAttribute("aria-live", "off");
    for (let m of list) {
      if (!m || m.id == null) continue;
      const key = String(m.id);
      const known = state.messages.get(key);
      // A late copy (e.g. the POST answer after the WebSocket event) must not undo "delivered".
      if (known && known.delivered && m.delivered === false) m = { ...m, delivered: true };
      const sig = `${m.delivered}|${m.text}|${m.kind}|${m.author}`;
      if (known) {
        if (known.sig === sig) continue;
        const node = messageEl(m);
        known.node.replaceWith(node);
        state.messages.set(key, { node, sig, delivered: m.delivered !== false });
        continue;
      }
      const node = messageEl(m);
      // Keep id order when ids are numeric (a late refetch may bring an older message).
      let before = null;
      if (Number.isFinite(Number(key))) {
        for (let el = box.lastElementChild; el; el = el.previousElementSibling) {
          if (Number(el.dataset.messageId) > Number(key)) before = el;
          else break;
        }
      }
      box.insertBefore(node, before);
      state.messages.set(key, { node, sig, delivered: m.delivered !== false });
    }
    if (force || atBottom) box.scrollTop = box.scrollHeight;
    if (quiet) setTimeout(() => box.setAttribute("aria-live", "polite"), 50);
  }

  // ---- actions -------------------------------------------------------------------------
  function setBusy(busy) {
    state.busy = busy;
    for (const id of ["transfer-button", "release-button", "resolve-button", "ticket-claim", "transfer-select"]) $(id).disabled = busy;
  }

  async function claim(id, button) {
    if (button) button.disabled = true;
    setBusy(true);
    try {
      await api("POST", `/api/tickets/${encodeURIComponent(id)}/claim`, {});
      say("Chat claimed — you can reply now.");
      setBusy(false);
      await openTicket(id);
      if (!$("reply-form").hidden) $("reply-input").focus();
    } catch (err) {
      say(err.message, "error");
      if (same(id, state.ticketId)) scheduleTicket();
    } finally {
      setBusy(false);
      if (button) button.disabled = false;
      scheduleQueue();
    }
  }

  async function ticketAction(action, body, doneText) {
    const id = state.ticketId;
    if (id == null || state.busy) return;
    setBusy(true);
    try {
      await api("POST", `/api/tickets/${encodeURIComponent(id)}/${action}`, body);
      say(doneText);
    } catch (err) {
      say(err.message, "error");
    } finally {
      setBusy(false);
      await Promise.all([loadQueue(), same(id, state.ticketId) ? loadTicket() : null]);
      // The buttons vanish when the chat is no longer mine: keep focus somewhere sensible.
      if ($("ticket-actions").hidden && !$("ticket-view").hidden) $("ticket-reason").focus();
    }
  }

  async function eraseConversation() {
    const id = state.ticketId;
    const conversation = state.ticket && state.ticket.conversation_id;
    if (id == null || !conversation || state.busy) return;
    if (!window.confirm("Erase this conversation because the customer asked for it? It is removed " +
                        "from every store (transcript, queue, metrics, survey answers) and cannot be restored.")) return;
    setBusy(true);
    try {
      const result = await api("POST", `/api/tickets/${encodeURIComponent(id)}/erase`, { confirm: conversation });
      say(`Conversation erased (${result.rows} records).`);
      closeTicket();
    } catch (err) {
      say(err.message, "error");
    } finally {
      setBusy(false);
      await loadQueue();
    }
  }

  async function loadAgents() {
    try {
      const data = await api("GET", "/api/agents");
      state.agents = Array.isArray(data.agents) ? data.agents : [];
    } catch (err) {
      say(`Could not load the agent list: ${err.message}`, "error");
    }
    const select = $("transfer-select");
    const keep = select.value;
    const others = state.agents.filter((a) => !state.me || !same(a.id, state.me.id))
      .sort((a, b) => Number(Boolean(b.online)) - Number(Boolean(a.online)));
    select.innerHTML = "";
    select.append(new Option(others.length ? "Choose an agent…" : "No other agents", ""));
    for (const a of others) {
      const notes = [`${a.active_chats}/${a.max_chats}`];
      if (!a.online) notes.push("offline");
      else if (a.active_chats >= a.max_chats) notes.push("full");
      select.append(new Option(`${a.display_name} (${notes.join(", ")})`, String(a.id)));
    }
    if (others.some((a) => same(a.id, keep))) select.value = keep;
  }

  function transfer() {
    const select = $("transfer-select");
    if (!select.value) {
      say("Choose an agent to transfer the chat to.", "error");
      select.focus();
      return;
    }
    const agent = state.agents.find((a) => same(a.id, select.value));
    const agentId = Number.isFinite(Number(select.value)) ? Number(select.value) : select.value;
    ticketAction("transfer", { agent_id: agentId }, `Chat transferred to ${agent ? agent.display_name : "the agent"}.`);
  }

  /* Send a reply ("messages") or an internal note ("notes"); keeps the text if it fails. */
  async function sendText(kind) {
    const input = $(kind === "messages" ? "reply-input" : "note-input");
    const button = $(kind === "messages" ? "reply-send" : "note-send");
    const error = $(kind === "messages" ? "reply-error" : "note-error");
    const text = input.value.trim();
    const id = state.ticketId;
    if (!text || input.disabled || id == null) return;
    input.disabled = button.disabled = true;
    error.textContent = "";
    try {
      const data = await api("POST", `/api/tickets/${encodeURIComponent(id)}/${kind}`, { text });
      state.drafts.delete(id);
      if (same(id, state.ticketId)) {
        input.value = "";
        if (data.message) mergeMessages([data.message], { force: true });
        // Normally a WebSocket event confirms delivery; re-check in case none comes.
        if (data.message && data.message.delivered === false) setTimeout(() => { if (same(id, state.ticketId)) loadTicket(); }, 5000);
      }
    } catch (err) {
      if (same(id, state.ticketId)) error.textContent = `Not sent: ${err.message}`;
      else say(`Not sent: ${err.message}`, "error");
    } finally {
      input.disabled = button.disabled = false;
      if (same(id, state.ticketId) && !input.closest("form").hidden) input.focus();
    }
  }

  function submitOnEnter(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  }

  // ---- live updates --------------------------------------------------------------------
  let socket = null, attempt = 0, pingTimer = 0, connectedBefore = false;

  function setWs(stateName, text) {
    const node = $("ws-status");
    node.dataset.state = stateName;
    node.textContent = text;
  }

  function connect() {
    setWs("connecting", "Connecting…");
    let ws;
    try {
      ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/ws`);
    } catch {
      reconnectLater();
      return;
    }
    socket = ws;
    ws.addEventListener("open", () => {
      attempt = 0;
      setWs("open", "Live");
      clearInterval(pingTimer);
      pingTimer = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
      }, PING_MS);
      // After a reconnect we may have missed events: fetch everything again.
      if (connectedBefore) refreshAll();
      else scheduleQueue();
      connectedBefore = true;
    });
    ws.addEventListener("message", (event) => handleEvent(event.data));
    ws.addEventListener("close", () => {
      if (socket !== ws) return;
      socket = null;
      clearInterval(pingTimer);
      reconnectLater();
    });
  }

  function reconnectLater() {
    const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    attempt += 1;
    setWs("closed", `Offline — retrying in ${delay / 1000} s`);
    setTimeout(connect, delay);
  }

  function handleEvent(raw) {
    let event;
    try { event = JSON.parse(raw); } catch { return; }
    if (!event || typeof event !== "object") return;
    if (event.type === "queue") {
      scheduleQueue();
    } else if (event.type === "ticket") {
      if (same(event.ticket_id, state.ticketId)) scheduleTicket();
      scheduleQueue();
    } else if (event.type === "message") {
      if (same(event.ticket_id, state.ticketId)) {
        if (event.message) mergeMessages([event.message]);
      } else if (event.message && event.message.kind === "customer" && state.queue.some((t) => same(t.id, event.ticket_id) && isMine(t))) {
        state.unread.add(String(event.ticket_id)); // shown as "New message" on my row
      }
      scheduleQueue();
    } else if (event.type === "alert") {
      onAlert(event);
    } else if (event.type === "security") {
      scheduleSecurity();
    }
  }

  async function refreshAll() {
    try { await loadMe(); } catch (err) { say(err.message, "error"); }
    await Promise.all([loadQueue(), loadTicket(), loadSecurity()]);
  }

  // ---- the pickup-target rule: alerts, highlight, sound -------------------------------------
  const isAlerted = (t) => Boolean(t.over_target || t.alerted || state.alerted.has(String(t.id)));

  /* A WebSocket alert: a queued chat in agent hours has waited past the target. */
  function onAlert(event) {
    if (event.ticket_id == null) return;
    const id = String(event.ticket_id);
    state.alerted.add(id);
    state.dismissed.delete(id);
    const waited = Number(event.waiting_seconds);
    state.alerts.set(id, {
      id,
      channel: event.channel || (findTicket(id) || {}).channel || "",
      reason: (findTicket(id) || {}).reason_text || String(event.reason || "").replace(/_/g, " "),
      since: serverNow() - (Number.isFinite(waited) ? waited : state.target) * 1000,
    });
    renderAlerts();
    renderQueue();
    beep();
    scheduleQueue();
  }

  const findTicket = (id) => state.queue.find((t) => same(t.id, id));

  /* Keep the banner in step with the queue: add flagged chats (a console opened after the
     alert), drop chats that are no longer waiting. */
  function syncAlerts() {
    const waiting = new Map(state.queue.filter((t) => t.status === "queued").map((t) => [String(t.id), t]));
    for (const id of [...state.alerted]) if (!waiting.has(id)) state.alerted.delete(id);
    for (const id of [...state.alerts.keys()]) if (!waiting.has(id)) state.alerts.delete(id);
    for (const [id, t] of waiting) {
      if (!isAlerted(t) || state.dismissed.has(id)) continue;
      const created = parseTime(t.created_at);
      const since = created !== null ? created : serverNow() - (Number(t.waiting_seconds) || 0) * 1000;
      const known = state.alerts.get(id);
      state.alerts.set(id, { id, channel: t.channel || (known && known.channel) || "", reason: t.reason_text || t.reason || "", since });
    }
    renderAlerts();
  }

  function renderAlerts() {
    const list = $("alert-list");
    list.textContent = "";
    for (const a of state.alerts.values()) {
      list.append(h("li", { cls: "alert-item", attrs: { "data-testid": "alert-item", "data-ticket-id": a.id } },
        h("span", { cls: "alert-text" },
          h("strong", { text: `Chat #${a.id}` }),
          a.channel ? ` on ${a.channel}` : "",
          " has been waiting ",
          h("span", { cls: "wait live-wait", attrs: { "data-since": a.since, "data-testid": "alert-wait" } }),
          ` — over the ${targetText()} pickup target`,
          a.reason ? h("span", { cls: "alert-reason", text: ` · ${a.reason}` }) : null),
        h("span", { cls: "alert-buttons" },
          h("button", { cls: "btn btn-small primary", text: "Open", attrs: { type: "button", "data-role": "alert-open", "data-testid": "alert-open" } }),
          h("button", { cls: "btn btn-small", text: "Dismiss", attrs: { type: "button", "data-role": "alert-dismiss", "data-testid": "alert-dismiss" } }))));
    }
    const banner = $("alert-banner");
    banner.hidden = state.alerts.size === 0;
    banner.dataset.count = String(state.alerts.size);
    tick();
  }

  function onAlertClick(event) {
    const button = event.target.closest("button[data-role]");
    const item = event.target.closest(".alert-item");
    if (!button || !item) return;
    const id = item.dataset.ticketId;
    if (button.dataset.role === "alert-open") {
      showView("chats");
      openTicket(id, { focus: true });
    } else {
      state.dismissed.add(id);
      state.alerts.delete(id);
      renderAlerts();
    }
  }

  // Sound: a short two-tone beep from the Web Audio API. Browsers let a page play sound only
  // after a user gesture, so the context is unlocked on the first click or key press.
  const sound = { ctx: null, beeps: 0, last: 0 };

  function soundWanted() {
    try { return localStorage.getItem(SOUND_KEY) !== "off"; } catch { return true; }
  }

  function audio() {
    if (!sound.ctx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      sound.ctx = new Ctx();
      sound.ctx.addEventListener("statechange", renderSound);
    }
    return sound.ctx;
  }

  /* Called from a user gesture: start (or resume) the audio context. */
  function unlockSound() {
    if (!soundWanted()) return;
    try {
      const ctx = audio();
      if (ctx && ctx.state !== "running") ctx.resume().then(renderSound, () => {});
    } catch { /* no audio in this browser */ }
    renderSound();
  }

  function renderSound() {
    const button = $("sound-toggle");
    const wanted = soundWanted();
    const running = Boolean(sound.ctx && sound.ctx.state === "running");
    const mode = !wanted ? "off" : running ? "on" : "blocked";
    button.dataset.sound = mode;
    button.setAttribute("aria-pressed", String(wanted));
    button.textContent = mode === "off" ? "Sound off" : mode === "on" ? "Sound on" : "Enable sound";
    $("alert-sound-hint").hidden = !(mode === "blocked" && state.alerts.size > 0);
  }

  function toggleSound() {
    const wanted = !soundWanted() || $("sound-toggle").dataset.sound === "blocked";
    try { localStorage.setItem(SOUND_KEY, wanted ? "on" : "off"); } catch { /* storage blocked */ }
    if (wanted) unlockSound();
    renderSound();
    if (wanted) setTimeout(() => beep({ test: true }), 50); // what an alert sounds like
  }

  /* Beep for an alert (counted in the toggle's data-beeps, at most one per BEEP_GAP_MS), or
     as a test when sound was just switched on. */
  function beep({ test = false } = {}) {
    renderSound();
    if (!soundWanted() || (!test && Date.now() - sound.last < BEEP_GAP_MS)) return false;
    try {
      const ctx = audio();
      if (!ctx || ctx.state !== "running") { renderSound(); return false; }
      const start = ctx.currentTime + 0.02;
      for (const [freq, offset] of [[880, 0], [660, 0.22]]) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = "sine";
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, start + offset);
        gain.gain.exponentialRampToValueAtTime(0.3, start + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.18);
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start(start + offset);
        osc.stop(start + offset + 0.2);
      }
      if (!test) {
        sound.last = Date.now();
        sound.beeps += 1;
        $("sound-toggle").dataset.beeps = String(sound.beeps);
      }
      return true;
    } catch {
      return false; // never let a sound problem break the console
    }
  }

  // ---- views: chats and (supervisors) the dashboard ----------------------------------------
  const isSupervisor = () => state.role === "supervisor";

  function renderViews() {
    $("tab-dashboard").hidden = !isSupervisor();
    $("tab-chats").hidden = !isSupervisor(); // agents have one view: no tabs
    if (state.view === "dashboard" && !isSupervisor()) showView("chats");
  }

  function showView(name) {
    const dashboard = name === "dashboard" && isSupervisor() && Boolean(window.SupportDashboard);
    state.view = dashboard ? "dashboard" : "chats";
    $("chats-view").hidden = dashboard;
    $("dashboard-view").hidden = !dashboard;
    document.body.classList.toggle("view-dashboard", dashboard);
    for (const tab of document.querySelectorAll(".view-tab")) {
      if (tab.dataset.view === state.view) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    }
    if (dashboard) {
      history.replaceState(null, "", "#dashboard");
      window.SupportDashboard.show();
    } else {
      if (window.SupportDashboard) window.SupportDashboard.hide();
      const hash = state.ticketId != null ? `#ticket-${encodeURIComponent(state.ticketId)}` : "";
      if (location.hash !== hash) history.replaceState(null, "", hash || location.pathname);
    }
  }

  // ---- start ---------------------------------------------------------------------------
  function bind() {
    $("queue-list").addEventListener("click", onQueueClick);
    $("alert-list").addEventListener("click", onAlertClick);
    $("alert-dismiss-all").addEventListener("click", () => {
      for (const id of state.alerts.keys()) state.dismissed.add(id);
      state.alerts.clear();
      renderAlerts();
    });
    $("sound-toggle").addEventListener("click", toggleSound);
    $("alert-sound-enable").addEventListener("click", () => {
      try { localStorage.setItem(SOUND_KEY, "on"); } catch { /* storage blocked */ }
      unlockSound();
      setTimeout(() => beep({ test: true }), 50);
    });
    // Any click or key press may unlock the audio context (browsers' autoplay rule).
    for (const type of ["pointerdown", "keydown"]) {
      document.addEventListener(type, (event) => {
        if (event.target.closest && event.target.closest("#sound-toggle, #alert-sound-enable")) return;
        if (!sound.ctx || sound.ctx.state !== "running") unlockSound();
      }, { capture: true });
    }
    for (const tab of document.querySelectorAll(".view-tab")) {
      tab.addEventListener("click", () => showView(tab.dataset.view));
    }
    $("logout-button").addEventListener("click", async (event) => {
      event.currentTarget.disabled = true;
      try { await api("POST", "/api/logout", {}); } catch { /* leaving anyway */ }
      location.href = LOGIN_URL;
    });
    $("ticket-claim").addEventListener("click", (event) => claim(state.ticketId, event.currentTarget));
    $("transfer-button").addEventListener("click", transfer);
    $("release-button").addEventListener("click", () => ticketAction("release", {}, "Chat released back to the queue."));
    $("resolve-button").addEventListener("click", () => {
      if (window.confirm("Resolve this chat and hand the customer back to the assistant?")) {
        ticketAction("resolve", {}, "Chat resolved and handed back to the assistant.");
      }
    });
    $("erase-button").addEventListener("click", eraseConversation);
    $("reply-form").addEventListener("submit", (event) => { event.preventDefault(); sendText("messages"); });
    $("note-form").addEventListener("submit", (event) => { event.preventDefault(); sendText("notes"); });
    $("reply-input").addEventListener("keydown", submitOnEnter);
    $("note-input").addEventListener("keydown", submitOnEnter);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) scheduleQueue(); });
    // Remember whether the agent collapsed the sentiment/order box (more room for the chat).
    const context = document.querySelector(".context");
    try { if (localStorage.getItem("console.context") === "closed") context.open = false; } catch { /* storage blocked */ }
    context.addEventListener("toggle", () => {
      try { localStorage.setItem("console.context", context.open ? "open" : "closed"); } catch { /* storage blocked */ }
    });
  }

  async function init() {
    bind();
    for (;;) { // without /api/me there is no CSRF token: retry until it works (401 redirects)
      try { await loadMe(); break; } catch (err) {
        if (err.status === 401) return;
        say(`Could not load your profile: ${err.message} Retrying…`, "error");
        await new Promise((resolve) => setTimeout(resolve, 5000));
      }
    }
    renderSound();
    await loadQueue();
    loadSecurity();
    followHash();
    // A link to a chat (#ticket-12) pasted or clicked while the console is open opens it.
    window.addEventListener("hashchange", followHash);
    connect();
    setInterval(tick, 1000);
    setInterval(loadQueue, POLL_MS);
  }

  function followHash() {
    const match = /^#ticket-(.+)$/.exec(location.hash);
    if (match) {
      const id = decodeURIComponent(match[1]);
      if (!same(id, state.ticketId)) openTicket(id);
      if (state.view !== "chats") showView("chats");
    } else if (location.hash === "#dashboard" && isSupervisor()) showView("dashboard");
  }

  init();
})();
