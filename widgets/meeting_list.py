"""Meeting list: today's and upcoming meetings of one room, a floor, or every room (SPEC A2).

For lobby boards. Like room status, the layout renders a shell and the browser
code keeps the list live from the booking stream (`booking_api.doors.doors`). A lobby is
public: a private meeting is "Busy" (booking_api.bookings.visibility.public_title).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from signage.api import Id
from signage.i18n import lazy
from signage.templating import render_string
from widgets.base import Widget

LIMIT = 60


class MeetingListOptions(BaseModel):
    model_config = {"extra": "forbid"}

    room_id: Id | None = Field(None, title=lazy("Room (empty: all rooms)"), json_schema_extra={"kind": "number"})
    floor: str = Field("", max_length=50, title=lazy("Floor (empty: every floor)"))
    days: int = Field(1, ge=1, le=14, title=lazy("Days to show"))
    title: str = Field("", max_length=100, title=lazy("Title"))


async def body(options: MeetingListOptions, s, settings, now) -> tuple[str, str]:
    from sqlalchemy import select

    from booking_api.bookings.visibility import public_title
    from booking_api.doors.roomstate import COLOURS, day_bounds
    from booking_api.models import ACTIVE, Booking, Room
    from booking_api.rooms.availability import booking_state

    start, _end = day_bounds(now, ZoneInfo(settings.timezone))
    end = start + dt.timedelta(days=options.days)
    query = (
        select(Booking, Room)
        .join(Room, Room.id == Booking.room_id)
        .where(Booking.status.in_((*ACTIVE, "no_show")), Booking.end_at > start, Booking.start_at < end)
        .order_by(Booking.start_at, Room.name)
        .limit(LIMIT)
    )
    if options.room_id:
        query = query.where(Booking.room_id == options.room_id)
    if options.floor:
        query = query.where(Room.floor == options.floor)
    rows = []
    for b, room in (await s.execute(query)).all():
        state = "released" if b.status == "no_show" else booking_state(b, now)
        rows.append(
            {"b": b, "title": public_title(b), "room": room, "state": state, "colour": COLOURS.get(state, "white")}
        )
    return render_string("widgets/_meeting_list_body.html", {"o": options, "rows": rows}), "list"


async def no_data(options: MeetingListOptions, db: Any) -> dict:
    return {}


widget = Widget(type="meeting_list", label=lazy("Meeting list"), options=MeetingListOptions, data=no_data)
