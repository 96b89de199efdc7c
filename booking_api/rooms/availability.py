"""Who is free when (SPEC B3): the day grid of rooms by 15-minute slots, live.

Colours as in the seed: white free, orange booked but not started, blue in
progress, gray ended; pending bookings are marked. A day of any number of rooms
costs two queries (rooms, then that day's bookings of those rooms).

`room_status(bookings, at)` is the reusable answer for one room at one moment
(door screens and the floor plan use it): free, booked, in progress or ended,
with the current and the next meeting.
"""

from __future__ import annotations

import collections
import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from booking_api.bookings.visibility import public_title
from booking_api.models import ACTIVE, Booking, Room
from signage import clock, openapi
from signage.api import DAY, EMPTY, param
from signage.auth import SIGNED_IN, route
from signage.errors import Invalid
from signage.i18n import gettext as _
from signage.responses import JSONResponse, is_htmx
from signage.templating import render

SLOT = 15  # minutes
PAGE_SIZE = 100  # rooms per page of the grid
PING_SECONDS = 15


def booking_state(b: Booking, now: dt.datetime) -> str:
    """booked (not started), in_progress or ended."""
    if b.end_at <= now:
        return "ended"
    if b.start_at <= now:
        return "in_progress"
    return "booked"


def _start(b) -> dt.datetime:
    return b.start_at


def room_status(bookings: list[Booking], at: dt.datetime) -> dict:
    """The state of one room at `at`, from its active bookings of that day.

    in_progress when a meeting runs; else booked when one is still to come; else
    ended when the day's meetings are over; else free.
    """
    current = upcoming = None
    active = False
    for b in sorted(bookings, key=_start):  # one pass (a thousand rooms a request)
        if b.status not in ACTIVE:
            continue
        active = True
        if current is None and b.start_at <= at < b.end_at:
            current = b
        if b.start_at > at:
            upcoming = b
            break
    if current:
        state = "in_progress"
    elif upcoming:
        state = "booked"
    elif active:
        state = "ended"
    else:
        state = "free"
    return {"state": state, "current": current, "next": upcoming}


def parse_day(raw: str | None, tz: ZoneInfo) -> dt.date:
    if not raw:
        return clock.now().astimezone(tz).date()
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise Invalid(_("date must be YYYY-MM-DD."), {"field": "date"}) from None
    if not 1900 <= day.year <= 9000:
        raise Invalid(_("date must be between the years 1900 and 9000."), {"field": "date"})
    return day


def filters_of(params) -> dict:
    capacity = (params.get("capacity") or "").strip()
    if capacity and not (capacity.isascii() and capacity.isdigit() and len(capacity) <= 6):
        raise Invalid(_("capacity must be a whole number."), {"field": "capacity"})
    equipment = [e.strip() for e in (params.get("equipment") or "").split(",") if e.strip()]
    return {"floor": (params.get("floor") or "").strip(), "capacity": int(capacity or 0), "equipment": equipment}


FILTER_PARAMS = {  # what filters_of reads, as the API documents it
    "floor": "only this floor",
    "capacity": param("at least this many seats", type="integer", minimum=0, maximum=999999),
    "equipment": "comma-separated; rooms having all",
}


def where_filters(query, filters: dict):
    """`query` of rooms narrowed to the floor and least capacity of `filters_of`."""
    if filters["floor"]:
        query = query.where(Room.floor == filters["floor"])
    if filters["capacity"]:
        query = query.where(Room.capacity >= filters["capacity"])
    return query


def equipped(rooms, filters: dict) -> list:
    """The rooms having all the equipment `filters` asks for (a JSON list: checked here)."""
    wanted = set(filters["equipment"])
    return [r for r in rooms if wanted <= set(r.equipment)]


ROOM_COLUMNS = (
    Room.id,
    Room.name,
    Room.building,
    Room.floor,
    Room.capacity,
    Room.equipment,
    Room.opens_at,
    Room.closes_at,
    Room.plan_x,
    Room.plan_y,
    Room.out_of_service_since,
    Room.out_of_service_reason,
)
RoomRow = collections.namedtuple("RoomRow", [c.key for c in ROOM_COLUMNS])
BOOKING_COLUMNS = (
    Booking.id, Booking.room_id, Booking.title, Booking.start_at, Booking.end_at, Booking.status, Booking.private,
)  # fmt: skip
Slot = collections.namedtuple("Slot", [c.key for c in BOOKING_COLUMNS])


async def day_of(s, day: dt.date, tz: ZoneInfo, filters: dict) -> tuple[list, dict[int, list]]:
    """The rooms (filtered) and their active bookings of `day`: two queries, plain rows, no ORM objects."""
    query = where_filters(select(*ROOM_COLUMNS).order_by(Room.building, Room.floor, Room.name), filters)
    rooms = equipped(map(RoomRow._make, (await s.execute(query)).all()), filters)
    start = dt.datetime.combine(day, dt.time(), tz).astimezone(dt.UTC)
    end = start + dt.timedelta(days=1)
    by_room: dict[int, list] = {r.id: [] for r in rooms}
    if rooms:
        found = await s.execute(
            select(*BOOKING_COLUMNS)
            .where(Booking.status.in_(ACTIVE), Booking.start_at < end, Booking.end_at > start)
            .order_by(Booking.start_at)
        )
        for row in found:
            b = Slot(*row)  # each value read once (a Row converts on every access)
            if b.room_id in by_room:
                by_room[b.room_id].append(b)
    return rooms, by_room


def out_of_service(room) -> dict | None:
    """A room's service state as the API shows it: None in service, else since when and why."""
    if room.out_of_service_since is None:
        return None
    return {"since": room.out_of_service_since.isoformat(), "reason": room.out_of_service_reason}


class OutOfService(BaseModel):
    since: str
    reason: str


def booking_brief(b: Booking, now: dt.datetime) -> dict:
    """For JSON: the times stay datetimes, which orjson writes as isoformat() would, faster."""
    return {
        "id": b.id,
        "title": public_title(b),
        "start": b.start_at,
        "end": b.end_at,
        "status": b.status,
        "state": booking_state(b, now),
    }


async def api_availability(request: Request) -> Response:
    tz = ZoneInfo(request.app.state.settings.timezone)
    day, filters = parse_day(request.query_params.get("date"), tz), filters_of(request.query_params)
    now = clock.now()
    async with request.app.state.db.session() as s:
        rooms, by_room = await day_of(s, day, tz, filters)
    out = []
    for r in rooms:
        status = room_status(by_room[r.id], now)
        out.append(
            {
                "id": r.id,
                "name": r.name,
                "building": r.building,
                "floor": r.floor,
                "capacity": r.capacity,
                "equipment": r.equipment,
                "status": status["state"],
                "out_of_service": out_of_service(r),
                "bookings": [booking_brief(b, now) for b in by_room[r.id]],
            }
        )
    return JSONResponse({"date": day.isoformat(), "timezone": tz.key, "slot_minutes": SLOT, "rooms": out})


def grid_rows(rooms: list, by_room: dict, day: dt.date, tz: ZoneInfo, now: dt.datetime) -> tuple[list, list]:
    """Column times and, per room, its row of slot cells as HTML.

    Built with plain string joins (a thousand rooms by 96 slots is 96,000 cells; a
    template loop over them takes seconds). Each cell's time is its column's
    `data-start`; booked cells carry the booking's id and a tooltip.
    """
    first = min((r.opens_at for r in rooms), default=8 * 60) // SLOT * SLOT
    last = max((r.closes_at for r in rooms), default=20 * 60)
    midnight = dt.datetime.combine(day, dt.time(), tz)
    columns = [(m, (midnight + dt.timedelta(minutes=m)).astimezone(dt.UTC)) for m in range(first, last, SLOT)]
    step = dt.timedelta(minutes=SLOT)
    waiting = escape(_("Waiting for approval"))
    out = escape(_("Out of service"))
    tips: dict[int, str] = {}
    rows = []
    for r in rooms:
        cells, bookings = [], by_room[r.id]
        for minute, start in columns:
            end = start + step
            b = next((b for b in bookings if b.start_at < end and b.end_at > start), None)
            if b is not None:
                pending = b.status == "pending"
                if b.id not in tips:
                    tips[b.id] = (
                        f"{escape(public_title(b))} {b.start_at.astimezone(tz):%H:%M}–{b.end_at.astimezone(tz):%H:%M}"
                    )
                tip = tips[b.id]
                cells.append(
                    f'<td class="cell {booking_state(b, now)}{" pending" if pending else ""}" data-booking-id="{b.id}"'
                    f' title="{tip}{" · " + waiting if pending else ""}"></td>'
                )
            elif minute < r.opens_at or minute + SLOT > r.closes_at:
                cells.append('<td class="cell closed"></td>')
            elif r.out_of_service_since is not None and end > now:  # nothing to book: no free cell
                cells.append(f'<td class="cell closed out" title="{out}"></td>')
            elif end <= now:
                cells.append('<td class="cell past"></td>')
            else:
                cells.append('<td class="cell free"></td>')
        rows.append((r, Markup("".join(cells)), room_status(bookings, now)["state"]))
    return columns, rows


async def grid_page(request: Request) -> Response:
    tz = ZoneInfo(request.app.state.settings.timezone)
    day, filters = parse_day(request.query_params.get("date"), tz), filters_of(request.query_params)
    page = request.query_params.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and int(page) > 0 else 1
    now = clock.now()
    async with request.app.state.db.session() as s:
        rooms, by_room = await day_of(s, day, tz, filters)
        floors = (await s.scalars(select(Room.floor).distinct().order_by(Room.floor))).all()
    shown = rooms[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    columns, rows = grid_rows(shown, by_room, day, tz, now)
    ctx = {
        "day": day,
        "prev_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1),
        "filters": filters,
        "floors": floors,
        "columns": [(f"{m // 60:02d}:{m % 60:02d}", start.isoformat()) for m, start in columns],
        "rows": rows,
        "timezone": tz.key,
        "page": page,
        "pages": max(1, -(-len(rooms) // PAGE_SIZE)),
        "total": len(rooms),
        "first": (page - 1) * PAGE_SIZE + 1,
        "last": min(page * PAGE_SIZE, len(rooms)),
        "query": {k: v for k, v in request.query_params.items() if k != "page"},
    }
    if is_htmx(request):
        return render(request, "rooms/availability.html", ctx, block="grid")
    return render(request, "rooms/availability.html", ctx)


class BookingBrief(BaseModel):
    id: int
    title: str
    start: str
    end: str
    status: Literal["pending", "confirmed"]
    state: Literal["booked", "in_progress", "ended"]


class RoomDay(BaseModel):
    id: int
    name: str
    building: str
    floor: str
    capacity: int
    equipment: list[str]
    status: Literal["free", "booked", "in_progress", "ended"]
    out_of_service: OutOfService | None = Field(description="takes no bookings while set (its room admins)")
    bookings: list[BookingBrief]


class DayOut(BaseModel):
    date: str
    timezone: str
    slot_minutes: int
    rooms: list[RoomDay]


openapi.add(
    "get",
    "/api/v1/availability",
    "Every room's bookings of a day, and its status now",
    response=DayOut,
    tag="availability",
    query={"date": param("YYYY-MM-DD (site time zone); default today", anyOf=[DAY, EMPTY]), **FILTER_PARAMS},
)

routes = [
    route("/rooms", grid_page, allow=SIGNED_IN),
    route("/api/v1/availability", api_availability, allow=SIGNED_IN),
]
