/* Agent console: the pickup-target rule: the alert banner, row highlight and sound
   (ES module).
   Security rule (every file of the console): text from the server is only ever put into
   the page with textContent / text nodes / element properties, never parsed as HTML. */
import { $, BEEP_GAP_MS, SOUND_KEY, h, parseTime, same, serverNow, state, targetText, tick } from "./console_core.js";
import { renderQueue, scheduleQueue } from "./console_queue.js";
import { openTicket } from "./console_ticket.js";
import { showView } from "./console_views.js";

// ---- the pickup-target rule: alerts, highlight, sound -------------------------------------
export const isAlerted = (t) => Boolean(t.over_target || t.alerted || state.alerted.has(String(t.id)));

/* A WebSocket alert: a queued chat in agent hours has waited past the target. */
export function onAlert(event) {
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
export function syncAlerts() {
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

export function renderAlerts() {
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

export function onAlertClick(event) {
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
export const sound = { ctx: null, beeps: 0, last: 0 };

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
export function unlockSound() {
  if (!soundWanted()) return;
  try {
    const ctx = audio();
    if (ctx && ctx.state !== "running") ctx.resume().then(renderSound, () => {});
  } catch { /* no audio in this browser */ }
  renderSound();
}

export function renderSound() {
  const button = $("sound-toggle");
  const wanted = soundWanted();
  const running = Boolean(sound.ctx && sound.ctx.state === "running");
  const mode = !wanted ? "off" : running ? "on" : "blocked";
  button.dataset.sound = mode;
  button.setAttribute("aria-pressed", String(wanted));
  button.textContent = mode === "off" ? "Sound off" : mode === "on" ? "Sound on" : "Enable sound";
  $("alert-sound-hint").hidden = !(mode === "blocked" && state.alerts.size > 0);
}

export function toggleSound() {
  const wanted = !soundWanted() || $("sound-toggle").dataset.sound === "blocked";
  try { localStorage.setItem(SOUND_KEY, wanted ? "on" : "off"); } catch { /* storage blocked */ }
  if (wanted) unlockSound();
  renderSound();
  if (wanted) setTimeout(() => beep({ test: true }), 50); // what an alert sounds like
}

/* Beep for an alert (counted in the toggle's data-beeps, at most one per BEEP_GAP_MS), or
   as a test when sound was just switched on. */
export function beep({ test = false } = {}) {
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
