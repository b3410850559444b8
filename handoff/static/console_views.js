/* Agent console: the views, chats and (supervisors only) the dashboard, and links to them
   (ES module).
   Security rule (every file of the console): text from the server is only ever put into
   the page with textContent / text nodes / element properties, never parsed as HTML. */
import { $, same, say, state } from "./console_core.js";
import { openTicket } from "./console_ticket.js";

const isSupervisor = () => state.role === "supervisor";

/* The dashboard's code is loaded the first time a supervisor opens it: agents never load
   it, and a dashboard that fails to load leaves the chats working. */
let dashboard = null;
function loadDashboard() {
  if (!dashboard) {
    dashboard = import("./dashboard.js").catch((err) => {
      dashboard = null;
      say(`Could not load the dashboard: ${err.message}`, "error");
      return null;
    });
  }
  return dashboard;
}

export function renderViews() {
  $("tab-dashboard").hidden = !isSupervisor();
  $("tab-chats").hidden = !isSupervisor(); // agents have one view: no tabs
  if (state.view === "dashboard" && !isSupervisor()) showView("chats");
}

export function showView(name) {
  const wanted = name === "dashboard" && isSupervisor();
  state.view = wanted ? "dashboard" : "chats";
  $("chats-view").hidden = wanted;
  $("dashboard-view").hidden = !wanted;
  document.body.classList.toggle("view-dashboard", wanted);
  for (const tab of document.querySelectorAll(".view-tab")) {
    if (tab.dataset.view === state.view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (wanted) {
    history.replaceState(null, "", "#dashboard");
    loadDashboard().then((module) => {
      if (!module) showView("chats");
      else if (state.view === "dashboard") module.show();
    });
  } else {
    if (dashboard) dashboard.then((module) => { if (module && state.view !== "dashboard") module.hide(); });
    const hash = state.ticketId != null ? `#ticket-${encodeURIComponent(state.ticketId)}` : "";
    if (location.hash !== hash) history.replaceState(null, "", hash || location.pathname);
  }
}

/* A link to a chat (#ticket-12) or to the dashboard (#dashboard). */
export function followHash() {
  const match = /^#ticket-(.+)$/.exec(location.hash);
  if (match) {
    const id = decodeURIComponent(match[1]);
    if (!same(id, state.ticketId)) openTicket(id);
    if (state.view !== "chats") showView("chats");
  } else if (location.hash === "#dashboard" && isSupervisor()) showView("dashboard");
}
