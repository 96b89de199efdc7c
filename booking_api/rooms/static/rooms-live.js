// Pages that follow bookings live: on every change, fire "changed" on the elements marked hx-trigger="changed".
(function () {
  "use strict";
  const source = new EventSource("/events/bookings");
  source.addEventListener("hello", () => { document.body.dataset.live = "1"; });
  source.addEventListener("changed", () => {
    document.querySelectorAll("[hx-trigger~=changed]").forEach((el) => htmx.trigger(el, "changed"));
  });
})();
