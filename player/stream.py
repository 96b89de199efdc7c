"""The screen stream: one lean Server-Sent Events response per connected screen.

Decision (measured in `bench/fleet.py`): the screen stream does not use
sse-starlette. Its `EventSourceResponse` runs a task group of four tasks per
connection (about 44 KB each at 10,000 screens); here a connection is the
handler coroutine plus one small task that waits for the disconnect, and pings
come from one task per process for all screens. sse-starlette stays for the
admin pages, where there are few connections.

What goes down the stream is the screen's state itself (`event: state`), so a
publish reaches 10,000 screens without 10,000 requests back:

- on connect the screen says what it shows (`?have=<layout>:<version>`); the
  server answers with its state if that differs (catch-up after any absence);
- on a publish of the layout a screen shows (`{"type": "layout", "layout_id",
  "version"}` on `screen:<id>`), the rendered layout is taken from a cache
  shared by every stream of the process (rendered once per layout version);
- on anything else (claimed, assigned, a schedule change, a Redis `resync`)
  the screen's full state is read again.

Other events: `reload`, `identify` (data: the name) and `revoked` (the stream ends).

Measured with `bench/fleet.py` (10,000 screens, 2 shared cores, PostgreSQL): about 28 KB
of server memory per connected screen (a bare ASGI stream: 15 KB); publish → every screen
holds the new version in p99 0.7-0.9 s on one process, 0.7-0.8 s on two behind Redis.
Two things mattered most: the GC thresholds set in `signage.app` (with the defaults, full
collections over millions of long-lived objects stalled the loop for seconds) and sending a
publish to Redis pipelined (`EventBus.notify_many`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import weakref
from collections.abc import Awaitable, Callable

from starlette.types import Receive, Scope, Send

PING_SECONDS = 15
CACHE_SECONDS = 30  # widget data inside a rendered layout is at most this old when sent by the fast path
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
]
PING = b": ping\n\n"
STOP = ("", {"type": "_stop"})
SLOW = object()  # quick(): "ask answer()"

_streams: weakref.WeakSet = weakref.WeakSet()
_pinger: asyncio.Task | None = None


def frame(event: str, data: dict | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\ndata: {text}\n\n".encode()


class LayoutCache:
    """Rendered layouts by (layout id, version), shared by every stream of a process.

    Concurrent askers of one key wait for one rendering.
    """

    def __init__(self, seconds: float = CACHE_SECONDS, size: int = 64):
        self.seconds, self.size = seconds, size
        self.items: dict[tuple, tuple[float, asyncio.Future]] = {}

    def ready(self, key: tuple):
        """The value of `key` if it is made, fresh and not an error; else None."""
        hit = self.items.get(key)
        if hit is None or time.monotonic() - hit[0] >= self.seconds or not hit[1].done():
            return None
        return None if hit[1].exception() is not None else hit[1].result()

    async def get(self, key: tuple, make: Callable[[], Awaitable[dict | None]]) -> dict | None:
        now = time.monotonic()
        hit = self.items.get(key)
        if hit is not None and now - hit[0] < self.seconds:
            if hit[1].done():
                return hit[1].result()
            return await asyncio.shield(hit[1])
        future = asyncio.get_running_loop().create_future()
        self.items[key] = (now, future)
        while len(self.items) > self.size:
            self.items.pop(next(iter(self.items)))
        try:
            future.set_result(await make())
        except Exception as exc:
            self.items.pop(key, None)
            future.set_exception(exc)
            future.exception()  # marks it retrieved; the caller gets the exception below
            raise
        return future.result()


async def _ping_all() -> None:
    while True:
        await asyncio.sleep(PING_SECONDS)
        for stream in list(_streams):
            stream.sub.put(("", {"type": "_ping"}))


def _ensure_pinger() -> None:
    global _pinger
    loop = asyncio.get_running_loop()
    if _pinger is None or _pinger.done() or _pinger.get_loop() is not loop:
        _pinger = loop.create_task(_ping_all(), name="signage-screen-pings")


class ScreenStream:
    """An ASGI response. `first()`: the bytes sent after `hello` (read once subscribed, so
    nothing published meanwhile is missed); `answer(event)`: the bytes an event becomes (an
    encoded `state` or `layout` frame), or None to send nothing; `quick(event)`, if given,
    the same without waiting, or SLOW when that needs `answer` (a publish to 10,000
    screens of a frame encoded already costs no coroutine per screen)."""

    def __init__(
        self,
        bus,
        screen_id: int,
        first: Callable[[], Awaitable[bytes]],
        answer: Callable[[dict], Awaitable[bytes | None]],
        quick: Callable[[dict], object] | None = None,
    ):
        self.bus, self.screen_id, self.first, self.answer = bus, screen_id, first, answer
        self.quick = quick
        self.sub = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self.bus.subscribe(f"screen:{self.screen_id}") as sub:
            self.sub = sub
            _streams.add(self)
            _ensure_pinger()
            watcher = asyncio.get_running_loop().create_task(self._watch(receive))
            try:
                await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
                hello = b"retry: 2000\n\n" + frame("hello", "{}") + await self.first()
                await send({"type": "http.response.body", "body": hello, "more_body": True})
                if hello.endswith(frame("revoked", "{}")):
                    return
                await self._loop(send)
            finally:
                watcher.cancel()
                _streams.discard(self)
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.sub.put(STOP)

    async def _loop(self, send: Send) -> None:
        async for _channel, data in self.sub:
            kind = data.get("type")
            if kind == "_stop":
                return
            if kind == "_ping":
                body = PING
            elif kind == "revoked":
                await send({"type": "http.response.body", "body": frame("revoked", "{}"), "more_body": True})
                return
            elif kind == "reload":
                body = frame("reload", "{}")
            elif kind == "identify":
                body = frame("identify", {"name": data.get("name", "")})
            else:
                body = self.quick(data) if self.quick is not None else SLOW
                if body is SLOW:  # not ready at hand: read or render it
                    body = await self.answer(data)
                if body is None:
                    continue
            await send({"type": "http.response.body", "body": body, "more_body": True})
