"""Running a source: its settings read, its snapshot taken, the sync recorded; on demand
(the admin page) and on a schedule, in every process: a run is claimed by moving the
source's `next_run_at` on (one UPDATE, so two processes never take the same run)."""

from __future__ import annotations

import json
import logging

import httpx
from sqlalchemy import select

from signage import clock
from signage.db import utcnow
from signage.directory import sync
from signage.directory.models import Source
from signage.directory.sources import SOURCES
from signage.notify.channels.base import Conf
from signage.periodic import Periodic

log = logging.getLogger("signage.directory")
CHECK_SECONDS = 60.0


def conf_of(row: Source | None, name: str) -> Conf:
    """A source's settings (also OpenID Connect's, kept in the same table)."""
    default = SOURCES[name].base_url if name in SOURCES else ""
    values = json.loads(row.config) if row is not None and row.config else {}
    return Conf((row.base_url if row is not None else "") or default, values)


async def load(db, name: str) -> tuple[Source | None, Conf]:
    async with db.session() as s:
        row = await s.get(Source, name)
    return row, conf_of(row, name)


def forget_users(app) -> None:
    """Who was deactivated is signed out now, not in a few seconds (signage.auth.recent_users)."""
    cache = getattr(app.state, "recent_users", None)
    if cache is not None:
        cache.clear()


async def run_source(app, name: str, dry_run: bool = False, by: str = "") -> tuple[sync.Plan | None, int, str]:
    """(plan, run id, error): a source that cannot be read is a failed run saying why."""
    started = utcnow()
    _row, conf = await load(app.state.db, name)
    module = SOURCES[name]
    try:
        async with httpx.AsyncClient(timeout=15.0) as http:
            snapshot = await module.snapshot(http, conf)
    except Exception as exc:  # the source is away or refuses: recorded, never raised
        message = f"{type(exc).__name__}: {exc}"[:500]
        run_id = await sync.record_failure(app.state.db, name, message, dry_run, by, started)
        return None, run_id, message
    out, run_id = await sync.run(app.state.db, name, snapshot, dry_run=dry_run, by=by)
    if out.deactivate and not dry_run:
        forget_users(app)
    return out, run_id, ""


class Schedule(Periodic):
    """Runs each enabled source every `every_minutes` (0: on demand only)."""

    name, every = "directory", CHECK_SECONDS
    wait_first = True  # no query while an app starts (a source due then runs within a minute)

    async def due(self) -> None:
        db, now = self.app.state.db, clock.now()
        async with db.session() as s:
            found = (
                await s.execute(
                    select(Source.name, Source.every_minutes, Source.next_run_at).where(
                        Source.enabled.is_(True), Source.every_minutes > 0
                    )
                )
            ).all()
        for name, every, next_at in found:
            if name not in SOURCES or (next_at is not None and next_at > now):
                continue
            if await self.claim(Source.name == name, Source.next_run_at, next_at, now, every):
                await run_source(self.app, name, by="schedule")
