// Widget behaviour in the browser, shared by the editor preview and the player.
// Signage.widgets.start(root) wakes every widget under root; stop(root) stops them.
(function () {
  "use strict";
  const timers = new WeakMap();

  function clock(el) {
    const tz = el.dataset.tz, hour12 = el.dataset.hour12 === "true";
    const locale = el.dataset.locale || "en";
    const timeFmt = new Intl.DateTimeFormat(locale, { timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12 });
    const dateFmt = new Intl.DateTimeFormat(locale, { timeZone: tz, year: "numeric", month: "long", day: "numeric", weekday: "long" });
    const partsFmt = new Intl.DateTimeFormat("en", { timeZone: tz, hour: "numeric", minute: "numeric", second: "numeric", hour12: false });
    const timeEl = el.querySelector(".w-clock-time"), dateEl = el.querySelector(".w-clock-date");
    const face = el.querySelector(".w-clock-face");
    function tick() {
      const now = new Date();
      if (timeEl) timeEl.textContent = timeFmt.format(now);
      if (dateEl) dateEl.textContent = el.dataset.showDate === "true" ? dateFmt.format(now) : "";
      if (face) {
        const p = Object.fromEntries(partsFmt.formatToParts(now).map((x) => [x.type, Number(x.value)]));
        const rot = (sel, deg) => face.querySelector(sel).setAttribute("transform", `rotate(${deg} 50 50)`);
        rot(".h", ((p.hour % 12) + p.minute / 60) * 30);
        rot(".m", (p.minute + p.second / 60) * 6);
        rot(".s", p.second * 6);
      }
    }
    tick();
    return setInterval(tick, 1000);
  }

  const kinds = { clock };

  function start(root) {
    root.querySelectorAll("[data-widget]").forEach((el) => {
      const kind = kinds[el.dataset.widget];
      if (kind && !timers.has(el)) timers.set(el, kind(el));
    });
  }

  function stop(root) {
    root.querySelectorAll("[data-widget]").forEach((el) => {
      if (timers.has(el)) { clearInterval(timers.get(el)); timers.delete(el); }
    });
  }

  window.Signage = window.Signage || {};
  window.Signage.widgets = { start, stop };
})();
