"""Walk-up booking on the door screen (SPEC B5): book the room now, until the next meeting.

Two taps: "Book now" shows until when (`roomstate.load_status` works that out: the
next booking less the room's buffer, closing time, the room's longest booking, at
most an hour); "Confirm" books it. Someone is standing there, so it is checked in. Rooms whose
bookings need approval take no walk-ups (nobody approves at the door).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request

from booking_api.bookings import changes, rules
from booking_api.desk.tasks import walkup_waits
from booking_api.doors.checkin import said
from booking_api.doors.roomstate import load_status
from booking_api.models import Booking, CheckIn
from booking_api.rooms.rooms import get_room
from signage import clock
from signage.errors import Conflict, Invalid
from signage.i18n import gettext as _

SHORTEST = dt.timedelta(minutes=5)


async def walk_up(request: Request, room_id: int, until: dt.datetime | None = None) -> dict:
    now, settings = clock.now(), request.app.state.settings
    start = now.replace(microsecond=0)
    try:
        async with request.app.state.db.begin() as s:
            room = await get_room(s, room_id)
            rules.check_in_service(room)
            status = await load_status(s, room, now, settings)
            if status["current"] is not None:
                raise Conflict(_("%(room)s is in use.", room=room.name))
            if room.needs_approval:
                raise Conflict(_("%(room)s needs approval: please book it ahead.", room=room.name))
            limit = status["walkup_until_at"]
            if limit is None and status["condition"] != "clean" and await walkup_waits(s, room.id, status["condition"]):
                raise Conflict(_("%(room)s is waiting to be cleaned: book it when it is clean.", room=room.name))
            if limit is None:
                raise Conflict(_("%(room)s is not free long enough to book now.", room=room.name))
            end = min(until, limit) if until else limit
            if end - start < SHORTEST:
                raise Invalid(_("A walk-up booking lasts at least 5 minutes."), {"field": "until"})
            if not rules.within_open_hours(room, start, end, ZoneInfo(settings.timezone)):
                raise Conflict(_("%(room)s is closed now.", room=room.name))
            if await rules.conflicts(s, room.id, start, rules.blocked_until(room, end)):
                raise Conflict(_("%(room)s is not free long enough to book now.", room=room.name))
            b = Booking(
                room_id=room.id,
                title=_("Walk-up meeting"),
                organizer_id=None,
                start_at=start,
                end_at=end,
                blocked_until=rules.blocked_until(room, end),
                status="confirmed",
            )
            s.add(b)
            await s.flush()
            s.add(CheckIn(booking_id=b.id, at=now, via="walkup"))
            walked = {"walk_up": True, "check_in": {"at": now.isoformat(), "via": "walkup"}}
            how = said(request, "door")
            await changes.record(s, "booking.created", [b.id], request, walked, reason=how, action="booking.walk_up")
    except IntegrityError:
        raise Conflict(_("%(room)s is not free long enough to book now.", room=room_id)) from None
    return {"booking_id": b.id, "room_id": room_id, "start": b.start_at.isoformat(), "end": b.end_at.isoformat()}
