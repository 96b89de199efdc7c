// The layout designer: drag from the palette, move, resize, snap, z-order, undo/redo.
// The draft lives on the server: every change PUTs the whole region list to
// /api/v1/layouts/{id}?preview=1 (validated there; a refused change is undone here)
// and the answer carries each region's real widget rendering for the canvas.
// The side panel is an htmx form rendered by the server from the widget's schema.
(function () {
  "use strict";
  const root = document.getElementById("designer");
  if (!root) return;
  const layoutId = root.dataset.layout;
  const W = Number(root.dataset.width), H = Number(root.dataset.height);
  const canvas = document.getElementById("canvas");
  const wrap = document.getElementById("canvas-wrap");
  const status = document.getElementById("save-status");
  const panel = document.getElementById("panel");
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const GRID = 10, EDGE = 12;
  const labels = JSON.parse(root.dataset.labels || "{}");

  let regions = [];        // [{id, x, y, w, h, z, widget, options}]
  let saved = "[]";        // the last list the server accepted (JSON)
  const html = {};         // region id → rendered widget
  let selected = null, scale = 1;
  const history = [], future = [];
  let saving = null, dirty = false, fromCommit = false;

  // ---- geometry ----
  function fit() {
    scale = Math.min(1, wrap.clientWidth / W);
    canvas.style.transform = `scale(${scale})`;
    wrap.style.height = H * scale + "px";
  }
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
  function snap(v, others) {
    if (!document.getElementById("snap").checked) return Math.round(v);
    for (const o of others) if (Math.abs(v - o) <= EDGE) return o;
    return Math.round(v / GRID) * GRID;
  }
  function edges(except, axis) {
    const out = axis === "x" ? [0, W] : [0, H];
    for (const r of regions) if (r.id !== except) {
      if (axis === "x") out.push(r.x, r.x + r.w); else out.push(r.y, r.y + r.h);
    }
    return out;
  }
  function toCanvas(clientX, clientY) {
    const rect = canvas.getBoundingClientRect();
    return { x: (clientX - rect.left) / scale, y: (clientY - rect.top) / scale, inside:
      clientX >= rect.left && clientX <= rect.right && clientY >= rect.top && clientY <= rect.bottom };
  }

  // ---- drawing ----
  function draw() {
    Signage.widgets.stop(canvas);
    const byId = new Map([...canvas.children].map((el) => [el.dataset.regionId, el]));
    for (const r of regions) {
      let el = byId.get(r.id);
      if (!el) {
        el = document.createElement("div");
        el.className = "region-box";
        el.dataset.regionId = r.id;
        el.innerHTML = '<div class="region-content"></div><span class="region-label"></span>';
        canvas.appendChild(el);
      }
      byId.delete(r.id);
      el.dataset.widget = r.widget;
      el.style.cssText = `left:${r.x}px;top:${r.y}px;width:${r.w}px;height:${r.h}px;z-index:${r.z}`;
      el.classList.toggle("selected", r.id === selected);
      const content = el.querySelector(".region-content");
      const inner = html[r.id] || "";
      if (content.dataset.html !== inner) { content.innerHTML = inner; content.dataset.html = inner; }
      el.querySelector(".region-label").textContent = `${labels[r.widget] || r.widget} · ${r.w}×${r.h}`;
    }
    for (const el of byId.values()) el.remove();
    Signage.widgets.start(canvas);
    root.querySelector("[data-action=undo]").disabled = history.length === 0;
    root.querySelector("[data-action=redo]").disabled = future.length === 0;
  }

  // ---- state, saving, undo ----
  const copy = (x) => JSON.parse(JSON.stringify(x));
  function commit(next) {
    history.push(copy(regions));
    future.length = 0;
    regions = next;
    draw();
    fromCommit = true;
    save();
  }
  async function save() {
    if (saving) { dirty = true; return saving; }
    status.textContent = root.dataset.msgSaving;
    status.className = "save-status";
    const body = JSON.stringify({ regions });
    const undoable = fromCommit;
    fromCommit = false;
    saving = fetch(`/api/v1/layouts/${layoutId}?preview=1`, {
      method: "PUT", body, headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    }).then(async (r) => {
      const answer = await r.json();
      if (!r.ok) {
        status.textContent = `${root.dataset.msgRefused} ${answer.message}`;
        status.className = "save-status refused";
        regions = JSON.parse(saved);  // nothing changed on the server; show what it holds
        if (undoable) history.pop();
      } else {
        accept(answer);
        status.textContent = root.dataset.msgSaved;
        refreshExact();
      }
      draw();
      refreshPanel();
    }).catch(() => { status.textContent = root.dataset.msgRefused; status.className = "save-status refused"; })
      .finally(() => {
        saving = null;
        if (dirty) { dirty = false; save(); }
      });
    return saving;
  }
  function accept(layout) {
    for (const r of layout.regions) { html[r.id] = r.html; delete r.html; }
    saved = JSON.stringify(layout.regions);
    if (!dirty) regions = layout.regions;  // a newer local change is on its way to the server
  }
  // The plain forms below the designer (exact values, no script needed) follow the draft.
  async function refreshExact() {
    const exact = document.querySelector(".exact .editor");
    if (!exact || exact.contains(document.activeElement)) return;
    const r = await fetch(location.pathname, { headers: { Accept: "text/html" } });
    if (!r.ok) return;
    const fresh = new DOMParser().parseFromString(await r.text(), "text/html").querySelector(".exact .editor");
    if (fresh && !exact.contains(document.activeElement)) exact.replaceChildren(...fresh.childNodes);
  }
  async function load(pushHistory) {
    const r = await fetch(`/api/v1/layouts/${layoutId}?preview=1`, { headers: { Accept: "application/json" } });
    if (!r.ok) return;
    const before = copy(regions);
    accept(await r.json());
    if (pushHistory && JSON.stringify(before) !== saved) { history.push(before); future.length = 0; }
    draw();
  }
  function undo() {
    if (!history.length) return;
    future.push(copy(regions));
    regions = history.pop();
    if (!regions.some((r) => r.id === selected)) select(null);
    draw();
    save();
  }
  function redo() {
    if (!future.length) return;
    history.push(copy(regions));
    regions = future.pop();
    draw();
    save();
  }

  // ---- selection and panel ----
  function select(id) {
    selected = id;
    draw();
    refreshPanel();
  }
  function refreshPanel() {
    if (!selected || !regions.some((r) => r.id === selected)) {
      panel.innerHTML = `<p class="hint">${panel.dataset.empty || ""}</p>`;
      return;
    }
    const focused = panel.contains(document.activeElement);
    if (focused) return;  // do not pull the form from under the user's typing
    htmx.ajax("GET", `/layouts/${layoutId}/regions/${selected}/panel`, { target: "#panel", swap: "innerHTML" }).catch(() => {});
  }
  panel.dataset.empty = panel.textContent.trim();
  document.body.addEventListener("htmx:beforeSwap", (e) => {
    if (e.detail.xhr.status === 400) { e.detail.shouldSwap = true; e.detail.isError = false; }
    // A panel fetched while the user started typing in the current one must not replace it.
    if (e.detail.requestConfig && e.detail.requestConfig.verb === "get" && panel.contains(document.activeElement)) {
      e.detail.shouldSwap = false;
    }
  });
  document.body.addEventListener("layout-saved", () => load(true).then(refreshExact));

  const byId = (id) => regions.find((r) => r.id === id);
  function change(fn) {
    const r = byId(selected);
    if (!r) return;
    const next = copy(regions);
    fn(next.find((x) => x.id === selected), next);
    commit(next);
  }
  function normaliseZ(list) {
    list.sort((a, b) => a.z - b.z).forEach((r, i) => { r.z = i; });
    return list;
  }
  const newId = () => Math.random().toString(16).slice(2, 10).padEnd(8, "0");
  const actions = {
    undo, redo,
    delete: () => { if (selected) { const id = selected; selected = null; commit(regions.filter((r) => r.id !== id)); refreshPanel(); } },
    duplicate: () => {
      const r = byId(selected);
      if (!r) return;
      const twin = { ...copy(r), id: newId(), x: clamp(r.x + 20, 0, W - r.w), y: clamp(r.y + 20, 0, H - r.h), z: regions.length };
      selected = twin.id;
      commit([...copy(regions), twin]);
    },
    forward: () => change((r, list) => { r.z += 1.5; normaliseZ(list); }),
    backward: () => change((r, list) => { r.z -= 1.5; normaliseZ(list); }),
  };
  root.querySelectorAll("[data-action]").forEach((b) => b.addEventListener("click", () => actions[b.dataset.action]()));

  document.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
    if (typing) return;
    const mod = e.ctrlKey || e.metaKey;
    if (mod && e.key.toLowerCase() === "z") { e.preventDefault(); (e.shiftKey ? redo : undo)(); return; }
    if (mod && e.key.toLowerCase() === "y") { e.preventDefault(); redo(); return; }
    if (mod && e.key.toLowerCase() === "d") { e.preventDefault(); actions.duplicate(); return; }
    if (!selected) return;
    if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); actions.delete(); return; }
    const step = e.shiftKey ? 10 : 1;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[e.key]) {
      e.preventDefault();
      change((r) => { r.x = clamp(r.x + moves[e.key][0], 0, W - r.w); r.y = clamp(r.y + moves[e.key][1], 0, H - r.h); });
    }
  });

  // ---- mouse: move and resize regions ----
  canvas.addEventListener("pointerdown", (e) => {
    const el = e.target.closest(".region-box");
    if (el && el.dataset.regionId !== selected) select(el.dataset.regionId);
    else if (!el) select(null);
  });
  interact(".region-box")
    .draggable({
      listeners: {
        start(e) { e.target.dataset.fx = byId(e.target.dataset.regionId).x; e.target.dataset.fy = byId(e.target.dataset.regionId).y; },
        move(e) {
          const r = byId(e.target.dataset.regionId);
          const fx = Number(e.target.dataset.fx) + e.dx / scale, fy = Number(e.target.dataset.fy) + e.dy / scale;
          e.target.dataset.fx = fx; e.target.dataset.fy = fy;
          const x = clamp(snapBox(fx, r.w, edges(r.id, "x")), 0, W - r.w);
          const y = clamp(snapBox(fy, r.h, edges(r.id, "y")), 0, H - r.h);
          e.target.style.left = x + "px"; e.target.style.top = y + "px";
          e.target.dataset.x = x; e.target.dataset.y = y;
        },
        end(e) {
          const id = e.target.dataset.regionId;
          if (e.target.dataset.x === undefined) return;
          const next = copy(regions), r = next.find((x) => x.id === id);
          r.x = Number(e.target.dataset.x); r.y = Number(e.target.dataset.y);
          delete e.target.dataset.x; delete e.target.dataset.y;
          commit(next);
        },
      },
    })
    .resizable({
      edges: { left: true, right: true, top: true, bottom: true },
      margin: 10,
      listeners: {
        start(e) { const r = byId(e.target.dataset.regionId); e.target._box = { ...r }; },
        move(e) {
          const b = e.target._box, d = e.deltaRect;
          b.x += d.left / scale; b.y += d.top / scale; b.w += d.width / scale; b.h += d.height / scale;
          const ex = edges(e.target.dataset.regionId, "x"), ey = edges(e.target.dataset.regionId, "y");
          const left = clamp(e.edges.left ? snap(b.x, ex) : Math.round(b.x), 0, W);
          const top = clamp(e.edges.top ? snap(b.y, ey) : Math.round(b.y), 0, H);
          const right = clamp(e.edges.right ? snap(b.x + b.w, ex) : Math.round(b.x + b.w), left + 1, W);
          const bottom = clamp(e.edges.bottom ? snap(b.y + b.h, ey) : Math.round(b.y + b.h), top + 1, H);
          e.target._shown = { x: left, y: top, w: right - left, h: bottom - top };
          Object.assign(e.target.style, { left: left + "px", top: top + "px", width: right - left + "px", height: bottom - top + "px" });
          e.target.querySelector(".region-label").textContent = `${right - left}×${bottom - top}`;
        },
        end(e) {
          const shown = e.target._shown;
          if (!shown) return;
          e.target._shown = null;
          const next = copy(regions);
          Object.assign(next.find((x) => x.id === e.target.dataset.regionId), shown);
          commit(next);
        },
      },
    });
  function snapBox(pos, size, others) {
    const a = snap(pos, others);
    if (a !== Math.round(pos) && others.includes(a)) return a;
    const b = snap(pos + size, others);
    if (others.includes(b)) return b - size;
    return a;
  }

  // ---- mouse: drag from the palette ----
  interact(".palette-item").draggable({
    listeners: {
      start(e) {
        const ghost = e.target.cloneNode(true);
        ghost.classList.add("ghost");
        document.body.appendChild(ghost);
        e.target._ghost = ghost;
      },
      move(e) {
        Object.assign(e.target._ghost.style, { left: e.client.x + 4 + "px", top: e.client.y + 4 + "px" });
        canvas.classList.toggle("drop-target", toCanvas(e.client.x, e.client.y).inside);
      },
      end(e) {
        e.target._ghost.remove();
        canvas.classList.remove("drop-target");
        const at = toCanvas(e.client.x, e.client.y);
        if (!at.inside) return;
        const w = Math.round(W / 3), h = Math.round(H / 3);
        const x = clamp(snap(at.x - w / 2, []), 0, W - w), y = clamp(snap(at.y - h / 2, []), 0, H - h);
        const d = e.target.dataset, options = {};
        if (d.mediaId) options.media_id = Number(d.mediaId);
        if (d.playlistId) options.playlist_id = Number(d.playlistId);
        const region = { id: newId(), x, y, w, h, z: regions.length, widget: d.widget, options };
        selected = region.id;
        commit([...copy(regions), region]);
      },
    },
  });

  // Publishing waits for the last change to be saved.
  document.getElementById("publish-form").addEventListener("submit", async (e) => {
    if (!saving && !dirty) return;
    e.preventDefault();
    while (saving) await saving;
    e.target.submit();
  });

  window.addEventListener("resize", fit);
  fit();
  load(false);
  Signage.editor = { state: () => ({ regions: copy(regions), selected, scale }) };
})();
