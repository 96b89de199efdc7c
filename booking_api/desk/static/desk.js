// The service desk (/desk): follows service calls, bookings and the rooms' clock live, re-fetches
// the board, and on a new call chimes (the <audio> element) and speaks it in the page's language.
// "Sound on" is the tap browsers want before a page may play sound.
(function () {
  "use strict";
  const desk = document.getElementById("desk");
  if (!desk) return;
  const chime = document.getElementById("desk-chime");
  const voice = document.getElementById("desk-voice");
  const box = document.getElementById("desk-alert");
  const soundBtn = document.getElementById("desk-sound");
  const kinds = JSON.parse(desk.dataset.kinds || "{}");
  let soundOn = false, timer = null;

  // A live refresh is the filter form's own request (its current filters, hx-sync
  // "this:replace"): a filter chosen while a refresh is on its way replaces it, so an older
  // board can never land over the filtered one. A refresh due while the form's request is on
  // its way waits for it (replacing it would drop the filter's URL from the address bar).
  const filters = document.getElementById("desk-filters");
  function refresh() {
    if (filters.classList.contains("htmx-request")) { soon(); return; }
    htmx.ajax("GET", "/desk", { source: filters, target: "#desk-board", swap: "outerHTML", push: "false" }).catch(() => {});
  }
  function soon() { clearTimeout(timer); timer = setTimeout(refresh, 100); }

  function sentence(call) {
    const room = call.room || "";
    if (call.origin === "meeting_end") return desk.dataset.sayCleaning.replace("{room}", room);
    if (call.origin === "booking_services") return desk.dataset.sayServices.replace("{room}", room);
    return desk.dataset.sayCall.replace("{room}", room).replace("{kind}", kinds[call.kind] || call.kind);
  }
  // The sentence is spoken by the server (/desk/tasks/{id}/speech, a cached WAV); the browser's
  // own voice only when the server has none (Chromium on Linux has no Chinese one).
  function speak(call, text) {
    if (!soundOn) return;
    voice.onerror = () => {
      if (!window.speechSynthesis) return;
      const u = new SpeechSynthesisUtterance(text);
      u.lang = desk.dataset.locale;
      window.speechSynthesis.speak(u);
    };
    voice.src = "/desk/tasks/" + encodeURIComponent(call.id) + "/speech";
    voice.play().catch(() => {});
  }
  function announce(call) {
    const text = sentence(call);
    box.classList.toggle("escalated", call.escalated === true);
    box.hidden = false;
    box.textContent = text;
    box.dataset.taskId = call.id;
    box.dataset.alerts = String(Number(box.dataset.alerts || 0) + 1);
    desk.classList.add("desk-alerting");
    clearTimeout(box._timer);
    box._timer = setTimeout(() => desk.classList.remove("desk-alerting"), 15000);
    if (!soundOn) { desk.dataset.sound = "off"; return; }
    chime.currentTime = 0;
    const played = chime.play();
    if (played) {
      played.then(() => { desk.dataset.sound = "playing"; chime.onended = () => speak(call, text); })
        .catch(() => { desk.dataset.sound = "blocked"; });
    }
  }
  function settled(call) {
    if (box.dataset.taskId === String(call.id)) { box.hidden = true; desk.classList.remove("desk-alerting"); }
  }

  function follow(topic, handlers) {
    let backoff = 1000;
    function connect() {
      const source = new EventSource("/events/" + topic);
      source.addEventListener("hello", () => {
        if (backoff > 1000) soon();
        backoff = 1000;
        desk.dataset["live" + topic[0].toUpperCase() + topic.slice(1)] = "1";
      });
      for (const [name, fn] of Object.entries(handlers)) {
        source.addEventListener(name, (ev) => { fn(JSON.parse(ev.data || "{}")); soon(); });
      }
      source.onerror = () => {
        source.close();
        setTimeout(connect, backoff + Math.random() * backoff);
        backoff = Math.min(backoff * 2, 30000);
      };
    }
    connect();
  }
  // An escalated call (nobody accepted it in time) is announced again.
  follow("service", { created: announce, escalated: (call) => announce({ ...call, escalated: true }), accepted: settled, done: settled, cancelled: settled });
  follow("bookings", { changed: () => {} });
  follow("rooms", { changed: () => {} });

  // Browsers play sound only after a tap on the page: "Sound on" is that tap.
  soundBtn.addEventListener("click", () => {
    soundOn = !soundOn;
    soundBtn.setAttribute("aria-pressed", String(soundOn));
    desk.dataset.soundOn = soundOn ? "1" : "";
    if (soundOn) {
      chime.muted = true;
      chime.play().then(() => { chime.pause(); chime.currentTime = 0; chime.muted = false; })
        .catch(() => { chime.muted = false; });
    }
  });
  document.getElementById("desk-fullscreen").addEventListener("click", () => {
    const full = desk.classList.toggle("desk-full");
    if (full && document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(() => {});
    if (!full && document.fullscreenElement) document.exitFullscreen().catch(() => {});
  });
  // A call another desk took meanwhile answers 409 with the fresh board and its message: show it.
  document.body.addEventListener("htmx:beforeSwap", (ev) => {
    if ([404, 409].includes(ev.detail.xhr.status)) { ev.detail.shouldSwap = true; ev.detail.isError = false; }
  });
})();
