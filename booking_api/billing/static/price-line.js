// A line of text saying what a form's booking would cost, asked again as the form changes:
// <p data-price-url="/m/book/price" data-price-fields="room_id,start,minutes" hidden> inside the form
// (/m/book; a booking's edit form). The server answers text, empty when nothing is priced; an
// older answer never lands last.
(function () {
  "use strict";
  for (const line of document.querySelectorAll("[data-price-url]")) {
    const form = line.closest("form");
    const fields = line.dataset.priceFields.split(",");
    let asked = 0;
    async function price() {
      const mine = ++asked;
      const data = new FormData(form);
      const q = new URLSearchParams(fields.map((name) => [name, data.get(name) || ""]));
      let text = "";
      try {
        const r = await fetch(line.dataset.priceUrl + "?" + q, { credentials: "same-origin" });
        if (r.ok) text = await r.text();
      } catch { return; }
      if (mine !== asked) return;
      line.textContent = text;
      line.hidden = !text;
    }
    form.addEventListener("change", price);
    if (line.dataset.priceNow !== undefined) price();
  }
})();
