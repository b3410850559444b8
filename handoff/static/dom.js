/* DOM helpers shared by the agent console and the supervisor dashboard (ES module).
   Security rule (every file of the console): text from the server is only ever put into
   the page with textContent / text nodes / element properties, never parsed as HTML. */

export const $ = (id) => document.getElementById(id);
export const pad = (n) => String(n).padStart(2, "0");

/* Create an element. Strings among the children become text nodes (never HTML). */
export function h(tag, opts = {}, ...children) {
  const node = document.createElement(tag);
  if (opts.cls) node.className = opts.cls;
  if (opts.text != null) node.textContent = String(opts.text);
  for (const [key, value] of Object.entries(opts.attrs || {})) {
    if (value != null && value !== false) node.setAttribute(key, String(value));
  }
  for (const child of children) if (child != null && child !== false) node.append(child);
  return node;
}
