/*
 * Support chat widget, part: the conversation with the server. The composer, the visitor's
 * messages in an outbox until the server acknowledges them (resent with the same client_id
 * after a drop or a lost ack), the socket.io connection and the session token. widget.js
 * loads this file and calls session(app) after the message log (see widget.js; the socket
 * protocol is in its header comment).
 */
(() => {
  "use strict";

  const parts = window.__supportChatParts;
  if (!parts) return; // not loaded by widget.js

  const MAX_CHARS = 4000;
  const COUNTER_FROM = 3500;
  const ACK_TIMEOUT_MS = 15000;
  const RETRY_MS = 2000;

  function newClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      try {
        return window.crypto.randomUUID();
      } catch (err) { /* not a secure context */ }
    }
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function session(app) {
    const {text, language, serverUrl, loadSocketIo} = app;
    const {h} = app.dom;
    const {local, TOKEN_KEY} = app.store;
    const {humanButton, input, sendButton, counter, form, log} = app.ui;
    const {records, messageElement, addServerMessage, addNotice, clearMessages, showGreeting,
      refresh, scrollToEnd, setTyping, setConnection, lastServerId} = app.messages;

    const outbox = []; // the visitor's messages not acknowledged yet, in order
    let token = local.get(TOKEN_KEY);
    let socket = null;
    let connectStarted = false;
    let sessionReady = false;
    let everConfirmed = false;
    let requestedAfter = null;
    let retryTimer = null;

    // --- sending -----------------------------------------------------------------------------

    function renderEntry(entry) {
      const {el} = entry.record;
      const state = entry.state === "queued" || entry.state === "sending" ? "sending" : entry.state;
      el.setAttribute("data-state", state);
      const note = el.querySelector(".sc-note");
      if (note) note.textContent = state === "sending" ? text("sending") : state === "failed" ? text("notSent") : "";
    }

    function send(message, display) {
      // A resend of a text that failed replaces the failed bubble.
      for (const record of records.values()) {
        if (record.state === "failed" && record.text === (display || message)) {
          record.el.remove();
          records.delete(record.id);
        }
      }
      const id = newClientId();
      const shown = {id, role: "user", from: "customer", text: display || message, timestamp: Date.now() / 1000};
      const record = Object.assign({}, shown, {el: messageElement(shown), state: "queued"});
      records.set(id, record);
      log.append(record.el);
      const entry = {id, message, display, record, state: "queued", attempt: 0};
      outbox.push(entry);
      renderEntry(entry);
      refresh();
      scrollToEnd();
      if (!socket) connect();
      flush();
    }

    function flush() {
      clearTimeout(retryTimer);
      if (!socket || !socket.connected || !sessionReady) return;
      for (const entry of outbox) {
        if (entry.state === "queued") emitEntry(entry);
      }
    }

    function emitEntry(entry) {
      entry.state = "sending";
      entry.attempt += 1;
      const attempt = entry.attempt;
      renderEntry(entry);
      const payload = {message: entry.message, client_id: entry.id};
      if (entry.display) payload.display = entry.display;
      socket.timeout(ACK_TIMEOUT_MS).emit("user_uttered", payload, (err, ack) => {
        if (entry.attempt !== attempt || entry.state !== "sending") return; // outdated
        if (err) { // no answer (dropped or slow): the same client_id goes again
          entry.state = "queued";
          renderEntry(entry);
          clearTimeout(retryTimer);
          retryTimer = setTimeout(flush, RETRY_MS);
        } else if (ack && ack.ok) {
          delivered(entry);
        } else {
          failed(entry, ack && typeof ack.error === "string" ? ack.error : text("sendFailed"));
        }
      });
    }

    function delivered(entry) {
      const index = outbox.indexOf(entry);
      if (index >= 0) outbox.splice(index, 1);
      entry.state = "sent";
      entry.record.state = "sent";
      renderEntry(entry);
      entry.record.el.querySelector(".sc-error")?.remove();
    }

    function failed(entry, error) {
      const index = outbox.indexOf(entry);
      if (index >= 0) outbox.splice(index, 1);
      entry.state = "failed";
      entry.record.state = "failed";
      renderEntry(entry);
      const {el} = entry.record;
      el.querySelector(".sc-error")?.remove();
      el.append(h("div", {className: "sc-error", role: "alert", "data-testid": "chat-error"}, error));
      // Nothing typed is lost: the text goes back into an empty input to edit and resend.
      if (!entry.display && !input.value) {
        input.value = entry.message;
        updateComposer();
      }
      // Queued messages after it keep their place; the server's replies go after them.
    }

    function requeueInFlight() {
      for (const entry of outbox) {
        if (entry.state === "sending") {
          entry.state = "queued";
          entry.attempt += 1; // a late ack of the old attempt is ignored
          renderEntry(entry);
        }
      }
    }

    function updateComposer() {
      const count = input.value.length;
      const over = count > MAX_CHARS;
      input.style.height = "auto";
      input.style.height = `${Math.min(input.scrollHeight, 132)}px`;
      if (over) {
        counter.textContent = text("tooLong", {max: MAX_CHARS, count});
      } else if (count >= COUNTER_FROM) {
        counter.textContent = text("counter", {max: MAX_CHARS, count});
      } else {
        counter.textContent = "";
      }
      counter.setAttribute("data-over", String(over));
      input.setAttribute("aria-invalid", String(over));
      sendButton.disabled = over || !input.value.trim();
    }

    function submit() {
      const value = input.value.trim();
      if (!value || value.length > MAX_CHARS) {
        updateComposer();
        return;
      }
      input.value = "";
      updateComposer();
      send(value);
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit();
    });
    input.addEventListener("input", updateComposer);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submit();
      }
    });
    humanButton.addEventListener("click", () => {
      send("/request_human", text("humanRequest"));
      input.focus();
    });
    updateComposer();

    // --- the connection ----------------------------------------------------------------------

    function connect() {
      if (connectStarted) return;
      connectStarted = true;
      setConnection("connecting");
      loadSocketIo().then((io) => {
        socket = io(serverUrl, {
          path: "/socket.io", transports: ["websocket", "polling"], tryAllTransports: true,
          reconnectionDelayMax: 5000,
        });
        socket.on("connect", () => requestSession(everConfirmed ? lastServerId() : null));
        socket.on("session_confirm", onConfirm);
        socket.on("bot_uttered", (raw) => addServerMessage(raw, "bot", {live: true}));
        socket.on("user_echo", (raw) => addServerMessage(raw, "user", {live: true}));
        socket.on("typing", (raw) => setTyping(Boolean(raw && raw.on)));
        // Too many new chats from this connection: say so, keep what was typed in the
        // outbox, and ask again once the wait the server named is over.
        socket.on("rate_limited", (raw) => {
          if (!raw || typeof raw.text !== "string") return;
          addNotice(raw.text);
          const seconds = Math.min(3600, Math.max(1, Number(raw.retry_after) || 60));
          setTimeout(() => {
            if (socket && socket.connected && !sessionReady) {
              requestSession(everConfirmed ? lastServerId() : null);
            }
          }, seconds * 1000);
        });
        socket.on("disconnect", (reason) => {
          sessionReady = false;
          requeueInFlight();
          setTyping(false);
          setConnection("reconnecting");
          if (reason === "io server disconnect") {
            setTimeout(() => socket.connect(), RETRY_MS); // socket.io leaves that one to us
          }
        });
        socket.on("connect_error", () => {
          if (everConfirmed) setConnection("reconnecting");
        });
        // Back online: try now instead of waiting out the reconnection back-off.
        window.addEventListener("online", () => {
          if (socket && !socket.connected) {
            socket.disconnect();
            socket.connect();
          }
        });
      }).catch((err) => {
        console.error(`SupportChat: ${err.message}`);
        setConnection("unavailable");
      });
    }

    function requestSession(after) {
      sessionReady = false;
      requestedAfter = after || null;
      socket.emit("session_request", {token: token || null, after: requestedAfter, language});
    }

    function onConfirm(data) {
      if (!data || typeof data !== "object" || typeof data.token !== "string") return;
      const history = Array.isArray(data.history) ? data.history : [];
      const full = data.fresh || requestedAfter === null;
      if (data.token !== token) {
        token = data.token;
        local.set(TOKEN_KEY, token);
      }
      if (full) {
        // A new conversation, or the whole of this one: show exactly what the server has,
        // then the visitor's messages that have not gone out yet.
        clearMessages();
        for (const raw of history) addServerMessage(raw, null);
        if (!records.size) showGreeting();
        for (const entry of outbox.slice()) {
          if (records.has(entry.id)) {
            entry.record.el.remove();
            delivered(entry); // the history shows it already
          } else {
            records.set(entry.id, entry.record);
            log.append(entry.record.el);
          }
        }
        scrollToEnd();
      } else {
        for (const raw of history) addServerMessage(raw, null);
      }
      everConfirmed = true;
      sessionReady = true;
      setConnection("online");
      refresh();
      flush();
    }

    // Another tab of this visitor started a new conversation: follow it.
    window.addEventListener("storage", (event) => {
      if (event.key !== TOKEN_KEY || !event.newValue || event.newValue === token) return;
      token = event.newValue;
      if (socket && socket.connected) requestSession(null);
    });

    return Object.freeze({outbox, send, delivered, connect, hasToken: () => Boolean(token)});
  }

  parts.session = session;
})();
