/*
 * Support chat widget: the one script a shop adds to its pages.
 *
 *   <script>window.SupportChat = {language: "ru", colors: {primary: "#0b5fff"}};</script>
 *   <script src="https://assistant.example/webhooks/widget/static/widget.js" defer></script>
 *
 * Plain ES2019, no build step. It loads widget.css, strings.js (every UI text, per
 * language) and the vendored socket.io client from its own folder, renders inside an open
 * shadow root so the shop's CSS cannot reach it, and talks to the server's "widget"
 * socket.io channel (rasa_plugins/channels/socketio.py):
 *
 *   -> session_request {token, after, language}   on every (re)connect
 *   <- session_confirm {token, fresh, history}
 *   <- rate_limited {text, retry_after} (no new session yet: too many from this connection)
 *   -> user_uttered {message, client_id, display?} + ack {ok, id} | {ok: false, error}
 *   <- bot_uttered Message, user_echo Message, typing {on}
 *
 * Messages are de-duplicated by id (a user message's id is its client_id), so a history
 * replay after a reconnection, a resend after a drop and the echo from another tab each
 * show once. Text from the server or the visitor is only ever set as text, never as HTML.
 */
(() => {
  "use strict";

  if (window.SupportChatWidget) return; // the script was included twice

  const TOKEN_KEY = "supportchat.token";
  const OPEN_KEY = "supportchat.open";
  const LANGUAGES = ["en", "ru", "uk"];
  const MAX_CHARS = 4000;
  const COUNTER_FROM = 3500;
  const ACK_TIMEOUT_MS = 15000;
  const RETRY_MS = 2000;
  const CONNECTING_NOTICE_MS = 1500;
  const TYPING_MAX_MS = 60000;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ICONS = {
    chat: "M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6A.5.5 0 0 1 5 19.2V16h.5A1.5 1.5 0 0 1 4 14.5z",
    close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z",
    send: "M3.4 20.4 21 12 3.4 3.6 3.3 10l12.2 2-12.2 2z",
    person: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm0 2c-3.3 0-8 1.7-8 5v1h16v-1c0-3.3-4.7-5-8-5z",
  };
  // Config key -> CSS custom property (widget.css gives every one a default).
  const COLOR_VARS = {
    primary: "--sc-primary",
    primaryText: "--sc-on-primary",
    background: "--sc-bg",
    text: "--sc-text",
    assistantBubble: "--sc-bot-bg",
    assistantText: "--sc-bot-text",
    visitorBubble: "--sc-user-bg",
    visitorText: "--sc-user-text",
    agentBubble: "--sc-agent-bg",
    agentText: "--sc-agent-text",
  };

  const script = document.currentScript ||
    Array.from(document.scripts).find((s) => /\/widget\.js(\?|$)/.test(s.src));
  if (!script || !script.src) {
    console.error("SupportChat: widget.js must be included with <script src=...>");
    return;
  }
  const config = window.SupportChat && typeof window.SupportChat === "object"
    ? window.SupportChat : {};
  const staticBase = new URL(".", script.src).href;
  const serverUrl = String(config.serverUrl || new URL(script.src).origin).replace(/\/+$/, "");

  // --- small helpers -----------------------------------------------------------------------

  function storageOf(kind) {
    try {
      const storage = window[kind];
      storage.setItem("supportchat.probe", "1");
      storage.removeItem("supportchat.probe");
      return storage;
    } catch (err) {
      return null; // blocked (privacy settings, sandboxed frame): keep it in memory instead
    }
  }

  function makeStore(storage) {
    const memory = new Map();
    return {
      get(key) {
        try {
          if (storage) return storage.getItem(key);
        } catch (err) { /* fall through */ }
        return memory.has(key) ? memory.get(key) : null;
      },
      set(key, value) {
        memory.set(key, value);
        try {
          if (storage) {
            if (value === null) storage.removeItem(key); else storage.setItem(key, value);
          }
        } catch (err) { /* memory has it */ }
      },
    };
  }

  const local = makeStore(storageOf("localStorage"));
  const perTab = makeStore(storageOf("sessionStorage"));

  function pickLanguage(candidates) {
    for (const candidate of candidates) {
      if (typeof candidate !== "string") continue;
      const base = candidate.trim().toLowerCase().split(/[-_]/)[0];
      if (LANGUAGES.includes(base)) return base;
    }
    return "en";
  }

  function localized(value, language) {
    if (typeof value === "string") return value;
    if (value && typeof value === "object") {
      const text = value[language] || value.en || Object.values(value).find((v) => typeof v === "string");
      if (typeof text === "string") return text;
    }
    return null;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
  }

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

  /** An element with attributes (properties for className/hidden/type) and children. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "className" || key === "hidden" || key === "type" || key === "disabled") {
        el[key] = value;
      } else {
        el.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      el.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return el;
  }

  function icon(name) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", `sc-icon sc-icon-${name}`);
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  function loadScript(file) {
    return new Promise((resolve, reject) => {
      const tag = document.createElement("script");
      tag.src = staticBase + file;
      tag.async = true;
      tag.onload = resolve;
      tag.onerror = () => reject(new Error(`could not load ${tag.src}`));
      document.head.append(tag);
    });
  }

  let socketIoLoad = null;
  /** The vendored socket.io client, leaving a page's own window.io as it was. */
  function loadSocketIo() {
    if (!socketIoLoad) {
      const before = Object.prototype.hasOwnProperty.call(window, "io") ? window.io : undefined;
      socketIoLoad = loadScript("socket.io.min.js").then(() => {
        const io = window.io;
        if (before === undefined) delete window.io; else window.io = before;
        if (typeof io !== "function") throw new Error("socket.io.min.js did not define io()");
        return io;
      });
    }
    return socketIoLoad;
  }

  // --- links: http(s) URLs and [title](https://...) become <a>, everything else text ------

  const LINK_RE = /\[([^\]\n]{1,300})\]\((https?:\/\/[^\s()<>]+(?:\([^\s()<>]*\)[^\s()<>]*)*)\)|https?:\/\/[^\s<>"]+/gi;

  function safeHref(raw) {
    try {
      const url = new URL(raw);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (err) {
      return null;
    }
  }

  /** A bare URL without the punctuation that ends the sentence around it. */
  function trimUrl(raw) {
    let url = raw.replace(/[.,;:!?'"»…]+$/, "");
    while (url.endsWith(")") && (url.match(/\(/g) || []).length < (url.match(/\)/g) || []).length) {
      url = url.slice(0, -1).replace(/[.,;:!?'"»…]+$/, "");
    }
    return url;
  }

  function appendRichText(parent, text) {
    let last = 0;
    for (const match of text.matchAll(LINK_RE)) {
      const start = match.index;
      let whole = match[0];
      let href;
      let label;
      if (match[1] !== undefined) {
        label = match[1];
        href = safeHref(match[2]);
      } else {
        whole = trimUrl(whole);
        label = whole;
        href = safeHref(whole);
      }
      if (!href) continue;
      if (start > last) parent.append(document.createTextNode(text.slice(last, start)));
      const link = h("a", {href, target: "_blank", rel: "noopener noreferrer"});
      link.textContent = label;
      parent.append(link);
      last = start + whole.length;
    }
    if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
  }

  // --- start: strings first, then the widget --------------------------------------------

  window.SupportChatWidget = {version: "1"};
  const bodyReady = document.body ? Promise.resolve() : new Promise((resolve) => {
    document.addEventListener("DOMContentLoaded", resolve, {once: true});
  });
  Promise.all([loadScript("strings.js"), bodyReady]).then(start, (err) => {
    console.error(`SupportChat: ${err.message}; the chat is not shown.`);
  });

  function start() {
    const allStrings = window.SupportChatStrings;
    if (!allStrings || !allStrings.en) {
      console.error("SupportChat: strings.js defines no strings; the chat is not shown.");
      return;
    }
    const requested = config.language;
    if (requested && !LANGUAGES.includes(String(requested).toLowerCase().split(/[-_]/)[0])) {
      console.warn(`SupportChat: language "${requested}" is not one of ${LANGUAGES.join(", ")}; using the page's.`);
    }
    const language = pickLanguage([requested, document.documentElement.lang,
      ...(navigator.languages || []), navigator.language]);
    const strings = Object.assign({}, allStrings.en, allStrings[language]);
    const text = (key, values) => fill(strings[key], values || {});
    const title = localized(config.title, language) || text("title");
    const greeting = config.greeting === false || config.greeting === ""
      ? "" : localized(config.greeting, language) || text("greeting");
    const timeFormat = new Intl.DateTimeFormat(language, {hour: "2-digit", minute: "2-digit"});

    // --- the DOM ---------------------------------------------------------------------------

    const host = document.createElement("div");
    host.setAttribute("data-supportchat", "");
    // Shop CSS may style every div; these inline !important rules keep the host neutral
    // (no transform or filter that would pin the fixed panel to it).
    host.style.cssText = "all: initial !important; display: block !important;";
    const root = host.attachShadow({mode: "open"});
    const styles = h("link", {rel: "stylesheet", href: `${staticBase}widget.css`});
    const shell = h("div", {className: "sc", lang: language, "data-open": "false", hidden: true});
    styles.addEventListener("load", () => { shell.hidden = false; });
    styles.addEventListener("error", () => {
      console.error(`SupportChat: could not load ${staticBase}widget.css; the chat is not shown.`);
    });

    const badge = h("span", {className: "sc-badge", "aria-hidden": "true", hidden: true});
    const launcher = h("button", {
      type: "button", className: "sc-launcher", "data-testid": "chat-launcher",
      "aria-label": text("launcherOpen"), "aria-expanded": "false", "aria-controls": "sc-panel",
    }, icon("chat"), icon("close"), badge);

    const humanButton = h("button", {type: "button", className: "sc-human", "data-testid": "chat-human"},
      icon("person"), h("span", null, text("human")));
    const closeButton = h("button", {
      type: "button", className: "sc-close", "aria-label": text("close"), title: text("close"),
    }, icon("close"));
    const header = h("div", {className: "sc-header"},
      h("h2", {className: "sc-title", id: "sc-title"}, title), humanButton, closeButton);

    const connection = h("div", {className: "sc-connection", "data-testid": "chat-connection",
      role: "status", "aria-live": "polite", "data-state": "idle"});
    const log = h("div", {className: "sc-log", role: "log", "aria-live": "polite",
      "aria-label": text("log"), tabindex: "0", "data-testid": "chat-log"});
    const typing = h("div", {className: "sc-typing", "data-testid": "chat-typing", role: "status",
      "aria-live": "polite", "data-on": "false"});
    const status = h("div", {className: "sc-status", "data-testid": "chat-status", role: "status",
      "aria-live": "polite", "data-state": "none"});

    const input = h("textarea", {
      id: "sc-input", className: "sc-input", "data-testid": "chat-input", rows: "1",
      placeholder: text("placeholder"), "aria-describedby": "sc-hint sc-counter",
      autocomplete: "off", enterkeyhint: "send",
    });
    const sendButton = h("button", {type: "submit", className: "sc-send", "data-testid": "chat-send",
      "aria-label": text("send"), title: text("send")}, icon("send"));
    const counter = h("div", {className: "sc-counter", id: "sc-counter", "aria-live": "polite",
      "data-testid": "chat-counter"});
    const form = h("form", {className: "sc-composer", novalidate: true},
      h("label", {className: "sc-vh", for: "sc-input"}, text("inputLabel")),
      h("span", {className: "sc-vh", id: "sc-hint"}, text("inputHint")),
      h("div", {className: "sc-row"}, input, sendButton), counter);

    const panel = h("section", {
      id: "sc-panel", className: "sc-panel", role: "dialog",
      "aria-label": title, "data-testid": "chat-panel", hidden: true,
    }, header, connection, log, typing, status, form);

    shell.append(launcher, panel);
    root.append(styles, shell);
    document.body.append(host);
    applyColors();

    function applyColors() {
      const colors = config.colors && typeof config.colors === "object" ? config.colors : {};
      for (const [key, value] of Object.entries(colors)) {
        const property = COLOR_VARS[key];
        if (!property) {
          console.warn(`SupportChat: unknown colour "${key}"; known: ${Object.keys(COLOR_VARS).join(", ")}`);
        } else if (typeof value !== "string" || !CSS.supports("color", value)) {
          console.warn(`SupportChat: colour ${key} = ${JSON.stringify(value)} is not a CSS colour`);
        } else {
          host.style.setProperty(property, value);
        }
      }
      if (colors.primary && CSS.supports("color", String(colors.primary))) {
        const onPrimary = readableOn(String(colors.primary));
        if (!colors.primaryText) host.style.setProperty("--sc-on-primary", onPrimary);
        // A light brand colour cannot carry text on white: quick replies use the text colour.
        if (onPrimary !== "#ffffff") host.style.setProperty("--sc-accent", "var(--sc-text)");
      }
    }

    /** Black or white, whichever reads better on the given colour (WCAG luminance). */
    function readableOn(color) {
      const probe = h("span");
      probe.style.color = color; // CSSOM, not a style attribute: fine under a strict CSP
      root.append(probe);
      const rgb = (getComputedStyle(probe).color.match(/[\d.]+/g) || ["0", "0", "0"]).slice(0, 3).map(Number);
      probe.remove();
      const [r, g, b] = rgb.map((c) => {
        const s = c / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
      return (1.05 / (luminance + 0.05)) >= ((luminance + 0.05) / 0.05) ? "#ffffff" : "#111111";
    }

    // --- state -----------------------------------------------------------------------------

    const records = new Map(); // id -> {id, role, from, text, status, buttons, el, state}
    const outbox = []; // the visitor's messages not acknowledged yet, in order
    let token = local.get(TOKEN_KEY);
    let socket = null;
    let connectStarted = false;
    let sessionReady = false;
    let everConfirmed = false;
    let requestedAfter = null;
    let lastServerId = null;
    let greetingEl = null;
    let unread = 0;
    let typingTimer = null;
    let retryTimer = null;
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
        connect();
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
            send(button.payload, button.title);
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
      for (const entry of outbox) {
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
        const entry = outbox.find((e) => e.id === message.id);
        if (entry) delivered(entry); // the server has it: no resend needed
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
        socket.on("connect", () => requestSession(everConfirmed ? lastServerId : null));
        socket.on("session_confirm", onConfirm);
        socket.on("bot_uttered", (raw) => addServerMessage(raw, "bot", {live: true}));
        socket.on("user_echo", (raw) => addServerMessage(raw, "user", {live: true}));
        socket.on("typing", (raw) => setTyping(Boolean(raw && raw.on)));
        // Too many new chats from this connection: say so, keep what was typed in the
        // outbox, and ask again once the wait the server named is over.
        socket.on("rate_limited", (raw) => {
          if (!raw || typeof raw.text !== "string") return;
          const kept = lastServerId;
          addServerMessage({id: `limit-${Date.now()}`, role: "bot", from: "system",
                            text: raw.text, timestamp: Date.now() / 1000}, "bot", {live: true});
          lastServerId = kept;
          const seconds = Math.min(3600, Math.max(1, Number(raw.retry_after) || 60));
          setTimeout(() => {
            if (socket && socket.connected && !sessionReady) {
              requestSession(everConfirmed ? lastServerId : null);
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

    // --- begin -------------------------------------------------------------------------------

    window.SupportChatWidget.open = () => setOpen(true);
    window.SupportChatWidget.close = () => setOpen(false, {restoreFocus: false});
    if (!token) showGreeting();
    if (perTab.get(OPEN_KEY) === "1") {
      setOpen(true, {focus: false}); // kept open across this tab's page loads
    } else if (token) {
      connect(); // a returning visitor: history and unread replies without a click
    }
    renderLauncherLabel();
  }
})();
