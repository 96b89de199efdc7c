// The attendee picker: above every `textarea[data-people-picker]` (one attendee a line,
// "name, email"), a search box that finds people and departments as one types (a name in
// Chinese, its pinyin or initials, an email, an employee number) from /api/v1/people and
// /api/v1/departments. A person picked adds their line; a department adds everyone in it
// and under it. People already in the list are not added twice; guests are still typed.
// `input[data-people-picker=email]` gets the picked person's email instead.
(() => {
  "use strict";
  const zh = (document.documentElement.lang || "").startsWith("zh");
  const say = (en, cn) => (zh ? cn : en);
  const STYLE = `
.pp { position: relative; display: block; }
.pp .pp-search { width: 100%; box-sizing: border-box; }
.pp-list { position: absolute; z-index: 50; left: 0; right: 0; top: 100%; margin: 2px 0 0; padding: 0; list-style: none;
  background: #fff; border: 1px solid #d0d5dd; border-radius: 6px; box-shadow: 0 4px 12px rgba(16,24,40,.12); max-height: 18rem; overflow-y: auto; }
.pp-list li { padding: .45rem .6rem; cursor: pointer; display: flex; gap: .5rem; align-items: baseline; }
.pp-list li[aria-selected="true"], .pp-list li:hover { background: #eef4ff; }
.pp-list .pp-meta { color: #667085; font-size: .85em; }
.pp-list .pp-dept::before { content: "▤"; color: #667085; }
.pp-status { color: #667085; font-size: .85em; min-height: 1.2em; display: block; }`;
  let styled = false;

  function lines(area) {
    return area.value.split("\n").map((l) => l.trim()).filter(Boolean);
  }

  function has(area, email, name) {
    return lines(area).some((l) => {
      const parts = l.replace("，", ",").split(",").map((p) => p.trim().toLowerCase());
      return (email && parts.includes(email.toLowerCase())) || (!email && parts[0] === name.toLowerCase());
    });
  }

  function addPeople(area, people) {
    let added = 0;
    const out = lines(area);
    for (const p of people) {
      if (has(area, p.email, p.name) || out.some((l) => p.email && l.toLowerCase().includes(p.email.toLowerCase()))) continue;
      out.push(p.email ? `${p.name}, ${p.email}` : p.name);
      added += 1;
    }
    area.value = out.join("\n");
    area.dispatchEvent(new Event("input", { bubbles: true }));
    area.dispatchEvent(new Event("change", { bubbles: true }));
    return added;
  }

  async function json(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(String(r.status));
    return r.json();
  }

  function attach(target) {
    if (target.dataset.pickerReady) return;
    target.dataset.pickerReady = "1";
    if (!styled) {
      const s = document.createElement("style");
      s.textContent = STYLE;
      document.head.appendChild(s);
      styled = true;
    }
    const emailOnly = target.tagName === "INPUT";
    let box = target;
    if (!emailOnly) {
      const wrap = document.createElement("span");
      wrap.className = "pp";
      box = document.createElement("input");
      box.type = "search";
      box.autocomplete = "off";
      box.maxLength = 100;
      box.className = "pp-search";
      box.placeholder = say("Find people or a department: name, pinyin initials, email", "查找人员或部门：姓名、拼音首字母、邮箱");
      box.setAttribute("aria-label", say("Find attendees", "查找参会人"));
      wrap.appendChild(box);
      target.parentNode.insertBefore(wrap, target);
    } else {
      const wrap = document.createElement("span");
      wrap.className = "pp";
      target.parentNode.insertBefore(wrap, target);
      wrap.appendChild(target);
    }
    const list = document.createElement("ul");
    list.className = "pp-list";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    box.parentNode.appendChild(list);
    const status = document.createElement("span");
    status.className = "pp-status";
    status.setAttribute("aria-live", "polite");
    if (!emailOnly) box.parentNode.appendChild(status);
    box.setAttribute("role", "combobox");
    box.setAttribute("aria-expanded", "false");
    let timer = null, asked = 0, items = [], at = -1;

    function close() {
      list.hidden = true;
      box.setAttribute("aria-expanded", "false");
      at = -1;
    }

    function show(found) {
      items = found;
      list.replaceChildren();
      for (const [i, it] of found.entries()) {
        const li = document.createElement("li");
        li.setAttribute("role", "option");
        li.dataset.kind = it.kind;
        const name = document.createElement("span");
        name.textContent = it.kind === "department" ? it.path : it.name;
        if (it.kind === "department") name.className = "pp-dept";
        const meta = document.createElement("span");
        meta.className = "pp-meta";
        meta.textContent = it.kind === "department"
          ? say(`everyone (${it.people} here)`, `全部人员（本部门 ${it.people} 人）`)
          : [it.title, it.email].filter(Boolean).join(" · ");
        li.append(name, meta);
        li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(i); });
        list.appendChild(li);
      }
      list.hidden = found.length === 0;
      box.setAttribute("aria-expanded", String(found.length > 0));
      at = -1;
    }

    async function search() {
      const q = box.value.trim();
      const mine = ++asked;
      if (!q) { close(); return; }
      try {
        const qs = encodeURIComponent(q);
        const [people, depts] = await Promise.all([
          json(`/api/v1/people?q=${qs}&limit=8`),
          emailOnly ? Promise.resolve({ items: [] }) : json(`/api/v1/departments?q=${qs}&limit=4`),
        ]);
        if (mine !== asked) return;
        show([
          ...people.items.filter((p) => p.email || !emailOnly).map((p) => ({ kind: "person", ...p })),
          ...depts.items.map((d) => ({ kind: "department", ...d })),
        ]);
      } catch (e) {
        if (mine === asked) close();
      }
    }

    async function choose(i) {
      const it = items[i];
      if (!it) return;
      close();
      if (emailOnly) {
        target.value = it.email;
        return;
      }
      box.value = "";
      if (it.kind === "person") {
        addPeople(target, [it]);
        status.textContent = say(`${it.name} added.`, `已添加 ${it.name}。`);
        return;
      }
      status.textContent = say(`Adding ${it.path}…`, `正在添加 ${it.path}…`);
      try {
        let url = `/api/v1/people?department_id=${it.id}&subtree=1&limit=1000`, everyone = [];
        while (url) {  // a big department comes in pages (the Link header names the next)
          const r = await fetch(url, { credentials: "same-origin" });
          if (!r.ok) throw new Error(String(r.status));
          everyone = everyone.concat((await r.json()).items);
          const next = /<([^>]+)>;\s*rel="next"/.exec(r.headers.get("Link") || "");
          url = next ? next[1] : null;
        }
        const n = addPeople(target, everyone);
        status.textContent = say(`${it.path}: ${n} added.`, `${it.path}：已添加 ${n} 人。`);
      } catch (e) {
        status.textContent = say("The department could not be added; try again.", "未能添加该部门，请重试。");
      }
    }

    box.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(search, 150);
    });
    box.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !emailOnly && (list.hidden || at < 0)) e.preventDefault();  // never submits the form
      if (list.hidden) return;
      const options = list.children;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        at = (at + (e.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
        for (const [i, li] of [...options].entries()) li.setAttribute("aria-selected", String(i === at));
      } else if (e.key === "Enter" && at >= 0) {
        e.preventDefault();
        choose(at);
      } else if (e.key === "Escape") {
        close();
      }
    });
    box.addEventListener("blur", () => setTimeout(close, 150));
  }

  function scan(root) {
    for (const el of (root || document).querySelectorAll("[data-people-picker]")) attach(el);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => scan());
  else scan();
  document.addEventListener("htmx:afterSettle", (e) => scan(e.target));
  window.peoplePicker = { scan };
})();
