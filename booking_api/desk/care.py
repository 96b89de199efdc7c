"""A room's care, set by its room admins (and admins): its cleaning rule and whether it is in
service (SPEC B9 4).

    PUT /api/v1/rooms/3/cleaning       {"cleaning": "services", "walkup_until_clean": true}
    PUT /api/v1/rooms/3/service-state  {"in_service": false, "reason": "Projector broken"}
    → {"room_id": 3, "out_of_service": {"since": "…", "reason": "Projector broken"}, "bookings_to_come": [41, 57]}

A room out of service takes no bookings in any path (`rules.check_in_service`: the API,
series, moves, the grid, walk-up at the door, approvals (an OA's left undecided are
rejected), importers) and is offered in no free-room suggestion; the meetings it already has stay (`bookings_to_come` lists them, to
move or cancel). The change is written with its `room.updated` event (the room as the API
shows it, `out_of_service` included) and its audit entry. The Manage rooms page sets both
through its forms (`/rooms/{id}/cleaning`, `/rooms/{id}/service-state`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking_api.desk.models import RoomCare
from booking_api.models import ACTIVE, Booking
from booking_api.rooms.availability import OutOfService, out_of_service
from booking_api.rooms.rooms import MANAGERS, get_room, manage_page, may_manage, owners_of, room_json
from signage import audit, clock, openapi, topics
from signage.api import json_body, parse
from signage.auth import route
from signage.errors import AppError, Forbidden, Invalid, NotFound
from signage.eventlog import log as eventlog
from signage.eventlog.log import actor_of
from signage.i18n import gettext as _
from signage.responses import JSONResponse


class CareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cleaning: Literal["every", "services", "never"] = Field(
        "every", description="a cleaning task after every meeting, only after meetings with services, or never"
    )
    walkup_until_clean: bool = Field(False, description="no walk-up booking at the door while the room needs cleaning")


class ServiceStateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    in_service: bool = Field(description="false: out of service, the room takes no bookings")
    reason: str = Field("", max_length=500, description="why it is out of service (needed then); shown to everyone")


class ServiceStateOut(BaseModel):
    room_id: int
    out_of_service: OutOfService | None = Field(description="null: in service")
    bookings_to_come: list[int] = Field(
        description="its active meetings still ahead (at most 100): move or cancel them"
    )


async def set_cleaning(request: Request, room_id: int, body: CareIn) -> None:
    try:
        async with request.app.state.db.begin() as s:
            await get_room(s, room_id)
            if not await may_manage(s, request.state.user, room_id):
                raise Forbidden(_("Only the room's admins may change its cleaning rule."))
            care = await s.get(RoomCare, room_id)
            if care is None:
                care = RoomCare(room_id=room_id)
                s.add(care)
            care.cleaning, care.walkup_until_clean = body.cleaning, body.walkup_until_clean
            s.add(audit.entry(request, "room.cleaning_rule", f"room:{room_id}", reason=body.cleaning))
    except AppError as exc:
        await audit.record(request, "room.cleaning_rule", f"room:{room_id}", result="failure", reason=exc.message)
        raise
    await request.app.state.bus.notify_many(topics.rooms_changed([room_id], "room"))


async def set_service_state(request: Request, room_id: int, body: ServiceStateIn) -> dict:
    """Out of service with a reason, or back in service; the room's meetings still ahead."""
    now, reason = clock.now(), body.reason.strip()
    try:
        if not body.in_service and not reason:
            raise Invalid(_("Say why the room is out of service."), {"field": "reason"})
        async with request.app.state.db.begin() as s:
            room = await get_room(s, room_id)
            if not await may_manage(s, request.state.user, room_id):
                raise Forbidden(_("Only the room's admins may take it out of service."))
            before = (room.out_of_service_since, room.out_of_service_reason)
            if body.in_service:
                room.out_of_service_since, room.out_of_service_reason = None, ""
            else:
                room.out_of_service_since = room.out_of_service_since or now
                room.out_of_service_reason = reason
            if (room.out_of_service_since, room.out_of_service_reason) != before:
                owners = (await owners_of(s, [room.id])).get(room.id, [])
                await eventlog.record(s, "room.updated", f"room:{room.id}", room_json(room, owners), actor_of(request))
            said = "in service" if body.in_service else f"out of service: {reason}"
            s.add(audit.entry(request, "room.service_state", f"room:{room_id}", reason=said[:500]))
            coming = (
                await s.scalars(
                    select(Booking.id)
                    .where(Booking.room_id == room.id, Booking.status.in_(ACTIVE), Booking.ends_after(now))
                    .order_by(Booking.start_at)
                    .limit(100)
                )
            ).all()
            out = {"room_id": room.id, "out_of_service": out_of_service(room), "bookings_to_come": list(coming)}
    except AppError as exc:
        await audit.record(request, "room.service_state", f"room:{room_id}", result="failure", reason=exc.message)
        raise
    await request.app.state.bus.notify_many(topics.rooms_changed([room_id], "room"))
    return out


# ---------------------------------------------------------------- API


async def api_care(request: Request) -> Response:
    """A room's cleaning rule (its admins)."""
    room_id = request.path_params["id"]
    try:
        body = parse(CareIn, await json_body(request))
    except AppError as exc:
        await audit.record(request, "room.cleaning_rule", f"room:{room_id}", result="failure", reason=exc.message)
        raise
    await set_cleaning(request, room_id, body)
    return JSONResponse({"room_id": room_id, **body.model_dump()})


async def api_service_state(request: Request) -> Response:
    room_id = request.path_params["id"]
    try:
        body = parse(ServiceStateIn, await json_body(request))
    except AppError as exc:
        await audit.record(request, "room.service_state", f"room:{room_id}", result="failure", reason=exc.message)
        raise
    return JSONResponse(await set_service_state(request, room_id, body))


# ---------------------------------------------------------------- the Manage rooms page


async def form_cleaning(request: Request) -> Response:
    room_id = request.path_params["id"]
    form = await request.form()
    data = {
        "cleaning": str(form.get("cleaning") or "every"),
        "walkup_until_clean": form.get("walkup_until_clean") is not None,
    }
    try:
        await set_cleaning(request, room_id, parse(CareIn, data, strict=False))
    except (Invalid, NotFound) as exc:
        return await manage_page(request, status_code=exc.status, error=exc, room_id=room_id)
    return RedirectResponse(f"/rooms/{room_id}/edit", status_code=303)


async def form_service_state(request: Request) -> Response:
    room_id = request.path_params["id"]
    form = await request.form()
    data = {"in_service": form.get("in_service") == "1", "reason": str(form.get("reason") or "")[:500]}
    try:
        await set_service_state(request, room_id, parse(ServiceStateIn, data, strict=False))
    except (Invalid, NotFound) as exc:
        return await manage_page(request, status_code=exc.status, error=exc, room_id=room_id)
    return RedirectResponse(f"/rooms/{room_id}/edit", status_code=303)


openapi.add(
    "put", "/api/v1/rooms/{id}/cleaning", "A room's cleaning rule (room admins)", body=CareIn, tag="service desk"
)
openapi.add(
    "put",
    "/api/v1/rooms/{id}/service-state",
    "Take a room out of service with a reason, or put it back (room admins): out of service, it takes no bookings",
    body=ServiceStateIn,
    response=ServiceStateOut,
    tag="service desk",
)

routes = [
    route("/api/v1/rooms/{id:id}/cleaning", api_care, methods=["PUT"], allow=MANAGERS),
    route("/api/v1/rooms/{id:id}/service-state", api_service_state, methods=["PUT"], allow=MANAGERS),
    route("/rooms/{id:id}/cleaning", form_cleaning, methods=["POST"], allow=MANAGERS),
    route("/rooms/{id:id}/service-state", form_service_state, methods=["POST"], allow=MANAGERS),
]
