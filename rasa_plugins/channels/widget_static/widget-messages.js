/*
 * Support chat widget, part: what the visitor sees of the conversation. Opening and closing
 * the panel (with the unread count on the launcher), the messages (the server's and the
 * visitor's, each shown once by id), quick replies under the latest one, the queue status,
 * the typing and connection lines. widget.js loads this file and calls messageLog(app)
 * (see widget.js); it reaches the session part through app.session, which exists by the
 * time the visitor can do anything. Text is only ever set as text, never as HTML.
 */
(() => {
  "use strict";

  const parts = window.__supportChatParts;
  if (!parts) return; // not loaded by widget.js

  const CONNECTING_NOTICE_MS = 1500;
  const TYPING_MAX_MS = 60000;

  function messageLog(app) {
    const {text, language, greeting} = app;
    const {h, appendRichText} = app.dom;
    const {perTab, OPEN_KEY} = app.store;
    const {shell, panel, launcher, badge, closeButton, humanButton, input, log, typing, status,
      connection} = app.ui;
    const timeFormat = new Intl.DateTimeFormat(language, {hour: "2-digit", minute: "2-digit"});

    const records = new Map(); // id -> {id, role, from, text, status, buttons, el, state}
    let lastServerId = null;
    let greetingEl = null;
    let unread = 0;
    let typingTimer = null;
    let connectingTimer = null;
    let isOpen = false;

    // --- open / close ----------------------------------------------------------------------

    function setOpen(open, {focus = true, restoreFocus = true} = {}) {
      if (open === isOpen) return;
      isOpen = open;
      panel.hidden = !open;
      shell.setAttribute("data-open", String(open));
      launcher.setAttribute("aria-expanded", String(open));
      perTab.set(OPEN_KEY, open ? "1" : null);
      if (open) {
        unread = 0;
        renderLauncherLabel();
        app.session.connect();
        scrollToEnd();
        if (focus) input.focus();
      } else {
        renderLauncherLabel();
        if (restoreFocus) launcher.focus();
      }
    }

    function renderLauncherLabel() {
      let label = isOpen ? text("launcherClose") : text("launcherOpen");
      if (!isOpen && unread > 0) label += `. ${text("unread", {count: unread})}`;
      launcher.setAttribute("aria-label", label);
      badge.hidden = isOpen || unread === 0;
      badge.textContent = unread > 9 ? "9+" : String(unread);
    }

    launcher.addEventListener("click", () => setOpen(!isOpen));
    closeButton.addEventListener("click", () => setOpen(false));
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        setOpen(false);
      }
    });

    // --- rendering messages --------------------------------------------------------------

    function isNearEnd() {
      return log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    }

    function scrollToEnd() {
      log.scrollTop = log.scrollHeight;
    }

    function timeOf(timestamp) {
      const date = new Date(Number(timestamp) * 1000);
      return Number.isNaN(date.getTime()) ? "" : timeFormat.format(date);
    }

    function speakerOf(message) {
      if (message.role === "user") return text("you");
      if (message.from === "agent") return null; // the visible name label says it
      if (message.from === "system") return null;
      return text("assistant");
    }

    function messageElement(message) {
      const el = h("div", {
        className: `sc-msg sc-${message.role} sc-from-${message.from}`, "data-testid": "chat-message",
        "data-role": message.role, "data-from": message.from, "data-id": message.id,
      });
      if (message.from === "agent") {
        el.append(h("div", {className: "sc-agent-name", "data-testid": "chat-agent-name"},
          message.agent_name || text("withSomeone")));
      }
      const speaker = speakerOf(message);
      if (message.text) {
        const bubble = h("div", {className: "sc-bubble"});
        if (speaker) bubble.append(h("span", {className: "sc-vh"}, `${speaker}: `));
        appendRichText(bubble, message.text);
        el.append(bubble);
      }
      const when = timeOf(message.timestamp);
      if (message.from !== "system") {
        el.append(h("div", {className: "sc-meta"}, h("span", {className: "sc-time"}, when),
          h("span", {className: "sc-note"})));
      }
      if (message.buttons && message.buttons.length) {
        const group = h("div", {className: "sc-buttons", role: "group", "aria-label": text("quickReplies"), hidden: true});
        for (const button of message.buttons) {
          const b = h("button", {type: "button", className: "sc-quick", "data-testid": "chat-button",
            "data-payload": button.payload}, button.title);
          b.addEventListener("click", () => {
            app.session.send(button.payload, button.title);
            input.focus();
          });
          group.append(b);
        }
        el.append(group);
      }
      return el;
    }

    function cleanMessage(raw, role) {
      if (!raw || typeof raw !== "object" || typeof raw.id !== "string" || !raw.id) return null;
      const kind = raw.role === "user" || raw.role === "bot" ? raw.role : role;
      if (!kind) return null;
      const message = {
        id: raw.id,
        role: kind,
        text: typeof raw.text === "string" ? raw.text : "",
        timestamp: Number(raw.timestamp) || Date.now() / 1000,
        from: ["customer", "assistant", "agent", "system"].includes(raw.from)
          ? raw.from : (kind === "user" ? "customer" : "assistant"),
      };
      if (typeof raw.agent_name === "string" && raw.agent_name) message.agent_name = raw.agent_name;
      if (Array.isArray(raw.buttons)) {
        message.buttons = raw.buttons.filter((b) => b && typeof b.title === "string" && typeof b.payload === "string");
      }
      if (raw.status && typeof raw.status === "object" && typeof raw.status.state === "string") {
        message.status = raw.status;
      }
      if (!message.text && !(message.buttons && message.buttons.length)) return null;
      return message;
    }

    /** Where a message from the server goes: before the visitor's messages still queued. */
    function anchor() {
      for (const entry of app.session.outbox) {
        if (entry.state === "queued") return entry.record.el;
      }
      return null;
    }

    /** A message from the server (history or live); false if it was shown already. */
    function addServerMessage(raw, role, {live = false} = {}) {
      const message = cleanMessage(raw, role);
      if (!message) return false;
      lastServerId = message.id;
      const known = records.get(message.id);
      if (known) {
        const entry = app.session.outbox.find((e) => e.id === message.id);
        if (entry) app.session.delivered(entry); // the server has it: no resend needed
        return false;
      }
      const stick = isNearEnd();
      const record = Object.assign({}, message, {el: messageElement(message), state: "sent"});
      record.el.setAttribute("data-state", "sent");
      records.set(message.id, record);
      log.insertBefore(record.el, anchor());
      if (message.role === "bot") {
        setTyping(false);
        if (live && !isOpen) {
          unread += 1;
          renderLauncherLabel();
        }
      }
      refresh();
      if (stick || message.role === "user") scrollToEnd();
      return true;
    }

    function clearMessages() {
      for (const record of records.values()) record.el.remove();
      records.clear();
      if (greetingEl) greetingEl.remove();
      greetingEl = null;
      lastServerId = null;
    }

    function showGreeting() {
      if (greetingEl || !greeting) return;
      greetingEl = messageElement({id: "greeting", role: "bot", from: "assistant", text: greeting,
        timestamp: Date.now() / 1000});
      greetingEl.setAttribute("data-local", "true");
      log.prepend(greetingEl);
    }

    /** Quick replies under the latest message only if it is the bot's; the status banner. */
    function refresh() {
      const items = Array.from(log.querySelectorAll(".sc-msg:not([data-local])"));
      const latest = items[items.length - 1];
      for (const group of log.querySelectorAll(".sc-buttons")) {
        const mine = group.parentElement === latest && latest.getAttribute("data-role") === "bot";
        group.hidden = !mine;
        for (const b of group.querySelectorAll("button")) b.disabled = !mine;
      }
      let found = null;
      for (let i = items.length - 1; i >= 0 && !found; i -= 1) {
        const record = records.get(items[i].getAttribute("data-id"));
        if (record && record.status) found = record.status;
      }
      renderStatus(found);
    }

    function renderStatus(found) {
      const state = found ? found.state : "none";
      let line = "";
      if (state === "queued") {
        const position = Number(found.position);
        const minutes = Number(found.minutes);
        if (position > 0 && Number.isFinite(minutes) && minutes >= 0) {
          line = text("queuedWait", {position, minutes: Math.max(1, Math.round(minutes))});
        } else if (position > 0) {
          line = text("queuedPosition", {position});
        } else {
          line = text("queued");
        }
      } else if (state === "with_agent") {
        line = found.agent_name ? text("withAgent", {agent: found.agent_name}) : text("withSomeone");
      }
      status.setAttribute("data-state", line ? state : "none");
      if (status.textContent !== line) status.textContent = line;
      const busy = state === "queued" || state === "with_agent";
      humanButton.disabled = busy;
      humanButton.title = busy ? text("humanBusy") : "";
    }

    function setTyping(on) {
      clearTimeout(typingTimer);
      typing.setAttribute("data-on", String(on));
      if (on) {
        if (!typing.firstChild) {
          typing.append(h("span", {className: "sc-dots", "aria-hidden": "true"}, h("span"), h("span"), h("span")),
            h("span", {className: "sc-vh"}, text("typing")));
        }
        typingTimer = setTimeout(() => setTyping(false), TYPING_MAX_MS);
      } else {
        typing.replaceChildren();
      }
    }

    function setConnection(state) {
      clearTimeout(connectingTimer);
      connection.setAttribute("data-state", state);
      const line = {reconnecting: text("reconnecting"), connecting: text("connecting"),
        unavailable: text("unavailable")}[state] || "";
      if (state === "connecting") {
        // A quick first connection shows nothing; a slow one says so.
        connection.textContent = "";
        connectingTimer = setTimeout(() => { connection.textContent = text("connecting"); }, CONNECTING_NOTICE_MS);
      } else {
        connection.textContent = line;
      }
    }


    /** A line from the server outside the conversation (too many new chats): shown, but
     * not where a history replay after a reconnection starts. */
    function addNotice(line) {
      const kept = lastServerId;
      addServerMessage({id: `limit-${Date.now()}`, role: "bot", from: "system",
                        text: line, timestamp: Date.now() / 1000}, "bot", {live: true});
      lastServerId = kept;
    }

    return Object.freeze({
      records, setOpen, renderLauncherLabel, scrollToEnd, messageElement, addServerMessage,
      addNotice, clearMessages, showGreeting, refresh, setTyping, setConnection,
      lastServerId: () => lastServerId,
    });
  }

  parts.messages = messageLog;
})();
