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
    if (!el.autoplay) return () => el.pause();  // a playlist's: the player plays it in its turn
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


  // Door and lobby screens (booking_api/doors.py): the live part comes over an event
  // stream of the room (or of every booking) as rendered html; door-screen buttons post
  // with the screen's key. A preview (no key) shows them and says they work on screens.
  const screenKey = () => { try { return localStorage.getItem("signage.screen-key") || ""; } catch (e) { return ""; } };

  function ensureStyle() {
    if (document.querySelector("link[data-widgets-booking]")) return;
    const link = document.createElement("link");
    link.rel = "stylesheet"; link.href = "/static/widgets/widgets-booking.css"; link.dataset.widgetsBooking = "1";
    document.head.appendChild(link);
  }

  function liveUrl(el, kind) {
    const params = new URLSearchParams({ widget: kind });
    const d = el.dataset;
    for (const [name, value] of [["room_id", d.roomId], ["floor", d.floor], ["days", d.days], ["show_qr", d.showQr], ["show_service", d.showService],
      ["building", d.building], ["announce_minutes", d.announceMinutes], ["voice", d.voice]]) {
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
      const note = target.querySelector(".w-rs-note");
      const typed = note ? note.value : "";
      target.innerHTML = data.html;
      if (el.dataset.serviceOpen) {  // a refresh keeps the call being made open, with its note
        const kinds = target.querySelector(".w-rs-service");
        if (kinds) kinds.hidden = false;
        const again = target.querySelector(".w-rs-note");
        if (again) again.value = typed;
      }
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
    if (action === "walkup-ask" || action === "end-ask") {  // a second tap confirms
      const confirm = el.querySelector(`.w-rs-confirm[data-confirms="${action.slice(0, -4)}"]`);
      if (confirm) { confirm.hidden = false; btn.hidden = true; }
      return;
    }
    if (action === "service-ask") {  // the kinds of call, and a note typed on the screen
      const kinds = el.querySelector(".w-rs-service");
      if (kinds) { kinds.hidden = !kinds.hidden; el.dataset.serviceOpen = kinds.hidden ? "" : "1"; }
      return;
    }
    const key = screenKey();
    if (!key) { say(el, el.dataset.msgPreview); return; }
    const body = {};
    if (btn.dataset.bookingId) body.booking_id = Number(btn.dataset.bookingId);
    if (btn.dataset.minutes) body.minutes = Number(btn.dataset.minutes);
    if (btn.dataset.until) body.until = btn.dataset.until;
    if (action === "service") {
      body.kind = btn.dataset.kind || "other";
      const note = el.querySelector(".w-rs-note");
      if (note && note.value.trim()) body.note = note.value.trim().slice(0, 500);
    }
    btn.disabled = true;
    try {
      const r = await fetch(`/player/api/rooms/${el.dataset.roomId}/${action}`, {
        method: "POST", headers: { "Content-Type": "application/json", "X-Screen-Key": key }, body: JSON.stringify(body),
      });
      const data = await r.json().catch(() => ({}));
      say(el, r.ok ? (action === "service" ? el.dataset.msgService : el.dataset.msgDone) : (data.message || r.statusText));
      if (r.ok && action === "service") {
        el.dataset.serviceOpen = "";
        const kinds = el.querySelector(".w-rs-service");
        if (kinds) kinds.hidden = true;
      }
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
    return () => { source.close(); el.removeEventListener("click", onClick); };
  }

  function meetingList(el) {
    if (!el.classList.contains("w-meeting-list")) return null;
    const source = live(el, "meeting_list");
    return () => source.close();
  }

  // A waiting room (widgets/waiting_room.py): the list, and each announcement once, shown
  // large with its sentence spoken by the server, then back to the list.
  const ANNOUNCE_MS = 15000;
  function waitingRoom(el) {
    if (!el.classList.contains("w-waiting-room")) return null;
    const source = live(el, "waiting_room");
    const voice = el.querySelector(".w-wr-voice");
    const heard = new Set();
    let timer = null;
    const observer = new MutationObserver(() => {
      const box = el.querySelector(".w-wr-announce");
      if (!box) return;
      const key = box.dataset.announceKey;
      if (heard.has(key)) { if (el.dataset.announcing !== key) box.hidden = true; return; }
      heard.add(key);
      el.dataset.announcing = key;
      el.classList.add("w-wr-announcing");
      clearTimeout(timer);
      timer = setTimeout(() => {
        el.classList.remove("w-wr-announcing");
        el.dataset.announcing = "";
        const now = el.querySelector(".w-wr-announce");
        if (now) now.hidden = true;
      }, ANNOUNCE_MS);
      if (el.dataset.voice === "true" && voice) {
        const key2 = screenKey();
        const path = key2 ? "/player/api/speech" : "/widgets/speech";
        const params = new URLSearchParams({ booking_id: box.dataset.bookingId });
        if (key2) params.set("key", key2);
        voice.src = path + "?" + params;
        voice.play().catch(() => {});
      }
    });
    observer.observe(el.querySelector(".w-live"), { childList: true });
    return () => { source.close(); observer.disconnect(); clearTimeout(timer); voice && voice.pause(); };
  }

  const kinds = { clock, text, video, webpage, room_status: roomStatus, meeting_list: meetingList, waiting_room: waitingRoom };

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
