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

from collections.abc import Awaitable

from sqlalchemy import bindparam, update

from player.models import Screen
from signage import topics
from signage.batching import Batches

KINDS = {kind: frozenset((kind,)) for kind in ("heartbeat", "ack")}


class ScreenReports:
    """One per app (made in the lifespan): `await reports.save(screen_id, values, kind)`."""

    def __init__(self, db, bus) -> None:
        self.db, self.bus = db, bus
        self.batches = Batches(self._store, merge=_merge, after=self._announce, name="signage-screen-reports")

    def save(self, screen_id: int, values: dict, kind: str) -> Awaitable[None]:
        """Stored once the batch that takes it is committed (a later report of a screen wins)."""
        return self.batches.submit(screen_id, (dict(values), KINDS.get(kind) or frozenset((kind,))))

    async def _announce(self, batch: dict[int, tuple[dict, frozenset]]) -> None:
        kinds = frozenset().union(*(k for _values, k in batch.values()))
        why = next(iter(kinds)) if len(kinds) == 1 else "reports"
        await self.bus.notify_many(topics.screens_changed(why, kinds=sorted(kinds), screen_ids=sorted(batch)[:1000]))

    async def _store(self, batch: dict[int, tuple[dict, frozenset]]) -> None:
        by_columns: dict[tuple, list[dict]] = {}
        for screen_id, (values, _kinds) in batch.items():
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
        await self.batches.close()


def _merge(old: tuple[dict, frozenset], new: tuple[dict, frozenset]) -> tuple[dict, frozenset]:
    """Two reports of one screen waiting for the same batch: the later one's values win."""
    old[0].update(new[0])
    return old[0], old[1] | new[1]
