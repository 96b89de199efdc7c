// The media library in the browser: uploads with a progress bar per file (one
// request per file, XMLHttpRequest upload.onprogress), drag and drop onto the page,
// and live progress of background work over SSE (GET /events/media).
(function () {
  "use strict";
  const form = document.querySelector("form.upload");
  const list = document.getElementById("uploads");
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  let refreshTimer = null;

  function refresh() {  // re-render the live part of the page (grid or detail) in place
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      const live = document.querySelector("[data-media-live]");
      if (live && window.htmx) htmx.ajax("GET", location.pathname + location.search, { target: "#" + live.id, swap: "outerHTML" }).catch(() => {});
    }, 150);
  }

  function uploadOne(file) {
    const li = document.createElement("li");
    li.className = "upload-item";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    const status = document.createElement("span");
    status.className = "upload-status";
    li.append(name, bar, status);
    list.append(li);
    function refuse(message) {
      li.classList.add("failed");
      li.setAttribute("role", "alert");
      status.textContent = message;
    }
    if (file.size > Number(form.dataset.maxBytes)) {  // the server would refuse it (413): say so before sending
      refuse(form.dataset.tooLarge);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const data = new FormData();
      data.append("files", file, file.name);
      const folder = form.querySelector("input[name=folder]");
      if (folder && folder.value) data.append("folder", folder.value);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/media");
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); status.textContent = bar.value + "%"; }
      };
      xhr.onload = () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
        if (xhr.status === 201) {
          const item = body.items[0];
          bar.value = 100;
          li.dataset.mediaId = item.id;
          li.classList.add("done");
          status.textContent = item.duplicate ? form.dataset.duplicate : item.status === "processing" ? form.dataset.processing : form.dataset.uploaded;
        } else {
          refuse(body.message || form.dataset.failed + " (" + xhr.status + ")");
        }
        resolve();
      };
      xhr.onerror = () => {
        refuse(form.dataset.failed);
        resolve();
      };
      xhr.send(data);
    });
  }

  async function uploadAll(files) {
    await Promise.all(Array.from(files).map(uploadOne));
    refresh();
  }

  if (form && list) {
    const input = form.querySelector("input[type=file]");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (input.files.length) uploadAll(input.files).then(() => { input.value = ""; });
    });
    document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dropping"); });
    document.addEventListener("dragleave", (e) => { if (!e.relatedTarget) document.body.classList.remove("dropping"); });
    document.addEventListener("drop", (e) => {
      e.preventDefault();
      document.body.classList.remove("dropping");
      if (e.dataTransfer && e.dataTransfer.files.length) uploadAll(e.dataTransfer.files);
    });
  }

  // Live: background progress of videos, and any change made elsewhere.
  const source = new EventSource("/events/media");
  source.addEventListener("progress", (e) => {
    const data = JSON.parse(e.data);
    document.querySelectorAll(`[data-media-id="${data.id}"] .processing`).forEach((el) => {
      el.querySelector("progress").value = data.progress;
      el.querySelector(".pct").textContent = data.progress + "%";
    });
  });
  for (const type of ["ready", "failed", "added", "changed", "deleted"]) source.addEventListener(type, refresh);
  window.addEventListener("pagehide", () => source.close());
})();
