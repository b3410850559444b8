/*
 * Support chat widget, part: building elements, and text with links in it.
 * widget.js loads this file; it only hands h(), icon() and appendRichText() to widget.js
 * through window.__supportChatParts (see widget.js). Every text given to them becomes text
 * nodes or textContent, never HTML.
 */
(() => {
  "use strict";

  const parts = window.__supportChatParts;
  if (!parts) return; // not loaded by widget.js

  const SVG_NS = "http://www.w3.org/2000/svg";
  const ICONS = {
    chat: "M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6A.5.5 0 0 1 5 19.2V16h.5A1.5 1.5 0 0 1 4 14.5z",
    close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z",
    send: "M3.4 20.4 21 12 3.4 3.6 3.3 10l12.2 2-12.2 2z",
    person: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm0 2c-3.3 0-8 1.7-8 5v1h16v-1c0-3.3-4.7-5-8-5z",
  };

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

  parts.dom = Object.freeze({h, icon, appendRichText});
})();
