/* Agent console: the open chat, with its status, customer context, order and transcript
   (ES module).
   Security rule (every file of the console): text from the server is only ever put into
   the page with textContent / text nodes / element properties, never parsed as HTML. */
import { $, DEBOUNCE_MS, api, debounce, h, isMine, parseTime, same, say, state, tick, timeEl, waitEl,
  ymd } from "./console_core.js";
import { loadAgents } from "./console_actions.js";

let ticketSeq = 0; // drop answers of requests that a newer one overtook

// ---- ticket view ---------------------------------------------------------------------
export function openTicket(id, { focus = false } = {}) {
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

export function closeTicket() {
  state.ticketId = null;
  state.ticket = null;
  state.messages.clear();
  $("transcript").innerHTML = "";
  $("ticket-view").hidden = true;
  $("ticket-empty").hidden = false;
  history.replaceState(null, "", location.pathname);
}

export async function loadTicket({ focus = false, initial = false } = {}) {
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
export const scheduleTicket = debounce(() => loadTicket(), DEBOUNCE_MS);

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
export function mergeMessages(list, { force = false } = {}) {
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
