// A booking's page: what the edit form's room and times would cost, against its price now
// (GET /bookings/{id}/price), asked again as they change; an older answer never lands last.
(function () {
  "use strict";
  const form = document.getElementById("booking-edit");
  const line = document.getElementById("edit-price");
  if (!form || !line) return;
  let asked = 0;
  async function price() {
    const mine = ++asked;
    const q = new URLSearchParams({ start: form.elements.start.value, end: form.elements.end.value, room_id: form.elements.room_id.value });
    let text = "";
    try {
      const r = await fetch(line.dataset.url + "?" + q, { credentials: "same-origin" });
      if (r.ok) text = await r.text();
    } catch { return; }
    if (mine !== asked) return;
    line.textContent = text;
    line.hidden = !text;
  }
  form.addEventListener("change", price);
})();
