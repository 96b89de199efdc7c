// Live parts of pages: an element with data-live="topic" is re-fetched (htmx) whenever
// the server says the topic changed. URL: data-live-url, else the page's own URL; the
// server answers an htmx request with the element's fragment (a named template block).
(function () {
  "use strict";
  function follow(el) {
    let timer = null, backoff = 1000;
    function refresh() {
      const url = el.dataset.liveUrl || window.location.pathname + window.location.search;
      htmx.ajax("GET", url, { target: el, swap: "innerHTML" }).catch(() => {});
    }
    function connect() {
      const source = new EventSource("/events/" + encodeURIComponent(el.dataset.live));
      source.addEventListener("hello", () => { if (backoff > 1000) refresh(); backoff = 1000; });
      source.addEventListener("changed", () => { clearTimeout(timer); timer = setTimeout(refresh, 150); });
      source.onerror = () => {
        source.close();
        setTimeout(connect, backoff + Math.random() * backoff);
        backoff = Math.min(backoff * 2, 30000);
      };
    }
    connect();
  }
  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("[data-live]").forEach(follow));
})();
