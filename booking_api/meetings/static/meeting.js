// The meeting's page: live (the part in #meeting-live is fetched again when the meeting
// changes), uploads with a progress bar per file (one request each), removing a file.
(function () {
  "use strict";
  const root = document.querySelector(".meeting");
  const live = document.getElementById("meeting-live");
  if (!root || !live) return;
  const bookingId = Number(root.dataset.bookingId);
  const seriesId = root.dataset.seriesId ? Number(root.dataset.seriesId) : null;
  const roomId = Number(root.dataset.roomId);
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const textEl = document.getElementById("meeting-text");
  const text = textEl ? JSON.parse(textEl.textContent) : {};
  let timer = null;

  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(() => {
      fetch(live.dataset.url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
        .then((html) => { live.innerHTML = html; })
        .catch(() => {});
    }, 150);
  }

  function follow(topic, events, concerns) {
    let backoff = 1000;
    function connect() {
      const source = new EventSource("/events/" + topic);
      source.addEventListener("hello", () => { if (backoff > 1000) refresh(); backoff = 1000; });
      events.forEach((name) => source.addEventListener(name, (e) => { if (concerns(e)) refresh(); }));
      source.onerror = () => {
        source.close();
        setTimeout(connect, backoff + Math.random() * backoff);
        backoff = Math.min(backoff * 2, 30000);
      };
    }
    connect();
  }
  follow("meetings", ["before", "minutes", "reply", "service"], (e) => {
    const d = JSON.parse(e.data || "{}");
    if (d.type === "service") return d.room_id === roomId; // the desk's calls and cleaning
    return d.booking_id === bookingId || (seriesId !== null && d.series_id === seriesId);
  });
  follow("bookings", ["changed"], () => true); // edits, check-ins, cancellations

  function upload(form, file) {
    const list = form.querySelector(".progress-list");
    const li = document.createElement("li");
    const name = document.createElement("span");
    const bar = document.createElement("progress");
    const status = document.createElement("small");
    name.className = "name"; name.textContent = file.name;
    bar.max = 100; bar.value = 0;
    status.className = "state";
    li.append(name, bar, status);
    list.append(li);
    const max = Number(form.closest(".meeting-uploaders").dataset.maxBytes);
    if (file.size > max) {
      li.className = "failed"; bar.remove();
      status.textContent = text.failed + ": " + text.too_large;
      return;
    }
    const body = new FormData();
    body.append("kind", form.dataset.kind);
    const scope = form.querySelector("select[name=scope]");
    if (scope) body.append("scope", scope.value);
    body.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      bar.value = Math.round((e.loaded / e.total) * 100);
      if (e.loaded === e.total) status.textContent = text.checking; // the server checks it and makes its preview
    };
    xhr.onload = () => {
      if (xhr.status === 201) {
        bar.value = 100; li.className = "done"; status.textContent = text.done;
        refresh();
        setTimeout(() => li.remove(), 4000);
      } else {
        let message = String(xhr.status);
        try { message = JSON.parse(xhr.responseText).message; } catch (err) { /* not JSON */ }
        li.className = "failed"; bar.remove(); status.textContent = text.failed + ": " + message;
      }
    };
    xhr.onerror = () => { li.className = "failed"; bar.remove(); status.textContent = text.network; };
    xhr.send(body);
  }

  document.querySelectorAll("form.uploader:not(.disabled)").forEach((form) => {
    const input = form.querySelector("input[type=file]");
    const drop = form.querySelector(".drop");
    input.addEventListener("change", () => { Array.from(input.files).forEach((f) => upload(form, f)); input.value = ""; });
    form.addEventListener("submit", (e) => e.preventDefault());
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault(); drop.classList.remove("over");
      Array.from(e.dataTransfer.files).forEach((f) => upload(form, f));
    });
  });

  // "Call service" (the meeting's people, while it is on): the service-calls API, as JSON.
  live.addEventListener("submit", (e) => {
    const form = e.target.closest("form.meeting-call");
    if (!form) return;
    e.preventDefault();
    const said = form.querySelector(".meeting-call-said");
    const buttons = form.querySelectorAll("button");
    const kind = e.submitter ? e.submitter.value : "other";
    const body = { kind: kind, note: form.elements.note.value, booking_id: Number(form.dataset.bookingId) };
    buttons.forEach((b) => { b.disabled = true; });
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    })
      .then((r) => r.json().then((answer) => ({ ok: r.status === 201, answer })))
      .then(({ ok, answer }) => {
        said.textContent = ok ? said.dataset.sent : answer.message;
        said.dataset.result = ok ? "sent" : "refused";
        if (ok) { form.elements.note.value = ""; refresh(); }
      })
      .catch(() => { said.textContent = text.network || ""; said.dataset.result = "refused"; })
      .finally(() => buttons.forEach((b) => { b.disabled = false; }));
  });

  live.addEventListener("click", (e) => {
    const button = e.target.closest("button.remove");
    if (!button || !window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    fetch(button.dataset.url, { method: "DELETE", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" })
      .then(() => refresh());
  });
})();
