// Reorder a playlist's items by dragging their handles (interact.js); the new
// order is posted at once and the server answers with the list as it saved it.
(function () {
  "use strict";
  const csrf = document.querySelector("meta[name=csrf-token]").content;

  function block() { return document.getElementById("items-block"); }

  async function post(order) {
    const b = block();
    const r = await fetch(`/playlists/${b.dataset.playlist}/order`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf, "HX-Request": "true" },
      body: new URLSearchParams({ order: order.join(",") }),
    });
    const fresh = document.createElement("div");
    fresh.innerHTML = await r.text();
    const next = fresh.querySelector("#items-block");
    if (next) { b.replaceWith(next); htmx.process(next); }
  }

  interact(".playlist-item .handle").draggable({
    listeners: {
      start(e) { const li = e.target.closest(".playlist-item"); li.classList.add("dragging"); li._dy = 0; },
      move(e) {
        const li = e.target.closest(".playlist-item");
        li._dy += e.dy;
        li.style.transform = `translateY(${li._dy}px)`;
      },
      end(e) {
        const li = e.target.closest(".playlist-item");
        const list = li.parentElement;
        const y = e.client.y;
        const others = [...list.querySelectorAll(".playlist-item")].filter((x) => x !== li);
        const before = others.find((x) => { const r = x.getBoundingClientRect(); return y < r.top + r.height / 2; });
        li.classList.remove("dragging");
        li.style.transform = "";
        list.insertBefore(li, before || null);
        const order = [...list.querySelectorAll(".playlist-item")].map((x) => x.dataset.itemId);
        post(order);
      },
    },
  });
})();
