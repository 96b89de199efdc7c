// The screens page stays live: any fleet event (and every half minute, for
// online/offline by time alone) reloads the table through htmx.
(function () {
  "use strict";
  const fleet = document.getElementById("fleet");
  if (!fleet) return;
  let timer = null;
  function reload() {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      const el = document.activeElement;
      if (fleet.contains(el) && (el.tagName === "INPUT" || el.tagName === "SELECT")) return;
      htmx.ajax("GET", "/screens", { target: "#fleet", swap: "innerHTML" }).catch(() => {});
    }, 150);
  }
  const source = new EventSource(fleet.dataset.stream);
  source.addEventListener("changed", reload);
  setInterval(reload, 30000);
})();
