"""The services a meeting wants (tea, projector, catering…) as a task on the desk board,
SIGNAGE_SERVICE_LEAD_MINUTES before it starts (SPEC B9 3).

- `before_meetings(db, now, lead)`, from the room timer's tick (in every process): each
  confirmed meeting with services that starts within `lead` (or began at most PAST_GRACE
  ago) and has no task for its current start gets one: kind `other`, origin
  `booking_services`, its services as the note, event `service_call.created`. The unique
  (`before_booking_id`, `before_start_at`) and an insert that does nothing on conflict make it
  one task however many processes tick at once. The timer wakes for it: `lead_times`.
- A meeting moved to another time gets its task at its new time (its start is part of the
  key). The task of its old time, and that of a meeting cancelled, rejected or released,
  is withdrawn by the `desk` consumer (`withdrawn`): status `cancelled`, event
  `service_call.cancelled`. Pending meetings get none until approved.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite

from booking_api.bookings.rules import PAST_GRACE
from booking_api.desk.models import ServiceTask
from booking_api.models import Booking, Room
from signage import clock
from signage.eventlog import log as eventlog

ORIGIN = "booking_services"


def note_of(services) -> str:
    return ", ".join(str(x).strip() for x in services or () if str(x).strip())[:500]


def lead_times(start: dt.datetime, services, lead_minutes: int) -> list[dt.datetime]:
    """When the room timer must wake for this meeting's services (none without services)."""
    return [start - dt.timedelta(minutes=lead_minutes)] if note_of(services) else []


async def before_meetings(db, now: dt.datetime, lead_minutes: int) -> int:
    """Tasks for the services of the meetings due by `now`; how many this process made."""
    lead = dt.timedelta(minutes=lead_minutes)
    has_task = exists().where(
        ServiceTask.before_booking_id == Booking.id, ServiceTask.before_start_at == Booking.start_at
    )
    async with db.session() as s:
        due = (
            await s.execute(
                select(Booking.id, Booking.room_id, Booking.start_at, Booking.services).where(
                    Booking.status == "confirmed",
                    Booking.start_at <= now + lead,
                    Booking.start_at > now - PAST_GRACE,
                    Booking.end_at > now - PAST_GRACE,  # implied; lets ix_bookings_end_at skip history
                    ~has_task,
                )
            )
        ).all()
    made = 0
    for booking_id, room_id, start_at, services in due:
        if not note_of(services):
            continue
        async with db.begin() as s:
            made += await ensure_services(s, booking_id, room_id, start_at, services)
    return made


async def ensure_services(s, booking_id: int, room_id: int, start_at: dt.datetime, services) -> bool:
    """The task for meeting `booking_id` starting at `start_at`, unless it has one (any process);
    with its event, recorded after the insert. True when this made it."""
    room = await s.get(Room, room_id)
    if room is None:
        return False
    row = {
        "room_id": room_id,
        "kind": "other",
        "note": note_of(services),
        "origin": ORIGIN,
        "status": "open",
        "before_booking_id": booking_id,
        "before_start_at": start_at,
        "created_at": clock.now(),
        "accepted_by": "",
        "done_by": "",
    }
    insert = postgresql.insert if s.bind.dialect.name == "postgresql" else sqlite.insert
    keys = ["before_booking_id", "before_start_at"]
    made = await s.execute(insert(ServiceTask).values(row).on_conflict_do_nothing(index_elements=keys))
    if made.rowcount != 1:
        return False
    task = await s.scalar(
        select(ServiceTask).where(ServiceTask.before_booking_id == booking_id, ServiceTask.before_start_at == start_at)
    )
    await eventlog.record(s, "service_call.created", f"service_call:{task.id}", task.as_json(room.name), "system")
    return True


async def withdrawn(s, booking_ids) -> list[tuple[str, dict]]:
    """Withdraw the open or accepted service tasks of these meetings that no longer stand
    (not confirmed, or moved to another start): their events to record, (subject, data)."""
    ids = sorted(set(booking_ids))
    if not ids:
        return []
    found = (
        await s.execute(
            select(ServiceTask, Booking.status, Booking.start_at, Room.name)
            .outerjoin(Booking, Booking.id == ServiceTask.before_booking_id)
            .join(Room, Room.id == ServiceTask.room_id)
            .where(
                ServiceTask.before_booking_id.in_(ids),
                ServiceTask.origin == ORIGIN,
                ServiceTask.status.in_(("open", "accepted")),
            )
            .order_by(ServiceTask.id)
        )
    ).all()
    out = []
    now = clock.now()
    for task, status, start_at, room_name in found:
        if status == "confirmed" and start_at == task.before_start_at:
            continue
        task.status, task.done_at = "cancelled", now
        out.append((f"service_call:{task.id}", task.as_json(room_name)))
    await s.flush()
    return out
