/*
 * Support chat widget: the one script a shop adds to its pages.
 *
 *   <script>window.SupportChat = {language: "ru", colors: {primary: "#0b5fff"}};</script>
 *   <script src="https://assistant.example/webhooks/widget/static/widget.js" defer></script>
 *
 * Plain ES2019, no build step. It loads widget.css, strings.js (every UI text, per
 * language), its parts and the vendored socket.io client from its own folder, renders inside
 * an open shadow root so the shop's CSS cannot reach it, and talks to the server's "widget"
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
 *
 * The parts are classic scripts like strings.js (so they need no CORS on the shop's
 * domain), loaded all at once; each only adds itself to window.__supportChatParts, which
 * this file makes before loading them and deletes when it starts, so the page keeps none
 * of the widget's helpers. If one cannot be loaded, the chat is not shown.
 *
 *   widget-dom.js       h() and icon() for elements; links in text, the rest as text
 *   widget-store.js     the session token (localStorage) and open/closed (sessionStorage)
 *   widget-panel.js     the launcher and the panel in the shadow root; the shop's colours
 *   widget-messages.js  open/close, the messages, quick replies, status, typing, connection
 *   widget-session.js   the composer, the outbox with acks and resends, the socket, the session
 */
(() => {
  "use strict";

  if (window.SupportChatWidget) return; // the script was included twice

  const LANGUAGES = ["en", "ru", "uk"];
  const PARTS_GLOBAL = "__supportChatParts";
  // Name in window.__supportChatParts -> file; widget.js puts them together in start().
  const PARTS = {
    dom: "widget-dom.js",
    store: "widget-store.js",
    panel: "widget-panel.js",
    messages: "widget-messages.js",
    session: "widget-session.js",
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

  // --- start: strings and parts first, then the widget ----------------------------------

  window.SupportChatWidget = {version: "1"};
  const bodyReady = document.body ? Promise.resolve() : new Promise((resolve) => {
    document.addEventListener("DOMContentLoaded", resolve, {once: true});
  });
  window[PARTS_GLOBAL] = {};
  Promise.all([loadScript("strings.js"), ...Object.values(PARTS).map(loadScript), bodyReady])
    .then(start, (err) => {
      delete window[PARTS_GLOBAL];
      console.error(`SupportChat: ${err.message}; the chat is not shown.`);
    });

  function start() {
    const parts = window[PARTS_GLOBAL];
    delete window[PARTS_GLOBAL];
    const allStrings = window.SupportChatStrings;
    if (!allStrings || !allStrings.en) {
      console.error("SupportChat: strings.js defines no strings; the chat is not shown.");
      return;
    }
    for (const [name, file] of Object.entries(PARTS)) {
      if (!parts || !parts[name]) {
        console.error(`SupportChat: ${file} defines no part "${name}"; the chat is not shown.`);
        return;
      }
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

    // --- the parts, put together -----------------------------------------------------------

    const app = {config, language, text, title, greeting, staticBase, serverUrl, loadSocketIo,
      dom: parts.dom, store: parts.store};
    app.ui = parts.panel(app); // the launcher and the panel, in the page
    app.messages = parts.messages(app); // uses app.session only once the visitor acts
    app.session = parts.session(app);
    Object.freeze(app);
    const {messages, session} = app;
    const {perTab, OPEN_KEY} = app.store;

    // --- begin -------------------------------------------------------------------------------

    window.SupportChatWidget.open = () => messages.setOpen(true);
    window.SupportChatWidget.close = () => messages.setOpen(false, {restoreFocus: false});
    if (!session.hasToken()) messages.showGreeting();
    if (perTab.get(OPEN_KEY) === "1") {
      messages.setOpen(true, {focus: false}); // kept open across this tab's page loads
    } else if (session.hasToken()) {
      session.connect(); // a returning visitor: history and unread replies without a click
    }
    messages.renderLauncherLabel();
  }
})();
