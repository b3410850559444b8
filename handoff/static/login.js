/* Agent console: sign-in page. Posts the credentials as JSON to /api/login with the
   CSRF token from the `handoff_csrf` cookie (set by the server with this page). */
"use strict";

(() => {
  const form = document.getElementById("login-form");
  const username = document.getElementById("login-username");
  const password = document.getElementById("login-password");
  const submit = document.getElementById("login-submit");
  const error = document.getElementById("login-error");

  function readCookie(name) {
    for (const part of document.cookie.split(";")) {
      const eq = part.indexOf("=");
      if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
      let value = part.slice(eq + 1).trim();
      if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      try { return decodeURIComponent(value); } catch { return value; }
    }
    return "";
  }

  function showError(text) {
    error.textContent = text;
    const bad = Boolean(text);
    username.setAttribute("aria-invalid", String(bad));
    password.setAttribute("aria-invalid", String(bad));
  }

  // Already signed in (e.g. the page was opened from a bookmark): go straight to the console.
  fetch("/api/me", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((res) => { if (res.ok) location.assign("/console"); })
    .catch(() => { /* offline or not signed in: stay here */ });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    const user = username.value.trim();
    if (!user || !password.value) {
      showError("Enter your username and password.");
      (user ? password : username).focus();
      return;
    }
    showError("");
    submit.disabled = true;
    submit.textContent = "Signing in…";
    const csrf = readCookie("handoff_csrf");
    try {
      const res = await fetch("/api/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
        body: JSON.stringify({ username: user, password: password.value }),
      });
      if (res.ok) {
        location.assign("/console");
        return;
      }
      let data = {};
      try { data = await res.json(); } catch { /* non-JSON error body */ }
      let text = data.error || (res.status === 401 ? "Wrong username or password." : `Sign-in failed (HTTP ${res.status}).`);
      if (!csrf && res.status !== 401) text += " Reload the page and try again.";
      showError(text);
      password.focus();
      password.select();
    } catch {
      showError("Cannot reach the server. Check your connection and try again.");
    } finally {
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  });
})();
