// The player: pairs once, then shows its layout and stays live over SSE.
// State-based catch-up: every event (and every reconnect) makes it ask for its
// state, and it re-renders only when the layout or version differs.
(function () {
  "use strict";
  const Signage = (window.Signage = window.Signage || {});

  // Scale a fixed-size canvas to the window, letterboxed.
  function fit(stage) {
    const w = parseInt(stage.style.width, 10), h = parseInt(stage.style.height, 10);
    const s = Math.min(window.innerWidth / w, window.innerHeight / h);
    stage.style.transform = `translate(${(window.innerWidth - w * s) / 2}px, ${(window.innerHeight - h * s) / 2}px) scale(${s})`;
  }
  Signage.fit = function (stage) {
    fit(stage);
    window.addEventListener("resize", () => fit(stage));
  };

  if (!document.body || !document.body.dataset.player) return;

  const KEY = "signage.screen-key";
  const $ = (id) => document.getElementById(id);
  let shown = { layout: null, version: null };
  let source = null, backoff = 1000, busy = false, again = false;

  function show(id) {
    for (const el of ["pairing", "waiting", "stage"]) $(el).hidden = el !== id;
  }

  function api(path, options = {}) {
    const headers = Object.assign({ "X-Screen-Key": localStorage.getItem(KEY) || "" }, options.headers || {});
    return fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
  }

  async function pair() {
    const r = await fetch("/player/api/pair", { method: "POST" });
    if (!r.ok) throw new Error("pairing failed: " + r.status);
    const body = await r.json();
    localStorage.setItem(KEY, body.key);
  }

  function render(layout) {
    const stage = $("stage");
    Signage.widgets.stop(stage);
    const next = document.createDocumentFragment();
    for (const r of layout.regions) {
      const div = document.createElement("div");
      div.className = "region";
      div.dataset.region = r.id;
      div.style.cssText = `left:${r.x}px;top:${r.y}px;width:${r.w}px;height:${r.h}px;z-index:${r.z}`;
      div.innerHTML = r.html;
      next.appendChild(div);
    }
    stage.style.width = layout.width + "px";
    stage.style.height = layout.height + "px";
    stage.replaceChildren(next);
    stage.dataset.layout = layout.id;
    stage.dataset.version = layout.version;
    fit(stage);
    show("stage");
    Signage.widgets.start(stage);
    shown = { layout: layout.id, version: layout.version };
    api("/player/api/ack", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ version: layout.version }) });
  }

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      if (!localStorage.getItem(KEY)) await pair();
      const r = await api("/player/api/state");
      if (r.status === 401) {  // revoked or unknown: start over with a new pairing
        localStorage.removeItem(KEY);
        shown = { layout: null, version: null };
        await pair();
        connect();
        again = true;
        return;
      }
      if (!r.ok) return;
      const state = await r.json();
      if (!state.screen.claimed) {
        $("code").textContent = state.code;
        show("pairing");
      } else if (!state.layout) {
        $("screen-name").textContent = state.screen.name;
        shown = { layout: null, version: null };
        show("waiting");
      } else if (state.layout.id !== shown.layout || state.layout.version !== shown.version) {
        render(state.layout);
      }
    } catch (e) {
      // server unreachable: keep showing what we have; the event stream retries
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  function connect() {
    if (source) source.close();
    const key = localStorage.getItem(KEY);
    if (!key) return;
    source = new EventSource("/player/api/events?key=" + encodeURIComponent(key));
    source.addEventListener("hello", () => { backoff = 1000; refresh(); });
    source.addEventListener("changed", refresh);
    source.addEventListener("revoked", () => { localStorage.removeItem(KEY); refresh(); });
    source.onerror = () => {
      source.close();
      const wait = backoff + Math.random() * backoff;
      backoff = Math.min(backoff * 2, 30000);
      setTimeout(() => refresh().then(connect), wait);
    };
  }

  window.addEventListener("resize", () => fit($("stage")));
  refresh().then(connect);
})();
