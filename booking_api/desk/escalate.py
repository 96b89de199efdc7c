"""Escalation: a service call nobody accepted within SIGNAGE_SERVICE_ESCALATE_MINUTES is
escalated once: `service_call.escalated` is written (the desks alert again, the service
staff get an email through the notification outbox: `follow.py`).

`Escalator` is one task per process, started in the app's lifespan. It sleeps until the
oldest open call's deadline (at most MAX_SLEEP), woken by new calls (`service`) and by the
test clock (`clock`). Processes race with a conditional UPDATE: one escalates, the others
change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from sqlalchemy import func, select, update

from booking_api.desk.models import ServiceTask
from booking_api.models import Room
from signage import clock
from signage.eventlog import log as eventlog

log = logging.getLogger("signage.desk")

MAX_SLEEP = 60.0


def waiting():
    return (ServiceTask.status == "open", ServiceTask.origin != "meeting_end", ServiceTask.escalated_at.is_(None))


async def escalate_due(db, minutes: int, now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Escalate the calls due by `now`; (how many this process escalated, the next deadline)."""
    limit = dt.timedelta(minutes=minutes)
    async with db.session() as s:
        due = (await s.scalars(select(ServiceTask.id).where(*waiting(), ServiceTask.created_at <= now - limit))).all()
    made = 0
    for task_id in due:
        async with db.begin() as s:
            changed = await s.execute(
                update(ServiceTask).where(ServiceTask.id == task_id, *waiting()).values(escalated_at=now)
            )
            if changed.rowcount != 1:
                continue  # accepted meanwhile, or another process was first
            task = await s.get(ServiceTask, task_id, populate_existing=True)
            room = await s.get(Room, task.room_id)
            data = {**task.as_json(room.name if room else ""), "minutes": minutes}
            await eventlog.record(s, "service_call.escalated", f"service_call:{task.id}", data, "system")
            made += 1
    async with db.session() as s:
        oldest = await s.scalar(select(func.min(ServiceTask.created_at)).where(*waiting()))
    return made, (oldest + limit if oldest else None)


class Escalator:
    def __init__(self, app) -> None:
        self.app = app
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        if self.app.state.settings.service_escalate_minutes > 0:
            self.task = asyncio.create_task(self.run(), name="signage-desk-escalator")

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    async def run(self) -> None:
        state = self.app.state
        minutes = state.settings.service_escalate_minutes
        async with state.bus.subscribe("service", "clock") as sub:
            while True:
                try:
                    _made, deadline = await escalate_due(state.db, minutes, clock.now())
                    delay = MAX_SLEEP
                    if deadline is not None:
                        delay = min(max((deadline - clock.now()).total_seconds(), 0) + 0.05, MAX_SLEEP)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database may be away; try again soon
                    log.exception("service desk escalation")
                    delay = 5.0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sub.__anext__(), delay)
                while not sub.queue.empty():
                    sub.queue.get_nowait()
