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
  "version"}` on `screen:<id>`), it gets an `event: layout` frame: the version's one
  rendering of the process (`player.rendered`), with `next_check` when one of its items
  starts or stops being valid later (the player looks again then, as it does for a state);
- on anything else (claimed, assigned, a schedule change, a Redis `resync`)
  the screen's full state is read again.

`ScreenSession` decides what each event becomes for its screen; `ScreenStream` is the ASGI
response that subscribes, pings and sends.

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
import weakref

from starlette.types import Receive, Scope, Send

PING_SECONDS = 15
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
]
PING = b": ping\n\n"
STOP = ("", {"type": "_stop"})
SLOW = object()  # ScreenSession.quick(): "ask answer()"

_streams: weakref.WeakSet = weakref.WeakSet()
_pinger: asyncio.Task | None = None


def frame(event: str, data: dict | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event}\ndata: {text}\n\n".encode()


REVOKED = frame("revoked", "{}")


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


class ScreenSession:
    """One connected screen: what it shows (`have`, as the player says it with `?have=`:
    "<layout>:<version>") and what each event on its channel becomes for it.

    `states.load(screen_id)` reads a screen's state (None: it is gone); `renderings` is
    the process's `player.rendered.Renderings`.
    """

    __slots__ = ("screen_id", "have", "states", "renderings")

    def __init__(self, screen_id: int, have: str, states, renderings):
        self.screen_id, self.have, self.states, self.renderings = screen_id, have, states, renderings

    async def first(self) -> bytes:
        """What follows `hello` (read once subscribed, so a change since is not missed):
        the state when the screen shows something else than it has, else nothing."""
        current = await self.states.load(self.screen_id)
        if current is None:
            return REVOKED
        have, self.have = self.have, shows(current)
        return b"" if have and self.have == have else frame("state", current)

    def quick(self, data: dict):
        """`answer` without waiting when that needs no reading or rendering (a publish of
        the layout shown, its rendering at hand); SLOW when it does."""
        key = self._new_version(data)
        if key is None:
            return SLOW
        if key == self.have:
            return None
        rendering = self.renderings.ready(data["layout_id"], data["version"])
        if rendering is None:
            return SLOW
        self.have = key
        return rendering.frame()

    async def answer(self, data: dict) -> bytes | None:
        """A publish of the layout shown: its `layout` frame (None: the screen has it);
        anything else: the screen's state read again."""
        key = self._new_version(data)
        if key is not None:
            if key == self.have:
                return None
            rendering = await self.renderings.get(data["layout_id"], data["version"])
            if rendering is not None:
                self.have = key
                return rendering.frame()
        current = await self.states.load(self.screen_id)
        if current is None:
            return REVOKED
        self.have = shows(current)
        return frame("state", current)

    def _new_version(self, data: dict) -> str | None:
        """ "<layout>:<version>" when `data` publishes a version of the layout this screen shows."""
        layout, version = data.get("layout_id"), data.get("version")
        if data.get("type") != "layout" or type(layout) is not int or type(version) is not int:
            return None
        return f"{layout}:{version}" if self.have.partition(":")[0] == str(layout) else None


def shows(state: dict) -> str:
    """What a state puts on the screen, as the player says it with `?have=`: "<layout>:<version>"."""
    layout = state.get("layout")
    return f"{layout['id']}:{layout['version']}" if layout else ""


class ScreenStream:
    """An ASGI response: the stream of one screen, its events made by its `ScreenSession`."""

    __slots__ = ("bus", "session", "sub", "__weakref__")

    def __init__(self, bus, session: ScreenSession):
        self.bus, self.session, self.sub = bus, session, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self.bus.subscribe(f"screen:{self.session.screen_id}") as sub:
            self.sub = sub
            _streams.add(self)
            _ensure_pinger()
            watcher = asyncio.get_running_loop().create_task(self._watch(receive))
            try:
                await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
                hello = b"retry: 2000\n\n" + frame("hello", "{}") + await self.session.first()
                await send({"type": "http.response.body", "body": hello, "more_body": True})
                if hello.endswith(REVOKED):
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
        session = self.session
        async for _channel, data in self.sub:
            kind = data.get("type")
            if kind == "_stop":
                return
            if kind == "_ping":
                body = PING
            elif kind == "revoked":
                await send({"type": "http.response.body", "body": REVOKED, "more_body": True})
                return
            elif kind == "reload":
                body = frame("reload", "{}")
            elif kind == "identify":
                body = frame("identify", {"name": data.get("name", "")})
            else:
                body = session.quick(data)
                if body is SLOW:  # not ready at hand: read or render it
                    body = await session.answer(data)
                if body is None:
                    continue
            await send({"type": "http.response.body", "body": body, "more_body": True})
