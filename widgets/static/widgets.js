// Widget behaviour in the browser, shared by the editor preview and the player.
// Signage.widgets.start(root) wakes every widget under root; stop(root) stops them.
// Each kind returns a function that stops it.
(function () {
  "use strict";
  const running = new WeakMap();
  const DATE_FORMATS = {
    long: { year: "numeric", month: "long", day: "numeric", weekday: "long" },
    medium: { year: "numeric", month: "short", day: "numeric" },
    short: { year: "2-digit", month: "2-digit", day: "2-digit" },
  };

  function isoDate(now, tz) {
    const p = Object.fromEntries(new Intl.DateTimeFormat("en", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" })
      .formatToParts(now).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day}`;
  }

  function clock(el) {
    const tz = el.dataset.tz, hour12 = el.dataset.hour12 === "true";
    const locale = el.dataset.locale || "en", format = el.dataset.dateFormat || "long";
    const timeFmt = new Intl.DateTimeFormat(locale, { timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12 });
    const dateFmt = format === "iso" ? null : new Intl.DateTimeFormat(locale, Object.assign({ timeZone: tz }, DATE_FORMATS[format] || DATE_FORMATS.long));
    const partsFmt = new Intl.DateTimeFormat("en", { timeZone: tz, hour: "numeric", minute: "numeric", second: "numeric", hour12: false });
    const timeEl = el.querySelector(".w-clock-time"), dateEl = el.querySelector(".w-clock-date");
    const face = el.querySelector(".w-clock-face");
    function tick() {
      const now = new Date();
      if (timeEl) timeEl.textContent = timeFmt.format(now);
      if (dateEl) dateEl.textContent = el.dataset.showDate === "true" ? (dateFmt ? dateFmt.format(now) : isoDate(now, tz)) : "";
      if (face) {
        const p = Object.fromEntries(partsFmt.formatToParts(now).map((x) => [x.type, Number(x.value)]));
        const rot = (sel, deg) => face.querySelector(sel).setAttribute("transform", `rotate(${deg} 50 50)`);
        rot(".h", ((p.hour % 12) + p.minute / 60) * 30);
        rot(".m", (p.minute + p.second / 60) * 6);
        rot(".s", p.second * 6);
      }
    }
    tick();
    const timer = setInterval(tick, 1000);
    return () => clearInterval(timer);
  }

  // A ticker: the text moves right to left at data-speed pixels per second, forever.
  function text(el) {
    if (el.dataset.scroll !== "true") return null;
    const body = el.querySelector(".w-text-body");
    const distance = el.clientWidth + body.scrollWidth;
    const animation = body.animate(
      [{ transform: `translateX(${el.clientWidth}px)` }, { transform: `translateX(${-body.scrollWidth}px)` }],
      { duration: (distance / Number(el.dataset.speed || 80)) * 1000, iterations: Infinity }
    );
    return () => animation.cancel();
  }

  function video(el) {
    el.muted = el.hasAttribute("muted");
    const play = () => el.play().catch(() => {});  // autoplay refused: the poster stays
    if (el.readyState >= 2) play(); else el.addEventListener("canplay", play, { once: true });
    return () => el.pause();
  }

  function webpage(el) {
    const minutes = Number(el.dataset.refresh || 0);
    if (!minutes) return null;
    const timer = setInterval(() => { el.src = el.src; }, minutes * 60 * 1000);
    return () => clearInterval(timer);
  }

  const kinds = { clock, text, video, webpage };

  function start(root) {
    const els = root.matches && root.matches("[data-widget]") ? [root] : [];
    els.concat(Array.from(root.querySelectorAll("[data-widget]"))).forEach((el) => {
      const kind = kinds[el.dataset.widget];
      if (kind && !running.has(el)) running.set(el, kind(el) || (() => {}));
    });
  }

  function stop(root) {
    root.querySelectorAll("[data-widget]").forEach((el) => {
      if (running.has(el)) { running.get(el)(); running.delete(el); }
    });
  }

  window.Signage = window.Signage || {};
  window.Signage.widgets = { start, stop };
})();
