// /m/book: the price of what the form says (a room with a rate card), asked again as the room,
// the start or the length change (GET /m/book/price; an older answer never lands last).
(function () {
  "use strict";
  const form = document.getElementById("m-book");
  const line = document.getElementById("m-price");
  if (!form || !line) return;
  let asked = 0;
  async function price() {
    const mine = ++asked;
    const data = new FormData(form);
    const q = new URLSearchParams({ room_id: data.get("room_id") || "", start: data.get("start") || "", minutes: data.get("minutes") || "" });
    let text = "";
    try {
      const r = await fetch("/m/book/price?" + q, { credentials: "same-origin" });
      if (r.ok) text = await r.text();
    } catch { return; }
    if (mine !== asked) return;
    line.textContent = text;
    line.hidden = !text;
  }
  form.addEventListener("change", price);
  price();
})();
