"""What screens report about themselves (heartbeats and acks), written in batches.

10,000 screens send a heartbeat a minute (167 writes a second), and a publish
brings two acks from each (received, applied) within a few seconds: 20,000
writes at once. One transaction per report would queue them all behind the
database's single writer (SQLite) and wake every open fleet page 20,000 times.

So reports are merged per screen while a write is under way, and each batch is
one transaction: an UPDATE per distinct set of columns, executed for all its
screens at once (executemany). A report's request returns once its batch is
committed, so an answered heartbeat is a stored one. One `screens` event per
batch tells the fleet pages (with the screen ids).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import bindparam, update

from player.models import Screen


class ScreenReports:
    """One per app (made in the lifespan): `await reports.save(screen_id, values, kind)`."""

    def __init__(self, db, bus) -> None:
        self.db, self.bus = db, bus
        self.pending: dict[int, dict] = {}
        self.kinds: set[str] = set()
        self.waiters: list[asyncio.Future] = []
        self.task: asyncio.Task | None = None

    async def save(self, screen_id: int, values: dict, kind: str) -> None:
        self.pending.setdefault(screen_id, {}).update(values)  # a later report of a screen wins
        self.kinds.add(kind)
        done = asyncio.get_running_loop().create_future()
        self.waiters.append(done)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._write(), name="signage-screen-reports")
        await done

    async def _write(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, {}
            kinds, self.kinds = self.kinds, set()
            waiters, self.waiters = self.waiters, []
            try:
                await self._store(batch)
            except Exception as exc:
                for w in waiters:
                    if not w.done():
                        w.set_exception(exc)
                continue
            for w in waiters:
                if not w.done():
                    w.set_result(None)
            data = {"type": "reports", "kinds": sorted(kinds), "screen_ids": sorted(batch)[:1000]}
            if len(kinds) == 1:
                data["type"] = next(iter(kinds))
            await self.bus.notify("screens", data)

    async def _store(self, batch: dict[int, dict]) -> None:
        by_columns: dict[tuple, list[dict]] = {}
        for screen_id, values in batch.items():
            columns = tuple(sorted(values))
            by_columns.setdefault(columns, []).append({"_id": screen_id, **{f"_{k}": v for k, v in values.items()}})
        table = Screen.__table__
        async with self.db.begin() as s:
            conn = await s.connection()
            for columns, rows in by_columns.items():
                statement = (
                    update(table)
                    .where(table.c.id == bindparam("_id"))
                    .values({c: bindparam(f"_{c}", type_=table.c[c].type) for c in columns})
                )
                await conn.execute(statement, rows)

    async def close(self) -> None:
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
