/* Agent console: queue, ticket view, replies and live updates over a WebSocket. The page
   loads this file as an ES module; it binds the page, keeps the WebSocket and starts the
   parts: console_core.js (state, clock, server access), console_queue.js,
   console_ticket.js, console_actions.js, console_alerts.js, console_views.js and, for
   supervisors, dashboard.js.
   Security rule (every file of the console): text from the server is only ever put into
   the page with textContent / text nodes / element properties, never parsed as HTML. */
import { $, BACKOFF_MS, LOGIN_URL, PING_MS, POLL_MS, SOUND_KEY, api, isMine, same, say, state, tick } from "./console_core.js";
import { claim, eraseConversation, sendText, submitOnEnter, ticketAction, transfer } from "./console_actions.js";
import { beep, onAlert, onAlertClick, renderAlerts, renderSound, sound, toggleSound, unlockSound } from "./console_alerts.js";
import { loadMe, loadQueue, loadSecurity, onQueueClick, scheduleQueue, scheduleSecurity } from "./console_queue.js";
import { loadTicket, mergeMessages, scheduleTicket } from "./console_ticket.js";
import { followHash, showView } from "./console_views.js";

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

init();
