"""iCalendar feeds (RFC 5545, SPEC B8): a user's meetings or a room's, at a secret URL.

    GET /ical/<secret>.ics   → text/calendar; anyone with the URL may read it, so it can be
                               rotated (`rotate`), which makes the old URL answer 404.

A recurring meeting is one VEVENT with its RRULE (DTSTART in the site's time zone,
so 09:00 stays 09:00 across daylight saving), ending at its last occurrence (UNTIL),
with EXDATE for every occurrence cancelled or moved, and a RECURRENCE-ID override
for an occurrence changed alone at its own time. A moved occurrence is its own event.
"""

from __future__ import annotations

import datetime as dt
import secrets
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from booking_api import recurrence
from booking_api.models import ACTIVE, Attendee, Booking, CalendarFeed, Room, Series
from booking_api.rooms import MANAGERS, get_room, may_manage
from signage import audit, clock, openapi
from signage.auth import PUBLIC, route
from signage.errors import Forbidden, NotFound
from signage.i18n import gettext as _
from signage.responses import JSONResponse

HISTORY = dt.timedelta(days=90)  # past meetings kept in a feed


async def feed_url(request: Request, s, kind: str, owner_id: int) -> str:
    """The feed's URL, made on first use."""
    feed = await s.scalar(select(CalendarFeed).where(CalendarFeed.kind == kind, CalendarFeed.owner_id == owner_id))
    if feed is None:
        try:
            async with request.app.state.db.begin() as w:
                feed = CalendarFeed(kind=kind, owner_id=owner_id, secret=secrets.token_urlsafe(24))
                w.add(feed)
        except IntegrityError:  # made meanwhile by another request
            feed = await s.scalar(
                select(CalendarFeed).where(CalendarFeed.kind == kind, CalendarFeed.owner_id == owner_id)
            )
    return f"{str(request.base_url).rstrip('/')}/ical/{feed.secret}.ics"


async def rotate(request: Request, kind: str, owner_id: int) -> None:
    async with request.app.state.db.begin() as s:
        feed = await s.scalar(select(CalendarFeed).where(CalendarFeed.kind == kind, CalendarFeed.owner_id == owner_id))
        if feed is None:
            s.add(CalendarFeed(kind=kind, owner_id=owner_id, secret=secrets.token_urlsafe(24)))
        else:
            feed.secret = secrets.token_urlsafe(24)
    await audit.record(request, "calendar_feed.rotate", f"{kind}:{owner_id}")


def event(b: Booking, room: Room, tz: ZoneInfo, uid: str) -> icalendar.Event:
    e = icalendar.Event()
    e.add("uid", uid)
    e.add("dtstamp", b.updated_at or clock.now())
    e.add("dtstart", b.start_at.astimezone(tz))
    e.add("dtend", b.end_at.astimezone(tz))
    e.add("summary", b.title)
    e.add("location", room.name)
    e.add("status", "TENTATIVE" if b.status == "pending" else "CONFIRMED")
    return e


def series_events(series: Series, members: list[Booking], rooms: dict, tz: ZoneInfo, host: str) -> list:
    """The series as one VEVENT with RRULE and EXDATEs, plus its overrides and moved occurrences."""
    members = sorted(members, key=lambda b: b.start_at)
    first, last = next((b for b in members if not b.detached), members[0]), members[-1]
    parts = {k: v for k, v in recurrence.parse_parts(series.rrule).items() if k not in ("COUNT", "UNTIL")}
    until_local = last.start_at.astimezone(tz).strftime("%Y%m%dT%H%M%S")
    rule = ";".join(f"{k}={v}" for k, v in parts.items())
    slots = [s for s, _e in recurrence.occurrences(f"{rule};UNTIL={until_local}", first.start_at, first.end_at, tz.key)]
    active = [b for b in members if b.status in ACTIVE]
    kept = {b.start_at for b in active if not b.detached}
    overrides = [b for b in active if b.detached and b.start_at in slots]
    moved = [b for b in active if b.detached and b.start_at not in slots]
    uid = f"series-{series.id}@{host}"
    master = event(first, rooms[first.room_id], tz, uid)
    master.add("rrule", icalendar.vRecur.from_ical(f"{rule};UNTIL={last.start_at.strftime('%Y%m%dT%H%M%SZ')}"))
    gone = [s for s in slots if s not in kept and s not in {b.start_at for b in overrides}]
    for start in gone:
        master.add("exdate", start.astimezone(tz))
    out = [master]
    for b in overrides:
        e = event(b, rooms[b.room_id], tz, uid)
        e.add("recurrence-id", b.start_at.astimezone(tz))
        out.append(e)
    out += [event(b, rooms[b.room_id], tz, f"booking-{b.id}@{host}") for b in moved]
    return out


def calendar_of(bookings: list[Booking], series: dict, rooms: dict, tz: ZoneInfo, host: str, name: str) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Signage//Meeting rooms//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    grouped: dict[int, list[Booking]] = {}
    for b in bookings:
        if b.series_id is not None and b.series_id in series:
            grouped.setdefault(b.series_id, []).append(b)
        elif b.status in ACTIVE:
            cal.add_component(event(b, rooms[b.room_id], tz, f"booking-{b.id}@{host}"))
    for series_id, members in grouped.items():
        if any(b.status in ACTIVE for b in members):
            for e in series_events(series[series_id], members, rooms, tz, host):
                cal.add_component(e)
    cal.add_missing_timezones()
    return cal.to_ical()


async def feed(request: Request) -> Response:
    secret = request.path_params["secret"].removesuffix(".ics")
    tz = ZoneInfo(request.app.state.settings.timezone)
    since = clock.now() - HISTORY
    async with request.app.state.db.session() as s:
        found = await s.scalar(select(CalendarFeed).where(CalendarFeed.secret == secret))
        if found is None:
            raise NotFound(_("No such calendar feed."))
        if found.kind == "room":
            room = await get_room(s, found.owner_id)
            name, where = room.name, Booking.room_id == room.id
        else:
            invited = select(Attendee.booking_id).where(Attendee.user_id == found.owner_id)
            name, where = _("My meetings"), or_(Booking.organizer_id == found.owner_id, Booking.id.in_(invited))
        picked = (await s.scalars(select(Booking).where(where, Booking.ends_after(since)).limit(5000))).all()
        series_ids = {b.series_id for b in picked if b.series_id is not None}
        whole = (
            list((await s.scalars(select(Booking).where(Booking.series_id.in_(series_ids)))).all())
            if series_ids
            else []
        )
        bookings = {b.id: b for b in (*picked, *whole)}.values()
        series = {x.id: x for x in (await s.scalars(select(Series).where(Series.id.in_(series_ids)))).all()}
        rooms = {r.id: r for r in (await s.scalars(select(Room))).all()}
    body = calendar_of(list(bookings), series, rooms, tz, request.url.hostname or "signage", name)
    return Response(body, media_type="text/calendar; charset=utf-8", headers={"Cache-Control": "no-store"})


async def api_room_feed(request: Request) -> Response:
    """A room's feed URL (room admins); `?rotate=1` replaces the secret first."""
    room_id = request.path_params["id"]
    async with request.app.state.db.session() as s:
        await get_room(s, room_id)
        if not await may_manage(s, request.state.user, room_id):
            raise Forbidden(_("Only the room's admins may share its calendar."))
    if request.query_params.get("rotate"):
        await rotate(request, "room", room_id)
    async with request.app.state.db.session() as s:
        return JSONResponse({"url": await feed_url(request, s, "room", room_id)})


openapi.add(
    "post",
    "/api/v1/rooms/{id}/calendar-feed",
    "The room's iCalendar feed URL (made on first use)",
    tag="check-in",
    query={"rotate": "1: replace the secret; the old URL stops working"},
)

routes = [
    route("/ical/{secret}", feed, allow=PUBLIC),
    route("/api/v1/rooms/{id:id}/calendar-feed", api_room_feed, methods=["POST"], allow=MANAGERS),
]
