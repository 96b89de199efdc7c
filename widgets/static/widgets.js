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

  // Door and lobby screens (booking_api/doors.py): the live part comes over an event
  // stream of the room (or of every booking) as rendered html; door-screen buttons post
  // with the screen's key. A preview (no key) shows them and says they work on screens.
  const screenKey = () => { try { return localStorage.getItem("signage.screen-key") || ""; } catch (e) { return ""; } };

  function ensureStyle() {
    if (document.querySelector("link[data-widgets-booking]")) return;
    const link = document.createElement("link");
    link.rel = "stylesheet"; link.href = "/static/widgets-booking.css"; link.dataset.widgetsBooking = "1";
    document.head.appendChild(link);
  }

  function liveUrl(el, kind) {
    const params = new URLSearchParams({ widget: kind });
    const d = el.dataset;
    for (const [name, value] of [["room_id", d.roomId], ["floor", d.floor], ["days", d.days], ["show_qr", d.showQr], ["show_service", d.showService]]) {
      if (value) params.set(name, value);
    }
    const key = screenKey();
    if (key) { params.set("key", key); return "/player/api/live?" + params; }
    return "/widgets/live?" + params;
  }

  function live(el, kind) {
    ensureStyle();
    const target = el.querySelector(".w-live");
    const source = new EventSource(liveUrl(el, kind));
    source.addEventListener("html", (ev) => {
      const data = JSON.parse(ev.data);
      target.innerHTML = data.html;
      el.dataset.state = data.state;
    });
    return source;
  }

  function say(el, text) {
    const box = el.querySelector(".w-rs-msg");
    if (!box) return;
    box.textContent = text || "";
    clearTimeout(box._timer);
    box._timer = setTimeout(() => { box.textContent = ""; }, 6000);
  }

  async function act(el, btn) {
    const action = btn.dataset.action;
    if (action === "walkup-ask") {
      const confirm = el.querySelector(".w-rs-confirm");
      if (confirm) { confirm.hidden = false; btn.hidden = true; }
      return;
    }
    const key = screenKey();
    if (!key) { say(el, el.dataset.msgPreview); return; }
    const body = {};
    if (btn.dataset.bookingId) body.booking_id = Number(btn.dataset.bookingId);
    if (btn.dataset.minutes) body.minutes = Number(btn.dataset.minutes);
    if (btn.dataset.until) body.until = btn.dataset.until;
    btn.disabled = true;
    try {
      const r = await fetch(`/player/api/rooms/${el.dataset.roomId}/${action}`, {
        method: "POST", headers: { "Content-Type": "application/json", "X-Screen-Key": key }, body: JSON.stringify(body),
      });
      const data = await r.json().catch(() => ({}));
      say(el, r.ok ? (action === "service" ? el.dataset.msgService : el.dataset.msgDone) : (data.message || r.statusText));
    } catch (e) {
      say(el, el.dataset.msgOffline);
    } finally {
      btn.disabled = false;
    }
  }

  // A player's region element also says data-widget; only the widget's own element runs.
  function roomStatus(el) {
    if (!el.classList.contains("w-room-status")) return null;
    const source = live(el, "room_status");
    const onClick = (ev) => {
      const btn = ev.target.closest("[data-action]");
      if (btn && el.contains(btn)) act(el, btn);
    };
    el.addEventListener("click", onClick);
    return { stop() { source.close(); el.removeEventListener("click", onClick); } };
  }

  function meetingList(el) {
    if (!el.classList.contains("w-meeting-list")) return null;
    const source = live(el, "meeting_list");
    return { stop() { source.close(); } };
  }

  const kinds = { clock, room_status: roomStatus, meeting_list: meetingList };

  function start(root) {
    root.querySelectorAll("[data-widget]").forEach((el) => {
      const kind = kinds[el.dataset.widget];
      if (kind && !timers.has(el)) timers.set(el, kind(el));
    });
  }

  function stop(root) {
    root.querySelectorAll("[data-widget]").forEach((el) => {
      if (!timers.has(el)) return;
      const running = timers.get(el);
      if (running && typeof running.stop === "function") running.stop(); else clearInterval(running);
      timers.delete(el);
    });
  }

  window.Signage = window.Signage || {};
  window.Signage.widgets = { start, stop };
})();
