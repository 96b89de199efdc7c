"""Door-screen actions and the room status API (the live stream is `live.py`).

- `POST /player/api/rooms/{id}/check-in|end|extend|walkup|service` (a screen):
  only a screen of that room may act: its `room_id` (set in the fleet) is the room,
  or its published layout has a room-status widget of that room.
- `GET /api/v1/rooms/{id}/status`: state, colour, current and next meeting.
- `POST /api/v1/clock` (admins, only with SIGNAGE_TEST_CLOCK): shift the booking clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from booking_api.desk import tasks
from booking_api.doors import checkin, walkup
from booking_api.doors.roomstate import load_status, public
from booking_api.doors.sensors import door_of
from booking_api.rooms.rooms import MANAGERS, get_room, may_manage
from player.models import Screen
from playlists.models import Layout, LayoutVersion
from signage import audit, clock, openapi, topics
from signage.api import Id, When, json_body, parse
from signage.auth import SCREEN, SIGNED_IN, route
from signage.errors import AppError, Forbidden, Invalid, NotFound
from signage.eventlog.log import actor_of
from signage.i18n import gettext as _
from signage.responses import JSONResponse


async def screen_may_act(request: Request, room_id: int) -> Screen:
    screen = request.state.screen
    if not screen.claimed:
        raise Forbidden(_("This screen is not paired."))
    if getattr(screen, "room_id", None) == room_id:
        return screen
    async with request.app.state.db.session() as s:
        content = await s.scalar(
            select(LayoutVersion.content)
            .join(Layout, Layout.id == LayoutVersion.layout_id)
            .where(Layout.id == screen.layout_id, LayoutVersion.version == Layout.published_version)
        )
    for region in (content or {}).get("regions", []):
        if region.get("widget") == "room_status" and (region.get("options") or {}).get("room_id") == room_id:
            return screen
    raise Forbidden(_("This screen is not the door screen of this room."))


class DoorAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    booking_id: Id | None = None
    minutes: int = Field(15, ge=5, le=240)
    until: When | None = None
    kind: Literal["tea", "it", "cleaning", "other"] = "other"  # a service call's
    note: str = Field("", max_length=500)


async def door_action(request: Request) -> Response:
    room_id, action = request.path_params["id"], request.path_params["action"]
    if action not in ("check-in", "end", "extend", "walkup", "service"):
        raise NotFound(_("No such door-screen action."))
    name = {"service": "room.service_call", "walkup": "booking.walk_up"}.get(
        action, "booking." + action.replace("-", "_")
    )
    try:
        screen = await screen_may_act(request, room_id)
        body = parse(DoorAction, await json_body(request))
        if action in ("check-in", "end", "extend") and body.booking_id is None:
            raise Invalid(_("Say which meeting (booking_id)."), {"field": "booking_id"})
        if action == "check-in":
            answer = await checkin.check_in(request, body.booking_id, "door", room_id=room_id)
        elif action == "end":
            answer = await checkin.end_meeting(request, body.booking_id, room_id=room_id)
        elif action == "extend":
            answer = await checkin.extend_meeting(request, body.booking_id, body.minutes, room_id=room_id)
        elif action == "walkup":
            answer = await walkup.walk_up(request, room_id, body.until.astimezone(dt.UTC) if body.until else None)
        else:
            answer = await service_call(request, room_id, screen, body.kind, body.note)
    except AppError as exc:
        await audit.record(request, name, f"room:{room_id}", result="failure", reason=exc.message)
        raise
    if action == "service":  # the booking changes are audited with the change (booking_api.bookings.changes)
        why = f"{body.kind}, door screen {request.state.screen.id}"
        await audit.record(request, name, f"room:{room_id}", reason=why)
    return JSONResponse(answer)


async def service_call(request: Request, room_id: int, screen: Screen, kind: str, note: str) -> dict:
    """A call for the service desk (booking_api/desk: its board shows it live)."""
    async with request.app.state.db.begin() as s:
        room = await get_room(s, room_id)
        task = await tasks.create_call(s, room, kind, note, "door", actor_of(request), screen_id=screen.id)
    return {"room_id": room_id, "called": True, "id": task.id, "kind": kind, "status": "open"}


# ---------------------------------------------------------------- API


async def api_status(request: Request) -> Response:
    async with request.app.state.db.reads() as s:
        room = await get_room(s, request.path_params["id"])
        status = await load_status(s, room, clock.now(), request.app.state.settings)
    return JSONResponse(public(status))


class DoorRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checkin_opens_minutes: int | None = Field(None, ge=0, le=240, description="null: the site default")
    checkin_grace_minutes: int | None = Field(None, ge=1, le=240, description="null: the site default")
    release_no_shows: bool = True
    sensor_absent_minutes: int = Field(0, ge=0, le=240)


async def api_door_rules(request: Request) -> Response:
    """A room's check-in window and no-show rules (room admins)."""
    room_id = request.path_params["id"]
    try:
        body = parse(DoorRules, await json_body(request))
        async with request.app.state.db.begin() as s:
            await get_room(s, room_id)
            if not await may_manage(s, request.state.user, room_id):
                raise Forbidden(_("Only the room's admins may change its door-screen rules."))
            door = await door_of(s, room_id)
            for name, value in body.model_dump().items():
                setattr(door, name, value)
    except AppError as exc:
        await audit.record(request, "room.door_rules", f"room:{room_id}", result="failure", reason=exc.message)
        raise
    await audit.record(request, "room.door_rules", f"room:{room_id}")
    await request.app.state.bus.notify_many(topics.rooms_changed([room_id], "room"))
    return JSONResponse({"room_id": room_id, **body.model_dump()})


class ClockShift(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shift_seconds: float = Field(ge=-366 * 86400, le=366 * 86400)


async def api_clock(request: Request) -> Response:
    if not request.app.state.settings.test_clock:
        raise NotFound(_("The clock can be shifted only with SIGNAGE_TEST_CLOCK on (tests and demos)."))
    body = parse(ClockShift, await json_body(request))
    now = clock.shift(body.shift_seconds)
    await audit.record(request, "clock.shift", "", reason=f"{body.shift_seconds:+} s")
    await request.app.state.bus.notify_many(topics.clock_set(now.isoformat()))
    return JSONResponse({"now": now.isoformat(), "offset_seconds": clock.offset()})


class MeetingOut(BaseModel):
    id: int
    title: str
    organizer: str
    start: str
    end: str
    status: str
    checked_in: bool
    minutes_left: int | None


class CheckinOut(BaseModel):
    booking_id: int
    title: str
    opens: str
    closes: str


class ServiceOut(BaseModel):
    id: int
    kind: str = Field(description="tea, it, cleaning or other")
    status: str = Field(description="open or accepted (someone is on the way)")
    by: str = Field(description="who is on the way")


class RoomStatusOut(BaseModel):
    room: dict
    state: str = Field(description="free, booked (not started), in_progress or ended")
    colour: str = Field(description="white, orange, blue or gray")
    at: str
    current: MeetingOut | None
    next: MeetingOut | None
    checkin: CheckinOut | None = Field(description="the meeting whose check-in is open now")
    can_extend: bool
    extend_minutes: int
    walkup_until: str | None = Field(description="a walk-up booking now may last until then")
    service: ServiceOut | None = Field(description="the room's latest service call not done yet")
    condition: str = Field(description="clean, needs_cleaning, being_cleaned or out_of_service (booking_api/desk)")
    out_of_service_reason: str = Field(description="why it is out of service (when it is)")
    closed: bool = Field(False, description="outside the room's opening hours now (no walk-up booking)")


openapi.add(
    "put", "/api/v1/rooms/{id}/door", "A room's check-in window and no-show rules", body=DoorRules, tag="check-in"
)
openapi.add("get", "/api/v1/rooms/{id}/status", "A room's state now", response=RoomStatusOut, tag="check-in")
openapi.add(
    "post",
    "/api/v1/clock",
    "Shift the booking clock (admins; only when SIGNAGE_TEST_CLOCK is on, for tests and demos; 404 otherwise)",
    body=ClockShift,
    tag="check-in",
)

routes = [
    route("/player/api/rooms/{id:id}/{action}", door_action, methods=["POST"], allow=SCREEN),
    route("/api/v1/rooms/{id:id}/status", api_status, allow=SIGNED_IN),
    route("/api/v1/rooms/{id:id}/door", api_door_rules, methods=["PUT"], allow=MANAGERS),
    route("/api/v1/clock", api_clock, methods=["POST"], allow=("admin",)),
]
