"""The figures of a statistics report (SPEC B10, issue 17), by SQL aggregates.

    await report(s, settings, dt.date(2026, 11, 1), dt.date(2026, 11, 30), "room", room_ids=None)
    → {"from": "2026-11-01", "to": "2026-11-30", "group": "room", "columns": [...],
       "rows": [{"key": "3", "label": "Orchid", "booked_hours": 41.5, ...}, ...], "total": {...}, "message": ""}

Three queries whatever the range and the number of rooms or bookings: the rooms (their
open hours make the bookable hours, summed here per group: rooms, not bookings), the
bookings grouped in SQL, and the service calls grouped in SQL. A meeting belongs to the
day (of the site's zone) it starts on. What each figure means is `COLUMNS`; the names are
the API's, the CSV's and the workbook's, and stay as they are.

Meetings counted are the confirmed ones and those released as no-shows; pending and
rejected ones are not meetings (yet); cancelled ones count only as cancellations.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, func, literal, literal_column, or_, select, union_all
from sqlalchemy.orm import aliased

from booking_api.desk.models import ServiceTask
from booking_api.models import Attendee, Booking, CheckIn, Room
from booking_api.stats.sql import epoch, greatest, ifloor, least, offsets, to_local, utc_offset
from signage.i18n import gettext as _

GROUPS = ("room", "floor", "building", "department", "hour", "day")
CALL_ORIGINS = ("door", "api", "meeting")  # calls from a room or a meeting (not cleaning after one)


def weekday_names() -> list[str]:
    return [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]


COLUMNS: dict[str, str] = {
    "key": "the group: a room's id, a building, 'building / floor', a day (YYYY-MM-DD) or 'weekday-hour' (1-09)",
    "label": "the group as people read it (a room's name, Mon 09:00 ...)",
    "weekday": "group=hour: ISO weekday 1 (Monday) to 7; otherwise null",
    "hour": "group=hour: hour of the day 0-23 in the site's zone; otherwise null",
    "rooms": "rooms in the group",
    "bookable_hours": "hours the rooms are open (their open hours, every day of the range)",
    "booked_hours": "hours booked by meetings (confirmed or released as no-show), as booked: extensions in, End now not taken off",
    "used_hours": "hours of checked-in meetings from their start until they ended (End now, a sensor, or their end; until now while on)",
    "utilization": "booked_hours / bookable_hours (0-1)",
    "occupancy": "used_hours / bookable_hours (0-1)",
    "meetings": "meetings counted (confirmed, or released as no-show)",
    "no_shows": "meetings released because nobody checked in",
    "no_show_hours": "booked hours of those meetings",
    "no_show_rate": "no_shows / started",
    "released": "meetings whose room was given back early: released as no-show, End now or a sensor",
    "recovered_hours": "hours given back: from the release until the booked end",
    "rebooked": "released meetings whose freed time someone booked again afterwards",
    "started": "meetings whose start has passed",
    "checked_in": "meetings checked in (door screen, phone, API, sensor, terminal)",
    "check_in_rate": "checked_in / started",
    "avg_headcount": "attendees per meeting (1 when only the organizer)",
    "avg_capacity": "seats of the room per meeting",
    "headcount_to_capacity": "average of headcount / capacity per meeting (low: rooms too big for their meetings)",
    "cancelled": "meetings cancelled",
    "avg_cancel_lead_hours": "hours between a cancellation and the meeting's start, on average",
    "service_calls": "service calls from a room or a meeting (tea, IT, cleaning, other)",
    "avg_response_minutes": "minutes from a call until the desk accepted it, on average",
}

SUMS = (
    "booked_s used_s no_show_s recovered_s meetings no_shows released rebooked started checked_in"
    " headcount capacity fill cancelled lead_n lead_s"
).split()


def bounds(start: dt.date, end: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants of the range's first local midnight and the midnight after its last day."""
    first = dt.datetime.combine(start, dt.time(), tz).astimezone(dt.UTC)
    return first, dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)


def _keys(group: str, room: tuple, local_seconds, k=None) -> list:
    """The columns a row is grouped by, named g0, g1...; `room`: (id, building, floor) columns."""
    if group == "room":
        keys = [room[0]]
    elif group == "floor":
        keys = [room[1], room[2]]
    elif group == "building":
        keys = [room[1]]
    elif group == "department":  # the organizer's (bookings); service calls have none: 0
        keys = [room[3] if len(room) > 3 else literal(0, Integer)]
    elif group == "day":
        keys = [ifloor(local_seconds / 86400.0)]
    else:  # hour: the cell the row's hour `k` of the meeting falls in
        cell = (ifloor(local_seconds / 3600.0) + (k if k is not None else 0)) * 3600
        day = ifloor(cell / 86400.0)
        keys = [(day + 3) % 7, ifloor((cell - day * 86400) / 3600.0)]
    return [key.label(f"g{i}") for i, key in enumerate(keys)]


def meetings_in(first: dt.datetime, last: dt.datetime, now: dt.datetime, table, room_ids, by_department=False):
    """One row per booking of the range (confirmed, no-show or cancelled) with what the
    figures need, its times in seconds in the site's zone, each computed once (`OFFSET 0`
    keeps both databases from copying these expressions into every use)."""
    b = Booking
    offset = utc_offset(epoch(b.start_at), table)
    people = (
        select(Attendee.booking_id, func.count().label("n"))
        .join(Booking, Booking.id == Attendee.booking_id)
        .where(Booking.start_at >= first, Booking.start_at < last, Booking.end_at >= first)
        .group_by(Attendee.booking_id)
        .subquery("people")
    )
    # Booked again: another meeting in the freed time. Until the release the meeting blocked
    # that time (no two active bookings overlap), so any such meeting was booked after it.
    # The room's first meeting whose buffer ends after the release (its index, in order, so
    # one step and not the room's whole future): does it start before the booked end?
    other = aliased(Booking)
    next_start = (
        select(other.start_at)
        .where(
            other.room_id == b.room_id,
            other.blocked_until > b.released_at,
            other.id != b.id,
            other.status.in_(("pending", "confirmed", "no_show")),
        )
        .order_by(other.blocked_until)
        .limit(1)
        .scalar_subquery()
    )
    rebooked = next_start < func.coalesce(b.planned_end_at, b.end_at)
    counted = b.status.in_(("confirmed", "no_show"))
    released = and_(counted, b.released_at.is_not(None))
    query = (
        select(
            Room.id.label("room_id"),
            Room.building.label("building"),
            Room.floor.label("floor"),
            greatest(Room.capacity, literal(1)).label("capacity"),
            case((counted, 1), else_=0).label("counted"),
            case((b.status == "no_show", 1), else_=0).label("no_show"),
            case((released, 1), else_=0).label("released"),
            case((and_(released, rebooked), 1), else_=0).label("rebooked"),
            case((and_(counted, b.start_at <= now), 1), else_=0).label("started"),
            case((and_(counted, CheckIn.booking_id.is_not(None)), 1), else_=0).label("checked_in"),
            case((and_(b.status == "confirmed", CheckIn.booking_id.is_not(None)), 1), else_=0).label("used"),
            case((b.status == "cancelled", 1), else_=0).label("cancelled"),
            func.coalesce(people.c.n, 1).label("headcount"),
            (epoch(b.start_at) + offset).label("s"),
            (epoch(b.end_at) + offset).label("e"),
            (epoch(func.coalesce(b.planned_end_at, b.end_at)) + offset).label("p"),
            func.coalesce(epoch(b.released_at) + offset, literal(0.0)).label("r"),
            case((b.cancelled_at.is_not(None), epoch(b.start_at) - epoch(b.cancelled_at)), else_=None).label("lead"),
            (now.timestamp() + offset).label("now"),
            (func.coalesce(organizer_department(b.organizer_id), literal(0)) if by_department else literal(0)).label("dept"),
        )
        .select_from(b)
        .join(Room, Room.id == b.room_id)
        .outerjoin(CheckIn, CheckIn.booking_id == b.id)
        .outerjoin(people, people.c.booking_id == b.id)
        .where(
            b.status.in_(("confirmed", "no_show", "cancelled")),
            b.start_at >= first,
            b.start_at < last,
            b.end_at >= first,  # implied; lets ix_bookings_end_at skip what ended before
        )
    )
    if room_ids is not None:
        query = query.where(b.room_id.in_(room_ids))
    return query.offset(0).subquery("meetings")


def organizer_department(organizer_id):
    """The organizer's department (the first by id when in several; signage/directory)."""
    from signage.directory.models import Membership

    return select(func.min(Membership.department_id)).where(Membership.user_id == organizer_id).scalar_subquery()


def bookings_query(group: str, first: dt.datetime, last: dt.datetime, now: dt.datetime, table, room_ids):
    """One row per group with the sums of SUMS (seconds and counts)."""
    meetings = meetings_in(first, last, now, table, room_ids, by_department=group == "department")
    m = meetings.c
    if group == "hour":
        hours = union_all(*(select(literal_column(str(i), Integer).label("k")) for i in range(24))).subquery("hours")
        k = hours.c.k
        cell_from = (ifloor(m.s / 3600.0) + k) * 3600.0
        cell_to = cell_from + 3600.0
        first_cell = k == 0

        def within(a, z):  # seconds of [a, z) in the row's hour
            return greatest(least(z, cell_to) - greatest(a, cell_from), literal(0.0))
    else:
        k = None
        first_cell = literal(True)

        def within(a, z):
            return greatest(z - a, literal(0.0))

    once = case((first_cell, 1), else_=0)
    yes = m.counted == 1
    inner = select(
        *_keys(group, (m.room_id, m.building, m.floor, m.dept), m.s, k),
        case((yes, within(m.s, m.p)), else_=0.0).label("booked_s"),
        case((m.used == 1, within(m.s, least(m.e, m.now))), else_=0.0).label("used_s"),
        case((m.no_show == 1, within(m.s, m.p)), else_=0.0).label("no_show_s"),
        case((m.released == 1, within(least(m.r, m.p), m.p)), else_=0.0).label("recovered_s"),
        (m.counted * once).label("meetings"),
        (m.no_show * once).label("no_shows"),
        (m.released * once).label("released"),
        (m.rebooked * once).label("rebooked"),
        (m.started * once).label("started"),
        (m.checked_in * once).label("checked_in"),
        (m.headcount * m.counted * once).label("headcount"),
        (m.capacity * m.counted * once).label("capacity"),
        (m.headcount * 1.0 / m.capacity * m.counted * once).label("fill"),
        (m.cancelled * once).label("cancelled"),
        case((and_(m.cancelled == 1, m.lead.is_not(None)), once), else_=0).label("lead_n"),
        case((and_(m.cancelled == 1, m.lead.is_not(None)), m.lead * once), else_=0.0).label("lead_s"),
    )
    if group == "hour":
        span = ifloor((m.p - 1) / 3600.0) - ifloor(m.s / 3600.0) + 1
        inner = inner.select_from(meetings).join(hours, or_(k == 0, and_(yes, k < span)))
    inner = inner.subquery("rows")
    keys = [c for c in inner.c if c.name.startswith("g")]
    return select(*keys, *(func.sum(inner.c[name]).label(name) for name in SUMS)).group_by(*keys)


def calls_query(group: str, first: dt.datetime, last: dt.datetime, table, room_ids):
    t = ServiceTask
    local = to_local(epoch(t.created_at), table)
    inner = (
        select(
            *_keys(group, (Room.id, Room.building, Room.floor), local),
            case((t.accepted_at.is_not(None), 1), else_=0).label("answered"),
            case((t.accepted_at.is_not(None), epoch(t.accepted_at) - epoch(t.created_at)), else_=0.0).label("wait"),
        )
        .select_from(t)
        .join(Room, Room.id == t.room_id)
        .where(t.origin.in_(CALL_ORIGINS), t.created_at >= first, t.created_at < last)
    )
    if room_ids is not None:
        inner = inner.where(t.room_id.in_(room_ids))
    inner = inner.subquery("calls")
    keys = [c for c in inner.c if c.name.startswith("g")]
    return select(
        *keys,
        func.count().label("calls"),
        func.sum(inner.c.answered).label("answered"),
        func.sum(inner.c.wait).label("wait"),
    ).group_by(*keys)


def _open_minutes(room, h: int | None = None) -> int:
    """Minutes a room is open a day, or within hour `h` of the day."""
    lo, hi = room.opens_at, room.closes_at
    if h is not None:
        lo, hi = max(lo, h * 60), min(hi, h * 60 + 60)
    return max(0, hi - lo)


def _groups(group: str, rooms, start: dt.date, end: dt.date) -> dict:
    """Every group of the report in order, {key tuple: (key, label, rooms, bookable minutes, extra)}."""
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    daily = sum(_open_minutes(r) for r in rooms)
    out: dict = {}
    if group == "room":
        for r in rooms:
            out[(r.id,)] = (str(r.id), r.name, 1, _open_minutes(r) * len(days), {})
    elif group in ("floor", "building"):
        for r in rooms:
            key = (r.building, r.floor) if group == "floor" else (r.building,)
            label = " / ".join(part or "—" for part in key)
            old = out.get(key, (label, label, 0, 0, {}))
            out[key] = (label, label, old[2] + 1, old[3] + _open_minutes(r) * len(days), {})
    elif group == "department":  # filled in by `department_groups`
        pass
    elif group == "day":
        epoch_day = dt.date(1970, 1, 1)
        for d in days:
            out[((d - epoch_day).days,)] = (d.isoformat(), d.isoformat(), len(rooms), daily, {})
    else:
        per_weekday = [sum(1 for d in days if d.weekday() == w) for w in range(7)]
        names = weekday_names()
        for w in range(7):
            for h in range(24):
                minutes = per_weekday[w] * sum(_open_minutes(r, h) for r in rooms)
                label = f"{names[w]} {h:02d}:00"
                out[(w, h)] = (f"{w + 1}-{h:02d}", label, len(rooms), minutes, {"weekday": w + 1, "hour": h})
    return out


def _ratio(a, b, digits: int = 4):
    return round(a / b, digits) if b else None


def figures(key: str, label: str, rooms: int, bookable_min: float, sums: dict, calls: dict, extra: dict) -> dict:
    """A row of the report from its sums (seconds and counts)."""
    hours = lambda seconds: round((seconds or 0) / 3600, 2)  # noqa: E731
    bookable = bookable_min / 60
    meetings = sums["meetings"]
    return {
        "key": key,
        "label": label,
        "weekday": extra.get("weekday"),
        "hour": extra.get("hour"),
        "rooms": rooms,
        "bookable_hours": round(bookable, 2),
        "booked_hours": hours(sums["booked_s"]),
        "used_hours": hours(sums["used_s"]),
        "utilization": _ratio(sums["booked_s"] / 3600, bookable),
        "occupancy": _ratio(sums["used_s"] / 3600, bookable),
        "meetings": meetings,
        "no_shows": sums["no_shows"],
        "no_show_hours": hours(sums["no_show_s"]),
        "no_show_rate": _ratio(sums["no_shows"], sums["started"]),
        "released": sums["released"],
        "recovered_hours": hours(sums["recovered_s"]),
        "rebooked": sums["rebooked"],
        "started": sums["started"],
        "checked_in": sums["checked_in"],
        "check_in_rate": _ratio(sums["checked_in"], sums["started"]),
        "avg_headcount": _ratio(sums["headcount"], meetings, 2),
        "avg_capacity": _ratio(sums["capacity"], meetings, 2),
        "headcount_to_capacity": _ratio(sums["fill"], meetings),
        "cancelled": sums["cancelled"],
        "avg_cancel_lead_hours": _ratio(sums["lead_s"] / 3600, sums["lead_n"], 2),
        "service_calls": calls.get("calls", 0),
        "avg_response_minutes": _ratio((calls.get("wait") or 0) / 60, calls.get("answered", 0), 2),
    }


EMPTY = dict.fromkeys(SUMS, 0)


async def department_groups(s, rooms, start: dt.date, end: dt.date, seen: set) -> tuple[dict, str]:
    """By the organizer's department: a row for each department with meetings in the range
    (by its path), then one for meetings whose organizer has none; each measured against
    every room's open hours."""
    from signage.directory.api import path_of, tree

    depts = await tree(s)
    minutes = sum(_open_minutes(r) for r in rooms) * ((end - start).days + 1)
    named = sorted((key for key in seen if key[0]), key=lambda key: path_of(depts, key[0]))
    out = {key: (str(key[0]), path_of(depts, key[0]) or str(key[0]), len(rooms), minutes, {}) for key in named}
    out[(0,)] = ("", _("No department"), len(rooms), minutes, {})
    message = "" if depts else _("No departments yet: add them on the Organisation page or sync the directory.")
    return out, message


def _number(name: str, value):
    """A sum as Python reads it (PostgreSQL gives Decimal for some)."""
    return float(value or 0) if name.endswith("_s") or name == "fill" else int(value or 0)


async def report(
    s, tz: ZoneInfo, start: dt.date, end: dt.date, group: str, room_ids: list[int] | None, now: dt.datetime
) -> dict:
    """The report (see the module's docstring); `room_ids` None: every room."""
    first, last = bounds(start, end, tz)
    table = offsets(tz, first, last)
    rooms_query = select(Room).order_by(Room.building, Room.floor, Room.name, Room.id)
    if room_ids is not None:
        rooms_query = rooms_query.where(Room.id.in_(room_ids))
    rooms = (await s.scalars(rooms_query)).all()
    booked = {
        tuple(row[: len(row) - len(SUMS)]): {k: _number(k, v) for k, v in zip(SUMS, row[-len(SUMS) :], strict=True)}
        for row in (await s.execute(bookings_query(group, first, last, now, table, room_ids))).all()
    }
    calls = {
        tuple(row[:-3]): {"calls": int(row[-3]), "answered": int(row[-2] or 0), "wait": float(row[-1] or 0)}
        for row in (await s.execute(calls_query(group, first, last, table, room_ids))).all()
    }
    rows, total, total_calls, bookable = [], dict(EMPTY), {"calls": 0, "answered": 0, "wait": 0}, 0
    groups = _groups(group, rooms, start, end)
    message = ""
    if group == "department":
        groups, message = await department_groups(s, rooms, start, end, {*booked, *calls})
    for key, (name, label, count, minutes, extra) in groups.items():
        sums, called = booked.get(key, EMPTY), calls.get(key, {})
        rows.append(figures(name, label, count, minutes, sums, called, extra))
        bookable += minutes
        for k in SUMS:
            total[k] += sums[k]
        for k in total_calls:
            total_calls[k] += called.get(k, 0)
    if group == "department":  # each row is measured against every room: the whole counted once
        bookable = sum(_open_minutes(r) for r in rooms) * ((end - start).days + 1)
    summary = figures("", _("All"), len(rooms), bookable, total, total_calls, {})
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "group": group,
        "columns": list(COLUMNS),
        "rows": rows,
        "total": summary,
        "message": message,
    }
