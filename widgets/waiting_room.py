"""Waiting room: the next meetings of a floor or building, and their announcements (SPEC B9, 候会室).

Like the meeting list, the layout renders a shell and the browser keeps the list live
from the rooms' stream (`booking_api/doors/live.py`). When a meeting is about to start
(`announce_minutes` before) or the service desk calls its people in, the body carries
an announcement: the screen shows it large and plays its sentence, spoken on the server
(`/player/api/speech`, signage/speech.py), then returns to the list.

A lobby is public: a private meeting shows as "Busy" and its announcement names only its
start time and room (`announcement`; booking_api.bookings.visibility, as door screens do).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from signage.i18n import gettext as _
from signage.i18n import lazy
from signage.templating import render_string
from widgets.base import Widget

LIMIT = 12
CALL_IN_SHOWN = dt.timedelta(minutes=2)  # a call-in is announced by screens that see it this soon


class WaitingRoomOptions(BaseModel):
    model_config = {"extra": "forbid"}

    floor: str = Field("", max_length=50, title=lazy("Floor (empty: every floor)"))
    building: str = Field("", max_length=200, title=lazy("Building (empty: every building)"))
    announce_minutes: int = Field(5, ge=0, le=60, title=lazy("Announce this many minutes before the start (0: never)"))
    voice: bool = Field(True, title=lazy("Speak the announcements"))
    title: str = Field("", max_length=100, title=lazy("Title"))


def sentence(title: str, room: str) -> str:
    return _("Attendees of %(title)s, please go to %(room)s", title=title, room=room)


def announcement(b, room, tz: ZoneInfo) -> str:
    """What screens show and say to call a meeting's people in: never a private meeting's title."""
    if b.private:
        start = f"{b.start_at.astimezone(tz):%H:%M}"
        return _("Attendees of the %(time)s meeting, please go to %(room)s", time=start, room=room.name)
    return sentence(b.title, room.name)


async def body(options: WaitingRoomOptions, s, settings, now) -> tuple[str, str]:
    from sqlalchemy import select

    from booking_api.bookings.visibility import public_title
    from booking_api.desk.models import CallIn
    from booking_api.doors.roomstate import day_bounds
    from booking_api.models import Booking, Room
    from booking_api.rooms.availability import booking_state

    tz = ZoneInfo(settings.timezone)
    _start, end = day_bounds(now, tz)

    def placed(query):
        if options.floor:
            query = query.where(Room.floor == options.floor)
        if options.building:
            query = query.where(Room.building == options.building)
        return query

    rows = (
        await s.execute(
            placed(
                select(Booking, Room)
                .join(Room, Room.id == Booking.room_id)
                .where(Booking.status == "confirmed", Booking.end_at > now, Booking.start_at < end)
                .order_by(Booking.start_at, Room.name)
                .limit(LIMIT)
            )
        )
    ).all()
    announce = None
    called = (
        await s.execute(
            placed(
                select(CallIn, Booking, Room)
                .join(Booking, Booking.id == CallIn.booking_id)
                .join(Room, Room.id == CallIn.room_id)
                .where(CallIn.called_at > now - CALL_IN_SHOWN, CallIn.called_at <= now, Booking.status == "confirmed")
                .order_by(CallIn.called_at.desc())
                .limit(1)
            )
        )
    ).first()
    if called is not None:
        call, b, room = called
        announce = {"key": f"call:{call.id}", "b": b, "room": room}
    elif options.announce_minutes:
        soon = now + dt.timedelta(minutes=options.announce_minutes)
        b, room = next(((b, r) for b, r in rows if now < b.start_at <= soon), (None, None))
        if b is not None:
            announce = {"key": f"soon:{b.id}", "b": b, "room": room}
    if announce:
        announce["title"] = public_title(announce["b"])
        announce["say"] = announcement(announce["b"], announce["room"], tz)
    meetings = [{"b": b, "title": public_title(b), "room": r, "state": booking_state(b, now)} for b, r in rows]
    ctx = {"o": options, "rows": meetings, "announce": announce}
    return render_string("widgets/_waiting_room_body.html", ctx), ("announce" if announce else "list")


async def no_data(options: WaitingRoomOptions, db: Any) -> dict:
    return {}


widget = Widget(type="waiting_room", label=lazy("Waiting room"), options=WaitingRoomOptions, data=no_data)
