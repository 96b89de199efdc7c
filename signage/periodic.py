"""The app's background loops, in every process:

- `Periodic`: looks for due work every `every` seconds, and at once when woken (something
  changed in this process): the OA importers' schedule, the directory's sources.
- `Worker`: rounds of leased work (the notification outbox, webhook deliveries): a round
  that says more may be due is followed at once, else the next comes after `poll` seconds
  or a wake; `stop()` lets the round in hand finish (at most 10 s) before cancelling it.
  `leased(Model, now)` is the condition of rows due and not leased to another process.

A round that fails (the database away) is logged and tried next time.

    class Imports(Periodic):
        name, every = "imports", 30.0
        async def due(self) -> None: ...
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import datetime as dt
import logging

from sqlalchemy import and_, or_, update

log = logging.getLogger("signage.periodic")


class Periodic(abc.ABC):
    name = "periodic"
    every = 60.0
    wait_first = False  # True: the first round comes after `every` seconds (or a wake), not at start

    def __init__(self, app) -> None:
        self.app, self.task = app, None
        self.woken: asyncio.Event | None = None

    async def start(self) -> None:
        self.woken = asyncio.Event()
        self.task = asyncio.create_task(self.loop(), name=f"signage-{self.name}")

    def wake(self) -> None:
        if self.woken is not None:
            self.woken.set()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def loop(self) -> None:
        if self.wait_first:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), self.every)
            self.woken.clear()
        while True:
            try:
                await self.due()
            except Exception:  # the database is away: next time
                log.warning("%s: a round failed", self.name, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), self.every)
            self.woken.clear()

    @abc.abstractmethod
    async def due(self) -> None:
        """Start the work that is due now."""

    async def claim(self, key, next_column, next_at: dt.datetime | None, now: dt.datetime, minutes: int) -> bool:
        """Take a scheduled run by moving its row's `next_column` from `next_at` (as read) to
        `minutes` on, in one UPDATE: when two processes read the same `next_at`, one wins."""
        same = next_column.is_(None) if next_at is None else next_column == next_at
        async with self.app.state.db.begin() as s:
            moved = await s.execute(
                update(next_column.class_).where(key, same).values({next_column.key: now + dt.timedelta(minutes=minutes)})
            )
        return moved.rowcount == 1


def leased(model, now: dt.datetime):
    """Rows of `model` (state, next_at, claimed_until) to send now: queued, or sending under
    a lease that has run out (its process stopped or died)."""
    return and_(
        model.state.in_(("queued", "sending")),
        model.next_at <= now,
        or_(model.claimed_until.is_(None), model.claimed_until < now),
    )


class Worker(abc.ABC):
    name = "worker"
    poll = 1.0
    STOP_SECONDS = 10.0

    def __init__(self) -> None:
        self.woken = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.stopping = False

    def wake(self) -> None:
        self.woken.set()

    async def start(self) -> None:
        self.task = asyncio.create_task(self.run(), name=f"signage-{self.name}")

    async def stop(self) -> None:
        if self.task is None:
            return
        self.stopping = True
        self.woken.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), self.STOP_SECONDS)
        except TimeoutError:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.task = None

    async def run(self) -> None:
        while not self.stopping:
            self.woken.clear()
            try:
                more = await self.round()
            except Exception:  # the database is away: try again on the next round
                log.warning("%s: a round failed", self.name, exc_info=True)
                more = False
            if not more and not self.stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.woken.wait(), self.poll)

    @abc.abstractmethod
    async def round(self) -> bool:
        """One round of work; True when more may be due at once."""
