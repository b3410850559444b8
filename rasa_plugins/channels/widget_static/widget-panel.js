/*
 * Support chat widget, part: the launcher and the panel, built in an open shadow root so
 * the shop's CSS cannot reach them, with the shop's colours. widget.js loads this file and
 * calls buildPanel(app) once the strings are in (see widget.js); it returns the elements
 * the other parts fill and listen to. No text here is ever set as HTML.
 */
(() => {
  "use strict";

  const parts = window.__supportChatParts;
  if (!parts) return; // not loaded by widget.js

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

  function buildPanel(app) {
    const {config, language, text, title, staticBase} = app;
    const {h, icon} = app.dom;

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

    return Object.freeze({shell, launcher, badge, humanButton, closeButton, connection, log,
      typing, status, input, sendButton, counter, form, panel});
  }

  parts.panel = buildPanel;
})();
