// The player's service worker (scope /player): the player keeps starting and
// playing while the server is away. The shell is served network-first (updates
// arrive at once), media cache-first (a media file's name is its content hash).
// The stream and the screen's API calls are never cached: the player keeps its
// last state itself (localStorage), which also covers origins without service workers.
"use strict";
const CACHE = "signage-player-1";
const SHELL = ["/player", "/static/player/player.js", "/static/player/player.css", "/static/widgets/widgets.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim())
  );
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) cache.put(request.url.split("?")[0], response.clone());
    return response;
  } catch (e) {
    const hit = await cache.match(request, { ignoreSearch: true });
    if (hit) return hit;
    throw e;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || request.headers.has("range")) return;
  if (url.pathname.startsWith("/media/files/")) event.respondWith(cacheFirst(request));
  else if (SHELL.includes(url.pathname)) event.respondWith(networkFirst(request));
});

// The player says which media its layout uses: those are cached (also when they were
// fetched before this worker took over), other cached media are dropped.
self.addEventListener("message", (event) => {
  const keep = new Set((event.data && event.data.keep) || []);
  event.waitUntil(caches.open(CACHE).then(async (cache) => {
    const have = new Set();
    for (const request of await cache.keys()) {
      const path = new URL(request.url).pathname;
      if (!path.startsWith("/media/files/")) continue;
      if (keep.has(path)) have.add(path);
      else await cache.delete(request);
    }
    await Promise.all([...keep].filter((p) => !have.has(p)).map((p) => cache.add(p).catch(() => {})));
  }));
});
