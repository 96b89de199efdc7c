"""Reminders: a notice to every attendee and the organizer SIGNAGE_REMINDER_MINUTES before
each confirmed meeting (none for one cancelled, rejected or still waiting for approval), or
as long before as a user chose for themself (`User.reminder_minutes`; 0: none).

    await reminders.scan(db, notices, minutes)   # by the outbox's worker, every SCAN_SECONDS

Each lead time in use (the site's, and every user's own) is scanned on its own: a scan
finds the meetings starting within the next `lead` minutes that have no `Reminder` row for
their start and that lead, and reminds those of their people reminded that long before. For each, and for each one, in one transaction, inserts that row (ON CONFLICT DO
NOTHING) and, only when the insert took, queues its messages. Two processes scanning at
once both find a meeting, but only one insert takes (on PostgreSQL the other waits for its
commit, then does nothing; SQLite has one writer at a time), so each reminder is queued
once. A meeting moved to a later start is reminded again before its new start.

A meeting booked, approved or moved when it was already that close gets none: its
invitation is the news. The `notify` consumer marks it reminded (`covered`) as it sends
that invitation, and a scan leaves alone what changed in the last SETTLE seconds, so the
consumer has seen the change first. Rows a day old are deleted.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import and_, delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite

from booking_api.models import Booking
from signage import clock
from signage.db import Database, utcnow
from signage.models import User
from signage.notify.models import Reminder

log = logging.getLogger("signage.notify")

SCAN_SECONDS = 20.0  # reminders are sent at most this late
SETTLE = dt.timedelta(seconds=3)
BATCH = 100
KEEP = dt.timedelta(days=1)


async def scan(db: Database, notices, minutes: int) -> int:
    """Queue the reminders now due; returns how many messages were queued."""
    now = clock.now()
    queued = 0
    async with db.begin() as s:
        for lead in await leads(s, minutes):
            window = now + dt.timedelta(minutes=lead)
            reminded = exists().where(
                Reminder.booking_id == Booking.id, Reminder.start_at == Booking.start_at, Reminder.minutes == lead
            )
            query = (
                select(Booking)
                .where(Booking.status == "confirmed", Booking.ends_after(now), Booking.start_at > now)
                .where(Booking.start_at <= window, Booking.updated_at < utcnow() - SETTLE, ~reminded)
                .order_by(Booking.start_at)
                .limit(BATCH)
            )
            for b in (await s.scalars(query)).all():
                if not await mark(s, b.id, b.start_at, lead, now):
                    continue  # another process reminded it meanwhile
                count = await notices.reminder(s, b, now, lead)
                await s.execute(
                    Reminder.__table__.update()
                    .where(and_(Reminder.booking_id == b.id, Reminder.start_at == b.start_at, Reminder.minutes == lead))
                    .values(queued=count)
                )
                queued += count
        await s.execute(delete(Reminder).where(Reminder.start_at < now - KEEP))
    return queued


async def leads(s, minutes: int) -> list[int]:
    """The lead times in use: the site's (`minutes`, 0: none) and each user's own."""
    own = (
        await s.scalars(
            select(User.reminder_minutes).where(User.reminder_minutes > 0, User.is_active.is_(True)).distinct()
        )
    ).all()
    return sorted({*own, *([minutes] if minutes > 0 else [])})


async def mark(s, booking_id: int, start_at: dt.datetime, lead: int, now: dt.datetime) -> bool:
    """Insert the meeting's Reminder row for this start and lead; False when there was one."""
    insert = postgresql.insert if s.bind.dialect.name == "postgresql" else sqlite.insert
    row = {"booking_id": booking_id, "start_at": start_at, "minutes": lead, "queued": 0, "at": now}
    took = await s.execute(insert(Reminder).values(row).on_conflict_do_nothing())
    return took.rowcount == 1


async def covered(s, events, minutes: int) -> None:
    """The consumer's part: a meeting confirmed, approved or moved to within `minutes` of
    its start needs no reminder (its invitation or update says it all)."""
    wanted = [
        e
        for e in events
        if e.type in ("booking.created", "booking.approved", "booking.updated") and e.data["status"] == "confirmed"
    ]
    if not wanted:
        return
    now = clock.now()
    for lead in await leads(s, minutes):
        for e in wanted:
            start = dt.datetime.fromisoformat(e.data["start"])
            if now < start <= now + dt.timedelta(minutes=lead):
                await mark(s, e.data["id"], start, lead, now)
