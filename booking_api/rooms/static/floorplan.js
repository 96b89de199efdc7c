// The floor plan: place a room by clicking on the plan (live colours come from live.js).
(function () {
  "use strict";
  const plan = document.getElementById("plan");
  const place = document.getElementById("place");
  if (!place) return;
  plan.querySelector("img").addEventListener("click", (e) => {
    const box = e.target.getBoundingClientRect();
    place.elements.x.value = ((e.clientX - box.left) / box.width * 100).toFixed(2);
    place.elements.y.value = ((e.clientY - box.top) / box.height * 100).toFixed(2);
    place.requestSubmit();
  });
})();
