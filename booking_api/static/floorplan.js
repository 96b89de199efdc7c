// The floor plan: live colours (SSE), and placing a room by clicking on the plan.
(function () {
  "use strict";
  const plan = document.getElementById("plan");
  const source = new EventSource("/rooms/events");
  source.addEventListener("changed", () => htmx.trigger(plan, "changed"));
  source.addEventListener("hello", () => { document.body.dataset.live = "1"; });
  const place = document.getElementById("place");
  if (!place) return;
  plan.querySelector("img").addEventListener("click", (e) => {
    const box = e.target.getBoundingClientRect();
    place.elements.x.value = ((e.clientX - box.left) / box.width * 100).toFixed(2);
    place.elements.y.value = ((e.clientY - box.top) / box.height * 100).toFixed(2);
    place.requestSubmit();
  });
})();
