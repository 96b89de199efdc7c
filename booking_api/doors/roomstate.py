"""A room's state on its door screen (SPEC B5, A2), computed on the server and pushed live.

    status = await load_status(s, room, now, settings)
    → {"state": "in_progress", "colour": "blue", "current": {...}, "next": {...}, "checkin": {...}, ...}

The state is `availability.room_status` over the day's active bookings (free, booked
but not started, in progress, ended; white, orange, blue, gray), plus what the
door screen offers: the check-in window, extend, walk-up.

Time passing is an event too. `RoomTimer` (one task per process, started in the
app's lifespan) sleeps until the next boundary of any booking (check-in opens, start,
grace over, end) or sensor deadline, then releases no-shows, ends meetings the sensor
saw empty, makes the desk's tasks (cleaning after meetings, services before them), and
publishes `room:<id>` for every room whose state moved. Booking changes
wake it (it listens on `bookings`), so it always sleeps toward the right boundary.
Releases are conditional UPDATEs: several processes may race; one wins, the others
change nothing. A check-in locks and touches the booking row, and a release requires
the row unchanged since it was read, so a check-in at the last moment is never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, exists, func, or_, select, update

from booking_api.bookings import changes
from booking_api.bookings.visibility import public_title
from booking_api.desk import follow as desk
from booking_api.desk import services as desk_services
from booking_api.desk.tasks import room_service, walkup_waits
from booking_api.models import ACTIVE, Booking, CheckIn, DoorSettings, Room
from booking_api.rooms.availability import room_status
from signage import clock, topics
from signage.models import User

log = logging.getLogger("signage.rooms")

COLOURS = {"free": "white", "booked": "orange", "in_progress": "blue", "ended": "gray"}
EXTEND_MINUTES = 15
WALKUP_DEFAULT_MINUTES = 60  # a walk-up booking with no next meeting that day lasts at most this long
MAX_SLEEP = 300.0  # seconds; the timer re-reads the database at least this often
COALESCE = 0.5  # seconds; changes this close together wake the timer once
RELEASE_LOOKBACK = dt.timedelta(hours=12)  # older unchecked meetings are history, never released


def door_rules(door: DoorSettings | None, settings) -> dict:
    if door is None:
        door = SimpleNamespace(
            checkin_opens_minutes=None, checkin_grace_minutes=None, release_no_shows=None, sensor_absent_minutes=0
        )
    opens = door.checkin_opens_minutes
    grace = door.checkin_grace_minutes
    return {
        "opens": dt.timedelta(minutes=settings.checkin_opens_minutes if opens is None else opens),
        "grace": dt.timedelta(minutes=settings.checkin_grace_minutes if grace is None else grace),
        "release": door.release_no_shows if door.release_no_shows is not None else True,
        "absent": dt.timedelta(minutes=door.sensor_absent_minutes or 0),
    }


def checkin_window(b: Booking, rules: dict) -> tuple[dt.datetime, dt.datetime]:
    return b.start_at - rules["opens"], b.start_at + rules["grace"]


def day_bounds(now: dt.datetime, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(now.astimezone(tz).date(), dt.time(), tz).astimezone(dt.UTC)
    return start, start + dt.timedelta(days=1)


# a room's active bookings of a day, and its next one (any day): statements made once
TODAY = (
    select(Booking)
    .where(
        Booking.room_id == bindparam("room_id"),
        Booking.status.in_(ACTIVE),
        Booking.start_at < bindparam("end"),
        Booking.ends_after(bindparam("start")),
    )
    .order_by(Booking.start_at)
)
UPCOMING = (
    select(Booking)
    .where(
        Booking.room_id == bindparam("room_id"),
        Booking.status.in_(ACTIVE),
        Booking.start_at > bindparam("now"),
        Booking.blocked_until > bindparam("now"),  # implied; the room's index skips its history
    )
    .order_by(Booking.start_at)
    .limit(1)
)
CHECKINS = select(CheckIn).where(CheckIn.booking_id.in_(bindparam("ids", expanding=True)))
ORGANIZERS = select(User.id, User.name, User.email).where(User.id.in_(bindparam("ids", expanding=True)))


async def room_bookings(s, room_id: int, now: dt.datetime, tz: ZoneInfo) -> tuple[list[Booking], Booking | None]:
    """The room's active bookings of today, and its next active booking (any day)."""
    start, end = day_bounds(now, tz)
    today = (await s.scalars(TODAY, {"room_id": room_id, "start": start, "end": end})).all()
    upcoming = await s.scalar(UPCOMING, {"room_id": room_id, "now": now})
    return list(today), upcoming


def meeting(b: Booking | None, organizers: dict, checkins: dict, now: dt.datetime) -> dict | None:
    if b is None:
        return None
    return {
        "id": b.id,
        "title": public_title(b),
        "organizer": "" if b.private else organizers.get(b.organizer_id, ""),
        "start": b.start_at.isoformat(),
        "end": b.end_at.isoformat(),
        "status": b.status,
        "checked_in": b.id in checkins,
        "minutes_left": max(0, int((b.end_at - now).total_seconds() // 60)) if b.start_at <= now else None,
        "start_at": b.start_at,
        "end_at": b.end_at,
    }


def closed_now(room: Room, now: dt.datetime, tz: ZoneInfo) -> bool:
    """Outside the room's opening hours (in the site's zone)."""
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    return not room.opens_at <= minute < room.closes_at


def walkup_limit(room: Room, upcoming: Booking | None, now: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """Until when a walk-up booking starting now may last: None when under 5 minutes, or
    when the room's bookings need approval (nobody approves at the door)."""
    if room.needs_approval or closed_now(room, now, tz):
        return None
    limit = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=WALKUP_DEFAULT_MINUTES)
    if upcoming is not None:
        limit = min(limit, upcoming.start_at - dt.timedelta(minutes=room.buffer_minutes))
    local_midnight = dt.datetime.combine(now.astimezone(tz).date(), dt.time(), tz)
    limit = min(limit, (local_midnight + dt.timedelta(minutes=room.closes_at)).astimezone(dt.UTC))
    if room.max_minutes:
        limit = min(limit, now + dt.timedelta(minutes=room.max_minutes))
    return limit if limit - now >= dt.timedelta(minutes=5) else None


async def load_status(s, room: Room, now: dt.datetime, settings) -> dict:
    tz = ZoneInfo(settings.timezone)
    today, upcoming = await room_bookings(s, room.id, now, tz)
    rules = door_rules(await s.get(DoorSettings, room.id), settings)
    status = room_status(today, now)
    current = status["current"]
    ids = [b.id for b in (*today, upcoming) if b is not None]
    checkins = {c.booking_id: c for c in (await s.scalars(CHECKINS, {"ids": ids})).all()} if ids else {}
    people = {b.organizer_id for b in (*today, upcoming) if b is not None and b.organizer_id}
    organizers = {}
    if people:
        for u in (await s.execute(ORGANIZERS, {"ids": list(people)})).all():
            organizers[u.id] = u.name or u.email.split("@")[0]
    due = next(
        (
            b
            for b in today
            if b.status == "confirmed"
            and b.id not in checkins
            and checkin_window(b, rules)[0] <= now <= checkin_window(b, rules)[1]
        ),
        None,
    )
    buffer = dt.timedelta(minutes=room.buffer_minutes)
    following = next((b for b in today if current is not None and b.start_at >= current.end_at), None)
    can_extend = current is not None and (
        following is None or following.start_at >= current.end_at + dt.timedelta(minutes=EXTEND_MINUTES) + buffer
    )
    walkup_until = walkup_limit(room, upcoming, now, tz) if current is None else None
    service, condition = await room_service(s, room.id)
    if walkup_until is not None and await walkup_waits(s, room.id, condition):
        walkup_until = None  # the room's rule: no walk-up booking until it is clean
    if room.out_of_service_since is not None:  # takes no bookings, walk-up neither (booking_api/desk/care.py)
        condition, walkup_until = "out_of_service", None
    return {
        "room": {"id": room.id, "name": room.name, "floor": room.floor, "building": room.building},
        "today_at": now.astimezone(tz).date(),
        "state": status["state"],
        "colour": COLOURS[status["state"]],
        "at": now.isoformat(),
        "current": meeting(current, organizers, checkins, now),
        "next": meeting(status["next"] or upcoming, organizers, checkins, now),
        "checkin": {
            "booking_id": due.id,
            "title": public_title(due),
            "opens": checkin_window(due, rules)[0].isoformat(),
            "closes": checkin_window(due, rules)[1].isoformat(),
        }
        if due
        else None,
        "can_extend": can_extend,
        "extend_minutes": EXTEND_MINUTES,
        "walkup_until": walkup_until.isoformat() if walkup_until else None,
        "walkup_until_at": walkup_until,
        "service": service,
        "condition": condition,
        "out_of_service_reason": room.out_of_service_reason if room.out_of_service_since is not None else "",
        "closed": current is None and closed_now(room, now, tz),
    }


def public(status: dict) -> dict:
    """The status as JSON (the API): without the datetime objects kept for templates."""
    out = {k: v for k, v in status.items() if not k.endswith("_at")}
    for key in ("current", "next"):
        if out[key]:
            out[key] = {k: v for k, v in out[key].items() if not k.endswith("_at")}
    return out


# ---------------------------------------------------------------- the timer


async def release_no_shows(db, now: dt.datetime, settings) -> list[Booking]:
    """Release confirmed meetings nobody checked in to within the grace time (kept as no_show)."""
    async with db.session() as s:
        found = (
            await s.execute(
                select(Booking, DoorSettings)
                .outerjoin(DoorSettings, DoorSettings.room_id == Booking.room_id)
                .where(
                    Booking.status == "confirmed",
                    Booking.start_at <= now,
                    Booking.start_at > now - RELEASE_LOOKBACK,
                    Booking.end_at > now - RELEASE_LOOKBACK,  # implied; lets ix_bookings_end_at skip history
                    ~exists().where(CheckIn.booking_id == Booking.id),
                )
            )
        ).all()
    due = []
    for b, door in found:
        rules = door_rules(door, settings)
        closes = checkin_window(b, rules)[1]
        if rules["release"] and closes <= now:
            due.append((b, closes))
    released = []
    for b, closes in due:
        async with db.begin() as s:
            changed = await s.execute(
                update(Booking)
                .where(
                    Booking.id == b.id,
                    Booking.status == "confirmed",
                    Booking.updated_at == b.updated_at,  # a check-in meanwhile touched the row
                    ~exists().where(CheckIn.booking_id == b.id),
                )
                .values(status="no_show", reason="no-show", released_at=closes, updated_at=clock.now())
            )
            if changed.rowcount == 1:
                why = f"nobody checked in by {closes.isoformat()}"
                await changes.record(s, "booking.no_show", [b.id], "system", reason=why)
                released.append(b)
    return released


async def end_absent_meetings(db, now: dt.datetime, settings) -> list[Booking]:
    """End checked-in meetings whose room a sensor has seen empty for the room's absence time."""
    async with db.session() as s:
        found = (
            await s.execute(
                select(Booking, DoorSettings, CheckIn)
                .join(DoorSettings, DoorSettings.room_id == Booking.room_id)
                .join(CheckIn, CheckIn.booking_id == Booking.id)
                .where(
                    Booking.status == "confirmed",
                    Booking.start_at <= now,
                    Booking.end_at > now,
                    DoorSettings.sensor_absent_minutes > 0,
                    DoorSettings.present.is_(False),
                )
            )
        ).all()
    ended = []
    for b, door, checkin in found:
        since = max(door.present_since or now, checkin.at)
        if since + dt.timedelta(minutes=door.sensor_absent_minutes) > now:
            continue
        room_buffer = await _buffer(db, b.room_id)
        async with db.begin() as s:
            changed = await s.execute(
                update(Booking)
                .where(Booking.id == b.id, Booking.status == "confirmed", Booking.end_at > now)
                .values(
                    planned_end_at=func.coalesce(Booking.planned_end_at, Booking.end_at),
                    end_at=now,
                    released_at=now,
                    blocked_until=now + room_buffer,
                    updated_at=clock.now(),
                )
            )
            if changed.rowcount == 1:
                await changes.record(
                    s, "booking.ended", [b.id], "sensor", {"reason": "room empty"}, reason="room empty"
                )
                ended.append(b)
    return ended


async def _buffer(db, room_id: int) -> dt.timedelta:
    async with db.session() as s:
        room = await s.get(Room, room_id)
    return dt.timedelta(minutes=room.buffer_minutes if room else 0)


async def next_boundary(
    db, now: dt.datetime, settings, since: dt.datetime | None = None
) -> tuple[dt.datetime | None, dict[int, list]]:
    """The earliest boundary after `now`, and the boundaries of every room that has one
    between `since` and the timer's horizon (to see which rooms moved).

    Only the bookings that can have a boundary in that window are read, as plain
    columns: a boundary lies between start - opens and max(end, start + grace), and
    neither window is longer than `reach`, the longest that the site or any door sets.
    """
    since = min(since or now, now - dt.timedelta(seconds=MAX_SLEEP))
    horizon = now + dt.timedelta(seconds=MAX_SLEEP)
    async with db.session() as s:
        doors = {d.room_id: d for d in (await s.scalars(select(DoorSettings))).all()}
        reach = dt.timedelta(
            minutes=max(
                settings.service_lead_minutes,  # a meeting's services: a desk task this long before it
                settings.checkin_opens_minutes,
                settings.checkin_grace_minutes,
                *(d.checkin_opens_minutes or 0 for d in doors.values()),
                *(d.checkin_grace_minutes or 0 for d in doors.values()),
            )
        )
        found = (
            await s.execute(
                select(Booking.room_id, Booking.start_at, Booking.end_at, Booking.services, Booking.status).where(
                    Booking.status.in_(ACTIVE),
                    Booking.start_at < horizon + reach,
                    or_(Booking.end_at > since, Booking.start_at > since - reach),
                    Booking.end_at > since - reach,  # implied (end > start), and lets the index skip history
                )
            )
        ).all()
    rules: dict[int, dict] = {}
    by_room: dict[int, list] = {}
    for room_id, start, end, services, status in found:
        r = rules.get(room_id)
        if r is None:
            r = rules[room_id] = door_rules(doors.get(room_id), settings)
        by_room.setdefault(room_id, []).extend((start - r["opens"], start, start + r["grace"], end))
        if status == "confirmed":
            by_room[room_id].extend(desk_services.lead_times(start, services, settings.service_lead_minutes))
    for door in doors.values():
        if (
            door.sensor_absent_minutes
            and door.sensor_absent_minutes > 0
            and door.present is False
            and door.present_since
        ):
            by_room.setdefault(door.room_id, []).append(
                door.present_since + dt.timedelta(minutes=door.sensor_absent_minutes)
            )
    ahead = [t for times in by_room.values() for t in times if t > now]
    return (min(ahead) if ahead else None), by_room


class RoomTimer:
    """Wakes at every booking boundary; see the module docstring."""

    def __init__(self, app) -> None:
        self.app = app
        self.task: asyncio.Task | None = None
        self.sub = None  # its subscription to bookings and clock, while it runs
        self.waiting = False  # asleep toward the next boundary (or a change)
        self.ticked_at: dt.datetime | None = None  # the booking clock's time of the last tick done

    def health(self) -> dict:
        """For /healthz: whether the timer runs, whether it is idle (asleep, no change
        queued that would wake it), and the booking clock's time of its last tick."""
        return {
            "running": self.task is not None and not self.task.done(),
            "idle": self.waiting and self.sub is not None and self.sub.queue.empty(),
            "ticked_at": self.ticked_at.isoformat() if self.ticked_at else None,
        }

    async def start(self) -> None:
        self.task = asyncio.create_task(self.run(), name="signage-room-timer")

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    async def run(self) -> None:
        state = self.app.state
        async with state.bus.subscribe("bookings", "clock") as sub:
            self.sub = sub
            last = clock.now()
            while True:
                try:
                    delay = await self.tick(last)
                    # From the time the tick acted at, not the time it finished: a clock moved
                    # (or a meeting ended) during the tick is seen by the next one.
                    last = self.ticked_at or last
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database may be away; try again soon
                    log.exception("room timer")
                    delay = 5.0
                with contextlib.suppress(TimeoutError):
                    self.waiting = True
                    try:
                        topic, _data = await asyncio.wait_for(sub.__anext__(), delay)
                    finally:
                        self.waiting = False
                    # Woken by a change: let a burst of bookings land, then tick once for all of it.
                    # (Each booking already told its own room; the timer only re-aims its sleep.)
                    # A clock moved (tests, demos) is acted on at once.
                    if topic != "clock":
                        await asyncio.sleep(COALESCE)
                    while not sub.queue.empty():
                        sub.queue.get_nowait()

    async def tick(self, last: dt.datetime) -> float:
        """Act on what came due since `last`; seconds until the next boundary."""
        state = self.app.state
        db, settings = state.db, state.settings
        now = clock.now()
        released = await release_no_shows(db, now, settings)
        ended = await end_absent_meetings(db, now, settings)
        await desk.after_meetings(db, last, now)  # the desk's cleaning tasks (booking_api/desk)
        await desk_services.before_meetings(db, now, settings.service_lead_minutes)  # and the meetings' services
        upcoming, by_room = await next_boundary(db, now, settings, since=last)
        moved = {room for room, times in by_room.items() if any(last < t <= now for t in times)}
        # Releases and sensor ends are told by their events (the live consumer); for the rest
        # only the clock moved on: door screens and lobbies
        await state.bus.notify_many(topics.rooms_ticked(moved - {b.room_id for b in (*released, *ended)}))
        self.ticked_at = now
        if upcoming is None:
            return MAX_SLEEP
        return min(max((upcoming - clock.now()).total_seconds(), 0) + 0.05, MAX_SLEEP)
