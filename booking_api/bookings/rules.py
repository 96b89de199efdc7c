"""What a booking must respect: the room's rules and the other bookings of the room.

`check_rules` refuses with a clear message (out of service, open hours, longest
booking, booking window, minimum notice). `conflicts` lists the active bookings a new interval would
overlap (buffers included); `suggestions` offers the next free slot of the room and
other free rooms of enough capacity. `conflict_error` packs both into the 409.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from booking_api.models import ACTIVE, Booking, Room
from signage import clock
from signage.errors import Conflict, Invalid
from signage.i18n import gettext as _

PAST_GRACE = dt.timedelta(minutes=15)  # the current slot of the grid may still be booked
SEARCH_DAYS = 14


def hhmm(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


def local_minutes(when: dt.datetime, tz: ZoneInfo) -> tuple[dt.date, int]:
    local = when.astimezone(tz)
    return local.date(), local.hour * 60 + local.minute


def within_open_hours(room: Room, start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> bool:
    """Within one day's opening hours; a room open all day (00:00 to 24:00) never closes,
    so its meetings may run past midnight (a room's longest booking still applies)."""
    if room.opens_at <= 0 and room.closes_at >= 24 * 60:
        return True
    day, opens = local_minutes(start, tz)
    end_day, closes = local_minutes(end, tz)
    if end_day == day + dt.timedelta(days=1) and closes == 0:
        end_day, closes = day, 24 * 60
    return end_day == day and opens >= room.opens_at and closes <= room.closes_at


def check_times(start: dt.datetime, end: dt.datetime) -> None:
    if end == start:
        raise Invalid(_("The meeting has no length: its end equals its start."), {"field": "end"})
    if end < start:
        raise Invalid(_("The meeting must end after it starts."), {"field": "end"})


def check_in_service(room: Room) -> None:
    """A room out of service takes no booking (409), whatever the path."""
    if room.out_of_service_since is not None:
        raise Conflict(out_of_service_message(room), {"rule": "out_of_service", "reason": room.out_of_service_reason})


def out_of_service_message(room: Room) -> str:
    if room.out_of_service_reason:
        return _("%(room)s is out of service (%(reason)s): it takes no bookings.", room=room.name,
                 reason=room.out_of_service_reason)  # fmt: skip
    return _("%(room)s is out of service: it takes no bookings.", room=room.name)


def check_rules(room: Room, start: dt.datetime, end: dt.datetime, tz: ZoneInfo, now: dt.datetime | None = None) -> None:
    now = now or clock.now()
    check_times(start, end)
    check_in_service(room)
    if start < now - PAST_GRACE:
        raise Invalid(_("The meeting cannot start in the past."), {"field": "start"})
    if not within_open_hours(room, start, end, tz):
        raise Invalid(
            _(
                "%(room)s is open from %(opens)s to %(closes)s.",
                room=room.name,
                opens=hhmm(room.opens_at),
                closes=hhmm(room.closes_at),
            ),
            {"field": "start", "rule": "open_hours"},
        )
    if room.max_minutes and end - start > dt.timedelta(minutes=room.max_minutes):
        raise Invalid(
            _("%(room)s can be booked for at most %(n)s minutes.", room=room.name, n=room.max_minutes),
            {"field": "end", "rule": "max_minutes"},
        )
    if room.window_days and start > now + dt.timedelta(days=room.window_days):
        raise Invalid(
            _("%(room)s can be booked at most %(n)s days ahead.", room=room.name, n=room.window_days),
            {"field": "start", "rule": "window_days"},
        )
    if room.notice_minutes and start < now + dt.timedelta(minutes=room.notice_minutes):
        raise Invalid(
            _("%(room)s must be booked at least %(n)s minutes ahead.", room=room.name, n=room.notice_minutes),
            {"field": "start", "rule": "notice_minutes"},
        )


def blocked_until(room: Room, end: dt.datetime) -> dt.datetime:
    return end + dt.timedelta(minutes=room.buffer_minutes)


async def conflicts(s, room_id: int, start: dt.datetime, until: dt.datetime, exclude=()) -> list[Booking]:
    query = select(Booking).where(
        Booking.room_id == room_id,
        Booking.status.in_(ACTIVE),
        Booking.start_at < until,
        Booking.blocked_until > start,
    )
    if exclude:
        query = query.where(Booking.id.not_in(list(exclude)))
    return list((await s.scalars(query.order_by(Booking.start_at))).all())


def _ceil(when: dt.datetime, minutes: int = 5) -> dt.datetime:
    """Up to the next whole `minutes`: 10:02:30 → 10:05."""
    base = when.replace(second=0, microsecond=0)
    if base < when:
        base += dt.timedelta(minutes=1)
    return base + dt.timedelta(minutes=(minutes - base.minute % minutes) % minutes)


async def next_free(s, room: Room, start: dt.datetime, length: dt.timedelta, tz: ZoneInfo, exclude=()) -> dict | None:
    """The first free interval of `length` in `room` at or after `start`, within open hours
    (None when the room is out of service)."""
    if room.out_of_service_since is not None:
        return None
    horizon = start + dt.timedelta(days=SEARCH_DAYS)
    taken = await conflicts(s, room.id, start, horizon, exclude)
    buffer = dt.timedelta(minutes=room.buffer_minutes)
    candidate = _ceil(max(start, clock.now()))
    for _step in range(1000):
        if candidate > horizon:
            return None
        day, minute = local_minutes(candidate, tz)
        local_midnight = dt.datetime.combine(day, dt.time(), tz)
        if minute < room.opens_at:
            candidate = (local_midnight + dt.timedelta(minutes=room.opens_at)).astimezone(dt.UTC)
            continue
        if not within_open_hours(room, candidate, candidate + length, tz):
            next_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
            candidate = (next_day + dt.timedelta(minutes=room.opens_at)).astimezone(dt.UTC)
            continue
        clash = [b for b in taken if b.start_at < candidate + length + buffer and b.blocked_until > candidate]
        if not clash:
            return {"start": candidate.isoformat(), "end": (candidate + length).isoformat()}
        candidate = _ceil(max(b.blocked_until for b in clash))
    return None


async def free_rooms(
    s, room: Room, start: dt.datetime, end: dt.datetime, need: int, tz: ZoneInfo, limit: int = 5
) -> list[dict]:
    """Other rooms of at least `need` seats, free and open from `start` to `end`."""
    candidates = (
        await s.scalars(
            select(Room)
            .where(Room.id != room.id, Room.capacity >= need, Room.out_of_service_since.is_(None))
            .order_by(Room.capacity, Room.name)
            .limit(200)
        )
    ).all()
    if not candidates:
        return []
    busy = await s.execute(
        select(Booking.room_id, Booking.start_at, Booking.blocked_until).where(
            Booking.room_id.in_([r.id for r in candidates]),
            Booking.status.in_(ACTIVE),
            Booking.start_at < end + dt.timedelta(hours=4),
            Booking.blocked_until > start,
        )
    )
    taken: dict[int, list] = {}
    for room_id, b_start, b_until in busy:
        taken.setdefault(room_id, []).append((b_start, b_until))
    out = []
    for r in candidates:
        until = blocked_until(r, end)
        if not within_open_hours(r, start, end, tz) or any(bs < until and bu > start for bs, bu in taken.get(r.id, [])):
            continue
        out.append({"id": r.id, "name": r.name, "floor": r.floor, "building": r.building, "capacity": r.capacity})
        if len(out) == limit:
            break
    return out


async def conflict_error(
    s, room: Room, clashes: list[tuple[dt.datetime, dt.datetime, list[Booking]]], need: int, tz: ZoneInfo, exclude=()
) -> Conflict:
    """The 409: which times clash with what, the room's next free slot, other free rooms."""
    start, end, _taken = clashes[0]
    detail = {
        "conflicts": [
            {
                "start": s_.isoformat(),
                "end": e_.isoformat(),
                "with": [
                    {
                        "id": b.id,
                        "start": b.start_at.isoformat(),
                        "end": b.end_at.isoformat(),
                        "blocked_until": b.blocked_until.isoformat(),
                        "status": b.status,
                    }
                    for b in taken
                ],
            }
            for s_, e_, taken in clashes
        ],
        "suggestions": {
            "next_free": await next_free(s, room, start, end - start, tz, exclude),
            "rooms": await free_rooms(s, room, start, end, need, tz),
        },
    }
    return Conflict(
        _("%(room)s is already booked at that time.", room=room.name),
        detail,
    )
