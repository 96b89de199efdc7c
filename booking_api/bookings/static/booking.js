// The availability grid: drag over free slots to book; refresh live when anyone books.
(function () {
  "use strict";
  const grid = document.getElementById("grid");
  const dialog = document.getElementById("book");
  const form = document.getElementById("book-form");
  const text = JSON.parse(document.getElementById("grid-text").textContent);
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  let drag = null;   // {row, from, to}
  let wanted = null; // {room_id, start, end}

  function cellsOf(row) { return Array.from(row.querySelectorAll("td.cell")); }
  function startOf(td) { return grid.querySelectorAll("thead th")[td.cellIndex].dataset.start; }

  function mark() {
    grid.querySelectorAll("td.selected").forEach((td) => td.classList.remove("selected"));
    if (!drag) return;
    const cells = cellsOf(drag.row);
    const [a, b] = [Math.min(drag.from, drag.to), Math.max(drag.from, drag.to)];
    for (let i = a; i <= b; i++) cells[i].classList.add("selected");
  }

  grid.addEventListener("click", (e) => {  // a booking: its page (details; change or cancel it if it is yours)
    const td = e.target.closest("td.cell[data-booking-id]");
    if (td) window.location.href = "/bookings/" + td.dataset.bookingId;
  });
  grid.addEventListener("mousedown", (e) => {
    const td = e.target.closest("td.cell.free");
    if (!td) return;
    e.preventDefault();
    const row = td.closest("tr");
    const i = cellsOf(row).indexOf(td);
    drag = { row, from: i, to: i };
    mark();
  });
  grid.addEventListener("mouseover", (e) => {
    const td = e.target.closest("td.cell");
    if (!drag || !td || td.closest("tr") !== drag.row) return;
    const cells = cellsOf(drag.row);
    const i = cells.indexOf(td);
    const [a, b] = [Math.min(drag.from, i), Math.max(drag.from, i)];
    for (let k = a; k <= b; k++) if (!cells[k].classList.contains("free")) return;
    drag.to = i;
    mark();
  });
  document.addEventListener("mouseup", () => {
    if (!drag) return;
    const cells = cellsOf(drag.row);
    const [a, b] = [Math.min(drag.from, drag.to), Math.max(drag.from, drag.to)];
    const start = new Date(startOf(cells[a]));
    const end = new Date(new Date(startOf(cells[b])).getTime() + 15 * 60000);
    open({ room_id: Number(drag.row.dataset.roomId), name: drag.row.dataset.roomName, start, end });
    drag = null;
  });

  const lang = document.documentElement.lang || undefined;
  function fmt(d) {  // in the site's time zone, like every time the server shows
    return new Date(d).toLocaleString(lang, { timeZone: grid.dataset.timezone, dateStyle: "short", timeStyle: "short", hourCycle: "h23" });
  }

  function open(w) {
    wanted = w;
    form.reset();
    form.querySelector("[data-field=room]").textContent = w.name;
    form.querySelector("[data-field=when]").textContent = fmt(w.start) + " – " + fmt(w.end);
    clearAnswer();
    if (!dialog.open) dialog.showModal();
    form.elements.title.focus();
    price();
  }

  // The price before booking (a room with a rate card): POST /api/v1/bookings/quote with the
  // booking's own body; asked again when the repeat changes. An older answer never lands last.
  let asked = 0;
  function money(fen, currency) {
    return (fen / 100).toLocaleString(lang, { style: "currency", currency });
  }
  async function price() {
    const line = form.querySelector("[data-field=price]");
    const mine = ++asked;
    const payload = body();
    payload.title = payload.title || "-";  // a quote needs no title
    let status, answer;
    try { [status, answer] = await post("/api/v1/bookings/quote", payload); } catch { return; }
    if (mine !== asked) return;
    if (status !== 200 || !answer.rate_card) { line.hidden = true; return; }
    const parts = answer.lines.map((l) => l.units + " × " + money(l.unit_price, answer.currency) + " " + l.label);
    const times = answer.occurrences > 1 ? " · " + text.occurrences.replace("{n}", answer.occurrences) : "";
    const space = text.price.endsWith("：") ? "" : " ";  // no space after a Chinese colon
    line.textContent = text.price + space + money(answer.total, answer.currency) + times + (parts.length ? " (" + parts.join("; ") + ")" : "");
    line.dataset.total = answer.total;
    line.hidden = false;
  }
  form.elements.freq.addEventListener("change", price);
  form.elements.count.addEventListener("change", price);

  function clearAnswer() {
    for (const sel of [".problem", ".suggestions", ".occurrences"]) form.querySelector(sel).hidden = true;
    form.querySelector("[data-action=book-free]").hidden = true;
  }

  function body(extra) {
    // one per line: name, email, phone, role (as on the booking's page)
    const roles = { "主持": "chair", "主持人": "chair", "必选": "required", "必须": "required", "可选": "optional" };
    const attendees = form.elements.attendees.value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
      const [name, email, phone, role] = l.replace(/，/g, ",").split(",").map((x) => x.trim());
      const a = { name, email: email || "", phone: phone || "" };
      if (role) a.role = roles[role] || role.toLowerCase();
      return a;
    });
    const b = {
      room_id: wanted.room_id, title: form.elements.title.value.trim(),
      start: wanted.start.toISOString(), end: wanted.end.toISOString(),
      attendees, notes: form.elements.notes.value,
      services: form.elements.services.value.split(/[,，]/).map((x) => x.trim()).filter(Boolean),
    };
    if (form.elements.private.checked) b.private = true; // unchecked: the room's default
    if (form.elements.freq.value) b.rrule = "FREQ=" + form.elements.freq.value + ";COUNT=" + (form.elements.count.value || 1);
    return Object.assign(b, extra || {});
  }

  async function post(url, payload) {
    const r = await fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(payload), credentials: "same-origin",
    });
    return [r.status, await r.json()];
  }

  function problem(message) {
    const p = form.querySelector(".problem");
    p.textContent = message;
    p.hidden = false;
  }

  function suggest(detail) {
    const box = form.querySelector(".suggestions");
    const next = detail.suggestions.next_free;
    const p = box.querySelector(".next");
    p.textContent = "";
    if (next) {
      p.append(text.next + " " + fmt(next.start) + " – " + fmt(next.end) + " ");
      const take = document.createElement("button");
      take.type = "button"; take.textContent = text.take; take.dataset.action = "take-next";
      take.onclick = () => { wanted.start = new Date(next.start); wanted.end = new Date(next.end); book(); };
      p.append(take);
    }
    const ul = box.querySelector(".rooms");
    ul.textContent = "";
    if (detail.suggestions.rooms.length) {
      const head = document.createElement("li"); head.textContent = text.rooms; ul.append(head);
    }
    for (const room of detail.suggestions.rooms) {
      const li = document.createElement("li");
      li.dataset.roomId = room.id;
      li.append(room.name + " (" + room.floor + ", " + room.capacity + ") ");
      const take = document.createElement("button");
      take.type = "button"; take.textContent = text.take;
      take.onclick = () => { wanted.room_id = room.id; wanted.name = room.name; book(); };
      li.append(take);
      ul.append(li);
    }
    box.hidden = false;
  }

  async function book(extra) {
    clearAnswer();
    if (!form.elements.title.value.trim()) { problem(form.elements.title.validationMessage || "?"); return; }
    if (form.elements.freq.value && !extra) {
      const [status, answer] = await post("/api/v1/bookings/check", body());
      if (status !== 200) { problem(answer.message); return; }
      if (answer.conflicting) {
        const ul = form.querySelector(".occurrences");
        ul.textContent = "";
        for (const o of answer.occurrences) {
          const li = document.createElement("li");
          li.className = o.free ? "free" : "taken";
          li.textContent = fmt(o.start) + " · " + (o.free ? text.free : (o.problem || text.taken));
          ul.append(li);
        }
        ul.hidden = false;
        problem(text.conflicts);
        form.querySelector("[data-action=book-free]").hidden = !answer.free;
        return;
      }
    }
    const [status, answer] = await post("/api/v1/bookings", body(extra));
    if (status === 201) { dialog.close(); refresh(); return; }
    problem(answer.message + (Array.isArray(answer.detail) ? ": " + answer.detail.map((d) => d.field + " " + d.message).join("; ") : ""));
    if (status === 409 && answer.detail && answer.detail.suggestions) suggest(answer.detail);
  }

  form.addEventListener("click", (e) => {
    const action = e.target.dataset.action;
    if (action === "book") book();
    if (action === "book-free") book({ on_conflict: "skip" });
    if (action === "close") dialog.close();
  });
  dialog.addEventListener("close", mark);

  // Open at the hour before now (today), else at the earliest opening of the rooms shown.
  function scrollToDay() {
    const heads = Array.from(grid.querySelectorAll("thead th.time"));
    if (!heads.length) return;
    let at = heads.length;
    for (const row of grid.querySelectorAll("tbody tr")) {
      const i = cellsOf(row).findIndex((td) => !td.classList.contains("closed"));
      if (i >= 0 && i < at) at = i;
    }
    const hourAgo = Date.now() - 3600000;
    const after = heads.findIndex((th) => new Date(th.dataset.start).getTime() > hourAgo);
    const current = after === -1 ? heads.length - 1 : after - 1; // the slot an hour ago falls in
    if (current > 0) at = Math.max(at === heads.length ? 0 : at, current);
    if (at >= heads.length) return;
    at -= at % 4; // on the hour
    const edge = grid.querySelector("thead th.room").getBoundingClientRect().right; // the sticky room names
    grid.scrollLeft += Math.floor(heads[at].getBoundingClientRect().left - edge);
  }
  scrollToDay();

  function refresh() {
    htmx.ajax("GET", "/rooms?" + grid.dataset.query, { target: "#grid", swap: "innerHTML" }).catch(() => {});
  }
  let source;
  function listen() {
    source = new EventSource("/events/bookings");
    source.addEventListener("changed", refresh);
    source.addEventListener("hello", () => { document.body.dataset.live = "1"; });
    source.onerror = () => { document.body.dataset.live = "0"; };
  }
  listen();
  setInterval(refresh, 60000); // colours move with the clock: booked → in progress → ended
})();
