"""Two ways many concurrent requests share work, each written once.

`TimedCache`: values by key, made once however many ask at the same moment (single
flight), kept for a time limit (counted from when making began, so what a value was read
from is never older than the limit) or until the moment the value says it stops being
right, whichever comes first. A failure is not kept: everyone who waited for it gets the
exception, and the next asker tries again.

    users = TimedCache(seconds=5, size=10_000)
    user = await users.get(("user", 7), lambda: read_user(7))

`Batches`: requests by key; the ones made while a batch runs wait, then go together in
the next batch (a burst of 10,000 becomes a few dozen queries). Requests for one key
while it waits are merged (`merge(old, new)`, default: the newer value wins) and all get
the key's result; a failing batch fails each of its requests, and the next batch runs.

    loader = Batches(lambda batch: read_screens(list(batch)), limit=500)
    screen = await loader.submit(screen_id)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

Make = Callable[[], Awaitable[Any]]


def _fail(future: asyncio.Future, exc: BaseException) -> None:
    if future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(exc)
        future.exception()  # retrieved: no "never retrieved" warning when nobody else waited


class TimedCache:
    """Single-flight values with a time limit; `until(value)`, if given, is the monotonic
    time at which a value stops being right (None: only the time limit applies). At most
    `size` values are kept (the oldest go first)."""

    def __init__(self, seconds: float, size: int, until: Callable[[Any], float | None] | None = None):
        self.seconds, self.size, self.until = seconds, size, until
        self.items: dict[Hashable, tuple[float, Any]] = {}  # key: (expires, value)
        self.flights: dict[Hashable, asyncio.Future] = {}
        self.generation = 0  # clear() forgets values being made too

    def ready(self, key: Hashable, default: Any = None) -> Any:
        """The value of `key` if it is made and fresh; else `default` (never waits)."""
        hit = self.items.get(key)
        if hit is None:
            return default
        if hit[0] <= time.monotonic():
            del self.items[key]
            return default
        return hit[1]

    async def get(self, key: Hashable, make: Make) -> Any:
        hit = self.items.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        flight = self.flights.get(key)
        if flight is not None:
            return await asyncio.shield(flight)
        started, generation = time.monotonic(), self.generation
        future = self.flights[key] = asyncio.get_running_loop().create_future()
        try:
            value = await make()
        except BaseException as exc:
            _fail(future, exc)
            raise
        finally:
            if self.flights.get(key) is future:
                del self.flights[key]
        if generation == self.generation:
            self._keep(key, value, started)
        future.set_result(value)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        """Keep `value` as if it had just been made."""
        self._keep(key, value, time.monotonic())

    def drop(self, key: Hashable) -> None:
        self.items.pop(key, None)

    def clear(self) -> None:
        """Forget every value, and do not keep those being made now (their answers may be stale)."""
        self.items.clear()
        self.generation += 1

    def _keep(self, key: Hashable, value: Any, started: float) -> None:
        expires = started + self.seconds
        stops = self.until(value) if self.until is not None else None
        if stops is not None:
            expires = min(expires, stops)
        self.items.pop(key, None)  # re-inserted: the newest goes last
        self.items[key] = (expires, value)
        while len(self.items) > self.size:
            del self.items[next(iter(self.items))]


class Batches:
    """`run(batch)` handles one batch: `batch` maps each key to its (merged) value and
    returns {key: result} (a key left out, or None returned: the result is None). After
    each batch's requests are answered, `after(batch)`, if given, is awaited (to announce
    what the batch did) before the next batch starts. `limit`: keys per batch (None: all)."""

    def __init__(
        self,
        run: Callable[[dict], Awaitable[dict | None]],
        limit: int | None = None,
        merge: Callable[[Any, Any], Any] | None = None,
        after: Callable[[dict], Awaitable[None]] | None = None,
        name: str = "signage-batches",
    ):
        self.run, self.limit, self.merge, self.after, self.name = run, limit, merge, after, name
        self.pending: dict[Hashable, Any] = {}
        self.waiting: dict[Hashable, list[asyncio.Future]] = {}
        self.task: asyncio.Task | None = None

    async def submit(self, key: Hashable, value: Any = None) -> Any:
        """The key's result from the next batch that takes it."""
        if key in self.pending and self.merge is not None:
            value = self.merge(self.pending[key], value)
        self.pending[key] = value
        done = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(key, []).append(done)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._work(), name=self.name)
        return await done

    async def _work(self) -> None:
        while self.pending:
            keys = list(self.pending) if self.limit is None else list(self.pending)[: self.limit]
            batch = {k: self.pending.pop(k) for k in keys}
            waiting = {k: self.waiting.pop(k) for k in keys}
            try:
                found = await self.run(batch) or {}
            except BaseException as exc:
                for futures in waiting.values():
                    for f in futures:
                        _fail(f, exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for k, futures in waiting.items():
                result = found.get(k)
                for f in futures:
                    if not f.done():
                        f.set_result(result)
            if self.after is not None:
                await self.after(batch)

    async def close(self) -> None:
        """Wait for the batch under way (and those queued behind it) to finish."""
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


class BatchLoader(Batches):
    """Loads by key, many keys in one query: `fetch(keys)` → {key: value} (a key left
    out: None). The keys asked for while a query runs wait for it and then go together
    in the next one (a heartbeat from each of 10,000 screens: a few hundred queries a
    minute instead of 10,000)."""

    def __init__(self, fetch: Callable[[list], Awaitable[dict]], limit: int = 500):
        super().__init__(lambda batch: fetch(list(batch)), limit=limit, name="signage-batch-loader")

    def load(self, key: Hashable) -> Awaitable[Any]:
        """The value of `key` (None: not found), from the next query that takes it."""
        return self.submit(key)
