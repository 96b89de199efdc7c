"""A task of the app's that looks for due work every `every` seconds, and at once when
woken (something changed in this process): the OA importers' schedule and the directory's
sources run on it. A round that fails (the database away) is logged and tried next time.

    class Imports(Periodic):
        name, every = "imports", 30.0
        async def due(self) -> None: ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger("signage.periodic")


class Periodic:
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

    async def due(self) -> None:
        raise NotImplementedError
