/*
 * Support chat widget, part: what it keeps in the visitor's browser. The session token is
 * in localStorage (shared by the visitor's tabs), whether the chat is open in
 * sessionStorage (per tab); where storage is blocked, in memory instead. widget.js loads
 * this file and takes it from window.__supportChatParts (see widget.js).
 */
(() => {
  "use strict";

  const parts = window.__supportChatParts;
  if (!parts) return; // not loaded by widget.js

  const TOKEN_KEY = "supportchat.token";
  const OPEN_KEY = "supportchat.open";

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

  parts.store = Object.freeze({
    TOKEN_KEY,
    OPEN_KEY,
    local: makeStore(storageOf("localStorage")),
    perTab: makeStore(storageOf("sessionStorage")),
  });
})();
