// The player: pairs once, then shows its layout and stays live over its event stream.
//
// - State-based catch-up: the stream is opened with `?have=<layout>:<version>`; the
//   server answers with the state whenever it differs, on connect and on every change.
// - Offline-first: the last state lives in localStorage and media are held as blob
//   URLs (and in the service worker's cache where the origin is secure), so the
//   screen keeps playing while the server is away, and catches up when it returns.
// - Playlists: every item sits in the region from the start (images decoded, the next
//   video loaded); the next one is shown over the current, so no black gap ever shows.
//   Their videos play only while on (the player starts them, not `autoplay`); one is
//   shown once it holds its first frame, and rewound while hidden, after its turn. Only
//   the one it comes on over lies right under it. A new layout comes in once its first
//   pictures and video frames are there.
// - Kiosk settings in the address: `/player?watchdog=30` (seconds of stalled
//   rendering before a reload).
(function () {
  "use strict";
  const Signage = (window.Signage = window.Signage || {});
  const PLAYER_VERSION = "1.2.0";

  // Scale a fixed-size canvas to the window, letterboxed.
  function fit(stage) {
    const w = parseInt(stage.style.width, 10), h = parseInt(stage.style.height, 10);
    if (!w || !h) return;
    const s = Math.min(window.innerWidth / w, window.innerHeight / h);
    stage.style.transform = `translate(${(window.innerWidth - w * s) / 2}px, ${(window.innerHeight - h * s) / 2}px) scale(${s})`;
  }
  Signage.fit = function (stage) {
    fit(stage);
    window.addEventListener("resize", () => fit(stage));
  };

  if (!document.body || !document.body.dataset.player) return;

  const KEY = "signage.screen-key", STATE = "signage.state", PLAYS = "signage.plays";
  const params = new URLSearchParams(location.search);
  const WATCHDOG_MS = Math.max(3, Number(params.get("watchdog")) || 30) * 1000;
  const HEARTBEAT_MS = 60000, PLAYS_MS = 10000, MAX_PLAYS = 5000, SEGMENT_MS = 300000;
  const $ = (id) => document.getElementById(id);
  const player = (Signage.player = { shown: null, online: false, state: null, reconnects: 0 });
  let source = null, backoff = 1000, reconnectTimer = null, checkTimer = null, checkAt = 0, checkMissed = false;
  let playlists = [], segments = [], blobs = new Map(), lastFrame = Date.now();

  // ---------------------------------------------------------------- storage

  const store = {
    get(name) { try { return JSON.parse(localStorage.getItem(name)); } catch (e) { return null; } },
    set(name, value) { try { localStorage.setItem(name, JSON.stringify(value)); } catch (e) { /* full: keep running */ } },
  };
  const key = () => localStorage.getItem(KEY) || "";

  function api(path, options = {}) {
    const headers = Object.assign({ "X-Screen-Key": key() }, options.headers || {});
    return fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
  }
  function post(path, body) {
    return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  }

  // ---------------------------------------------------------------- pairing

  function show(id) {
    for (const el of ["pairing", "waiting", "stage"]) $(el).hidden = el !== id;
  }

  async function pair() {
    const r = await fetch("/player/api/pair", { method: "POST" });
    if (!r.ok) throw new Error("pairing failed: " + r.status);
    const body = await r.json();
    localStorage.setItem(KEY, body.key);
    localStorage.removeItem(STATE);
    apply({ screen: { claimed: false }, code: body.code, layout: null });
  }

  async function forget() {
    localStorage.removeItem(KEY);
    localStorage.removeItem(STATE);
    clearStage();
    player.shown = null;
    await pair();
  }

  // ---------------------------------------------------------------- state

  function apply(state) {
    player.state = state;
    if (state.screen && state.screen.claimed) store.set(STATE, state);
    clearTimeout(checkTimer);
    checkAt = 0;
    if (state.next_check != null) {  // the state may change then without an event: look again
      const wait = Math.max(state.next_check * 1000, 250);
      checkAt = Date.now() + wait;
      checkTimer = setTimeout(check, wait);
    }
    if (!state.screen.claimed) {
      clearStage();
      player.shown = null;
      $("code").textContent = state.code || "";
      if (state.code) $("qr").src = "/player/qr.svg?code=" + encodeURIComponent(state.code);
      else $("qr").removeAttribute("src");
      show("pairing");
    } else if (!state.layout) {
      clearStage();
      player.shown = null;
      $("screen-name").textContent = state.screen.name;
      show("waiting");
    } else if (!showing(state.layout)) {
      // "received" goes alone only when applying takes long (large media); else with "applied"
      const version = state.layout.version;
      clearTimeout(receivedTimer);
      receivedTimer = setTimeout(() => post("/player/api/ack", { received: version }).catch(() => {}), 2000);
      render(state.layout);
    }
  }

  function shownKey() {
    return player.shown ? player.shown.id + ":" + player.shown.version : "";
  }

  function playsOf(layout) {  // which items each playlist region of a layout plays
    return JSON.stringify(layout.regions.map((r) => (r.items || []).map((i) => i.id)));
  }

  // The stage shows this version, with the same playlist items (a version's items come on
  // and go as their validity starts and ends: then it is shown again).
  function showing(layout) {
    return shownKey() === layout.id + ":" + layout.version && player.shown.plays === playsOf(layout);
  }

  // A `layout` frame: a new version of the layout shown. Its `next_check` (when one of its
  // items starts or stops being valid) counts, and so does the check already due (the
  // schedule's next change).
  function applyLayout(layout) {
    const next = layout.next_check;
    delete layout.next_check;
    const due = checkAt ? Math.max(checkAt - Date.now(), 0) / 1000 : null;
    const soonest = next == null ? due : due == null ? next : Math.min(next, due);
    apply(Object.assign({}, player.state, { layout, next_check: soonest }));
  }

  async function check() {  // asked by next_check, or after a stream error
    checkMissed = false;
    try {
      const r = await api("/player/api/state");
      if (r.status === 401) return forget();
      if (r.ok) return apply(await r.json());
    } catch (e) { /* unreachable: keep playing */ }
    checkMissed = true;  // asked again once the stream is back
  }

  // ---------------------------------------------------------------- media held in memory

  async function holdMedia(root) {
    const els = root.querySelectorAll("img[src^='/media/'], video[src^='/media/'], source[src^='/media/']");
    const keep = new Map();
    await Promise.all(Array.from(els, async (el) => {
      const url = el.getAttribute("src");
      let held = blobs.get(url) || keep.get(url);
      if (!held) {
        try {
          const r = await fetch(url);
          if (r.ok) held = URL.createObjectURL(await r.blob());
        } catch (e) { /* offline: the service worker's cache may still answer the plain URL */ }
      }
      if (held) { keep.set(url, held); el.dataset.src = url; el.setAttribute("src", held); }
    }));
    return keep;
  }

  // Pictures decoded, and the videos seen first (outside playlists, or in a playlist's first
  // item) holding a frame: a new layout does not come in black.
  function decoded(root) {
    const waits = Array.from(root.querySelectorAll("img"), (img) => img.decode().catch(() => {}));
    for (const v of root.querySelectorAll("video")) {
      v.preload = "auto"; v.muted = true; v.playsInline = true;
      const item = v.closest(".item");
      if (!item || !item.previousElementSibling) waits.push(new Promise((resolve) => whenReady([v], resolve)));
    }
    const timeout = new Promise((resolve) => setTimeout(resolve, 5000));
    return Promise.race([Promise.all(waits), timeout]);
  }

  // ---------------------------------------------------------------- rendering

  let rendering = 0, receivedTimer = null;
  async function render(layout) {
    const token = ++rendering;
    const stage = document.createElement("div");
    stage.className = "stage";
    stage.id = "stage-next";
    stage.style.width = layout.width + "px";
    stage.style.height = layout.height + "px";
    stage.style.visibility = "hidden";
    for (const r of layout.regions) {
      const div = document.createElement("div");
      div.className = "region";
      div.dataset.region = r.id;
      div.dataset.widget = r.widget;
      div.style.cssText = `left:${r.x}px;top:${r.y}px;width:${r.w}px;height:${r.h}px;z-index:${r.z}`;
      if (r.widget === "playlist") {
        for (const item of r.items || []) {
          const el = document.createElement("div");
          el.className = "item t-" + (item.transition || "none");
          el.dataset.item = item.id;
          el.innerHTML = item.html;
          for (const v of el.querySelectorAll("video")) { v.autoplay = false; v.dataset.loop = v.loop; }  // played in its turn
          div.appendChild(el);
        }
      } else {
        div.innerHTML = r.html;
      }
      stage.appendChild(div);
    }
    document.body.appendChild(stage);
    const held = await holdMedia(stage);
    await decoded(stage);
    if (token !== rendering) { stage.remove(); release(held, new Map()); return; }
    swap(stage, layout, held);
  }

  function swap(stage, layout, held) {
    closeSegments();
    for (const p of playlists) p.stop();
    const old = $("stage");
    if (old) Signage.widgets.stop(old);
    stage.id = "stage";
    stage.dataset.layout = layout.id;
    stage.dataset.version = layout.version;
    fit(stage);
    stage.style.visibility = "";
    if (old) old.replaceWith(stage);
    show("stage");
    release(blobs, held);
    blobs = held;
    tellWorker();
    Signage.widgets.start(stage);
    player.shown = { id: layout.id, version: layout.version, plays: playsOf(layout) };
    playlists = [];
    for (const r of layout.regions) {
      const div = stage.querySelector(`[data-region="${CSS.escape(String(r.id))}"]`);
      if (r.widget === "playlist") playlists.push(new Playlist(div, r, layout.id));
      else segments.push({ layout: String(layout.id), region: String(r.id), item: "", widget: r.widget, start: Date.now(), plays: 1 });
    }
    clearTimeout(receivedTimer);
    const ack = { received: layout.version, version: layout.version, layout: String(layout.id) };
    post("/player/api/ack", ack).catch(() => {});
  }

  function tellWorker() {  // which media the service worker should keep
    const worker = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (worker) worker.postMessage({ keep: Array.from(blobs.keys()) });
  }

  function release(old, kept) {
    const keep = new Set(kept.values());
    for (const url of old.values()) if (!keep.has(url)) URL.revokeObjectURL(url);
  }

  function clearStage() {
    closeSegments();
    for (const p of playlists) p.stop();
    playlists = [];
    const stage = $("stage");
    Signage.widgets.stop(stage);
    stage.replaceChildren();
    release(blobs, new Map());
    blobs = new Map();
  }

  // ---------------------------------------------------------------- playlists

  class Playlist {
    constructor(el, region, layoutId) {
      this.el = el;
      this.region = region;
      this.layout = String(layoutId);
      this.items = Array.from(el.children);
      this.index = -1;
      this.timer = null;
      this.current = null;
      this.due = Infinity;
      this.onEnded = () => this.next();
      this.stopped = false;
      this.next();
    }
    next() {
      clearTimeout(this.timer);
      const spec = this.region.items || [];
      if (!spec.length || this.stopped) return;
      const from = this.index;
      this.index = (this.index + 1) % spec.length;
      this.record();
      this.started = Date.now();
      if (from === this.index) {  // one item: it simply goes on
        this.schedule(spec[this.index]);
        return;
      }
      const el = this.items[this.index], prev = from >= 0 ? this.items[from] : null;
      this.current = spec[this.index];
      this.due = Date.now() + 3000 + WATCHDOG_MS;
      rewind(el);  // done already when it went off, unless it comes back that soon
      whenReady(el.querySelectorAll("video"), () => {
        if (this.stopped || el !== this.items[this.index]) return;
        if (!prev) el.classList.add("now");  // the first item of a layout shows at once
        el.classList.remove("off");
        el.classList.add("on");
        el.style.zIndex = "2";
        if (prev) {
          // Under the new one: the one it replaces, and under that any still on (an item on
          // for less than a transition), so that no older one shows through.
          for (const other of this.items) if (other !== el && other !== prev) other.style.zIndex = "0";
          prev.style.zIndex = "1";
          for (const v of prev.querySelectorAll("video")) v.loop = false;  // ends on its last frame: no jump back
          setTimeout(() => {  // the new one is whole by now: the others go, rewound for their next turn
            if (el !== this.items[this.index]) return;  // a newer one came on: its own timer does this
            for (const other of this.items) {
              if (other === el || !other.classList.contains("on")) continue;
              other.classList.remove("on", "now"); other.classList.add("off"); this.pause(other); rewind(other);
            }
          }, 1000);
        }
        this.play(el);
        this.started = Date.now();
        this.schedule(this.current);
        this.preload((this.index + 1) % spec.length);
      });
    }
    schedule(item) {
      const video = this.items[this.index].querySelector("video");
      if (item.duration == null && video) {
        video.loop = (this.region.items || []).length === 1;
        this.due = Date.now() + (isFinite(video.duration) ? video.duration : 3600) * 1000;
        video.onended = this.onEnded;
        video.onerror = () => { this.timer = setTimeout(this.onEnded, 1000); };
        if (video.loop) this.due = Infinity;
        return;
      }
      const ms = Math.max(0.2, Number(item.duration) || 10) * 1000;
      this.due = Date.now() + ms;
      this.timer = setTimeout(() => this.next(), ms);
    }
    play(el) {
      Signage.widgets.start(el);
      for (const v of el.querySelectorAll("video")) {  // from its start: rewound before it came on
        v.muted = true;
        v.loop = v.dataset.loop === "true";  // as set (schedule() decides for one played to its end)
        v.play().catch(() => {});
      }
    }
    pause(el) {
      for (const v of el.querySelectorAll("video")) v.pause();
    }
    preload(index) {
      for (const v of this.items[index].querySelectorAll("video")) if (v.readyState < 2 && !v.seeking) v.load();
    }
    record() {
      if (!this.current) return;
      queuePlay({ layout: this.layout, region: String(this.region.id), item: String(this.current.id), widget: this.current.widget,
        started_at: new Date(this.started).toISOString(), seconds: (Date.now() - this.started) / 1000, plays: 1 });
    }
    stop() {
      this.stopped = true;
      clearTimeout(this.timer);
      this.record();
      this.current = null;
      this.due = Infinity;
      for (const el of this.items) { this.pause(el); for (const v of el.querySelectorAll("video")) v.onended = v.onerror = null; }
    }
  }

  // Videos are shown once each has a frame to show at its place (loaded, not seeking);
  // after 3 s, whatever happens.
  const FRAME_EVENTS = ["loadeddata", "seeked", "canplay"];
  function whenReady(list, then) {
    const waiting = (v) => v.readyState < 2 || v.seeking;
    const videos = Array.from(list).filter(waiting);
    if (!videos.length) return then();
    let done = false, timer = null;
    const check = () => { if (!videos.some(waiting)) go(); };
    const go = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const v of videos) for (const name of FRAME_EVENTS) v.removeEventListener(name, check);
      then();
    };
    for (const v of videos) {
      for (const name of FRAME_EVENTS) v.addEventListener(name, check);
      if (v.readyState === 0 && v.networkState !== v.NETWORK_LOADING) v.load();  // not loading (yet): now
    }
    timer = setTimeout(go, 3000);
  }

  // Back to its first frame, while it is not seen (a seek: readyState falls until it is done).
  function rewind(el) {
    for (const v of el.querySelectorAll("video")) {
      if (v.readyState >= 1 && v.currentTime !== 0) { try { v.currentTime = 0; } catch (e) { /* not loaded */ } }
    }
  }

  // ---------------------------------------------------------------- proof of play

  function queuePlay(play) {
    const buffered = store.get(PLAYS) || [];
    buffered.push(play);
    store.set(PLAYS, buffered.slice(-MAX_PLAYS));
  }

  function closeSegments(keepOpen) {
    const now = Date.now(), open = [];
    for (const s of segments) {
      queuePlay({ layout: s.layout, region: s.region, item: s.item, widget: s.widget,
        started_at: new Date(s.start).toISOString(), seconds: (now - s.start) / 1000, plays: s.plays });
      open.push(Object.assign({}, s, { start: now, plays: 0 }));
    }
    segments = keepOpen ? open : [];
  }

  let sending = false;
  async function sendPlays() {
    const buffered = store.get(PLAYS) || [];
    if (sending || !buffered.length || !key()) return;
    sending = true;
    try {
      const batch = buffered.slice(0, 500);
      const r = await post("/player/api/plays", { plays: batch });
      if (r.ok || r.status === 400) store.set(PLAYS, (store.get(PLAYS) || []).slice(batch.length));
    } catch (e) { /* offline: kept for later */ } finally { sending = false; }
  }

  // ---------------------------------------------------------------- live

  function connect() {
    clearTimeout(reconnectTimer);
    if (source) source.close();
    if (!key()) return;
    const have = encodeURIComponent(shownKey());
    source = new EventSource(`/player/api/events?key=${encodeURIComponent(key())}&have=${have}`);
    source.addEventListener("hello", () => {
      backoff = 1000;
      player.online = true;
      heartbeat();
      if (player.shown) post("/player/api/ack", { version: player.shown.version, layout: String(player.shown.id) }).catch(() => {});
      sendPlays();
      if (checkMissed) check();
    });
    source.addEventListener("state", (e) => apply(JSON.parse(e.data)));
    source.addEventListener("layout", (e) => {
      if (player.state) applyLayout(JSON.parse(e.data));
    });
    source.addEventListener("reload", () => location.reload());
    source.addEventListener("identify", (e) => identify(JSON.parse(e.data).name));
    source.addEventListener("revoked", () => { source.close(); forget().then(connect, retry); });
    source.onerror = () => { source.close(); player.online = false; retry(); };
  }

  function retry() {  // back-off with jitter; a 401 means revoked: pair again
    const wait = backoff / 2 + Math.random() * backoff;
    backoff = Math.min(backoff * 2, 10000);
    player.reconnects += 1;
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(async () => {
      try {
        const r = await api("/player/api/state");
        if (r.status === 401) await forget();
      } catch (e) { return retry(); }
      connect();
    }, wait);
  }

  function heartbeat() {
    const dpr = window.devicePixelRatio || 1;
    const resolution = Math.round(window.innerWidth * dpr) + "x" + Math.round(window.innerHeight * dpr);
    post("/player/api/heartbeat", { resolution, player_version: PLAYER_VERSION }).catch(() => {});
  }

  let identifyTimer = null;
  function identify(name) {
    const el = $("identify");
    el.textContent = name;
    el.hidden = false;
    clearTimeout(identifyTimer);
    identifyTimer = setTimeout(() => { el.hidden = true; }, 6000);
  }

  // ---------------------------------------------------------------- watchdog

  // Stalled: the page's own timers ran late by more than the limit (its main thread
  // hung), frames stopped while visible, or a playlist item overran its time.
  let lastTick = Date.now();
  function frameTick() { lastFrame = Date.now(); requestAnimationFrame(frameTick); }

  async function watchdog() {
    const now = Date.now();
    const visible = document.visibilityState === "visible";
    const stalled = now - lastTick > WATCHDOG_MS || (visible && now - lastFrame > WATCHDOG_MS) ||
      playlists.some((p) => now > p.due + WATCHDOG_MS);
    lastTick = now;
    if (!visible) lastFrame = now;
    if (!stalled) return;
    lastFrame = now;
    let reachable = Boolean(navigator.serviceWorker && navigator.serviceWorker.controller);
    if (!reachable) {
      try { reachable = (await fetch("/healthz", { cache: "no-store" })).status < 500; } catch (e) { reachable = false; }
    }
    if (reachable) location.reload();  // offline without a service worker: a reload would go black
    else if (player.state && player.state.layout) { player.shown = null; render(player.state.layout); }
  }

  // ---------------------------------------------------------------- start

  async function start() {
    if ("serviceWorker" in navigator && window.isSecureContext) {
      navigator.serviceWorker.register("/player/sw.js", { scope: "/player" }).catch(() => {});
      navigator.serviceWorker.addEventListener("controllerchange", tellWorker);
    }
    document.body.dataset.storage = window.isSecureContext && "caches" in window ? "service-worker" : "local";
    const saved = store.get(STATE);
    if (key() && saved && saved.screen && saved.screen.claimed) apply(saved);
    while (!key()) {
      try { await pair(); } catch (e) { await new Promise((r) => setTimeout(r, 2000 + Math.random() * 3000)); }
    }
    connect();
  }

  window.addEventListener("resize", () => { const s = $("stage"); if (s) fit(s); });
  setInterval(heartbeat, HEARTBEAT_MS);
  setInterval(sendPlays, PLAYS_MS);
  setInterval(() => closeSegments(true), SEGMENT_MS);
  setInterval(watchdog, Math.min(5000, WATCHDOG_MS / 2));
  window.addEventListener("pagehide", () => closeSegments(true));
  requestAnimationFrame(frameTick);
  start();
})();
