/* Agent console: what an agent does with a chat: claim, transfer, release, resolve, erase,
   reply and internal notes (ES module).
   Security rule (every file of the console): text from the server is only ever put into
   the page with textContent / text nodes / element properties, never parsed as HTML. */
import { $, api, same, say, state } from "./console_core.js";
import { loadQueue, scheduleQueue } from "./console_queue.js";
import { closeTicket, loadTicket, mergeMessages, openTicket, scheduleTicket } from "./console_ticket.js";

// ---- actions -------------------------------------------------------------------------
function setBusy(busy) {
  state.busy = busy;
  for (const id of ["transfer-button", "release-button", "resolve-button", "ticket-claim", "transfer-select"]) $(id).disabled = busy;
}

export async function claim(id, button) {
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

export async function ticketAction(action, body, doneText) {
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

export async function eraseConversation() {
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

export async function loadAgents() {
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

export function transfer() {
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
export async function sendText(kind) {
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

export function submitOnEnter(event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    event.target.form.requestSubmit();
  }
}
