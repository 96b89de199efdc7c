"""Occupancy sensors (SPEC B5): an infrared or other presence sensor reports through the API.

    POST /api/v1/rooms/{id}/sensor   X-Sensor-Token: <the room's sensor token>   {"present": true}

The token is the room's own (made by its admins, shown once, stored hashed), not a
user's. Presence while a meeting's check-in is open checks it in. Absence is kept
with its time; when a room sets `sensor_absent_minutes`, the room timer ends a
checked-in meeting once the room has been empty that long.
"""

from __future__ import annotations

import secrets

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from booking_api.doors import checkin
from booking_api.doors.roomstate import load_status
from booking_api.models import DoorSettings
from booking_api.rooms.rooms import MANAGERS, get_room, may_manage
from signage import audit, clock, openapi, topics
from signage.api import json_body, parse
from signage.auth import PUBLIC, hash_token, route
from signage.errors import AppError, Forbidden, Unauthorized
from signage.i18n import gettext as _
from signage.responses import JSONResponse, created


class Presence(BaseModel):
    model_config = ConfigDict(extra="forbid")
    present: bool = Field(description="someone is in the room")


class SensorToken(BaseModel):
    model_config = ConfigDict(extra="forbid")
    absent_minutes: int = Field(
        0, ge=0, le=240, description="end a checked-in meeting after the room is empty this long; 0: never"
    )


async def door_of(s, room_id: int) -> DoorSettings:
    door = await s.get(DoorSettings, room_id)
    if door is None:
        door = DoorSettings(room_id=room_id, release_no_shows=True, sensor_absent_minutes=0)
        s.add(door)
    return door


async def check_room_token(request: Request, room_id: int, header: str, column: str, refusal: str) -> None:
    """The room's own device token (a sensor's, a terminal's) in `header`, against the hash kept
    in the room's door settings' `column`; Unauthorized with `refusal` otherwise."""
    given = request.headers.get(header.lower(), "")
    async with request.app.state.db.session() as s:
        await get_room(s, room_id)
        door = await s.get(DoorSettings, room_id)
    stored = getattr(door, column) if door else None
    if not given or not stored or not secrets.compare_digest(stored, hash_token(given)):
        raise Unauthorized(refusal)


async def check_sensor(request: Request, room_id: int) -> None:
    await check_room_token(
        request, room_id, "x-sensor-token", "sensor_token_hash", _("The sensor token is not valid for this room.")
    )


async def report(request: Request) -> Response:
    room_id = request.path_params["id"]
    try:
        await check_sensor(request, room_id)
        body = parse(Presence, await json_body(request))
    except AppError as exc:
        await audit.record(request, "sensor.report", f"room:{room_id}", result="failure", reason=exc.message)
        raise
    now = clock.now()
    async with request.app.state.db.begin() as s:
        door = await door_of(s, room_id)
        moved = door.present is not body.present
        if moved:
            door.present, door.present_since = body.present, now
    checked = None
    if body.present:
        async with request.app.state.db.session() as s:
            status = await load_status(s, await get_room(s, room_id), now, request.app.state.settings)
        if status["checkin"]:
            checked = (await checkin.check_in(request, status["checkin"]["booking_id"], "sensor", room_id=room_id))[
                "booking_id"
            ]
    if moved and checked is None:  # presence is no booking event: its screens are told here
        await request.app.state.bus.notify_many(topics.rooms_changed([room_id], "presence"))
    return JSONResponse({"room_id": room_id, "present": body.present, "checked_in": checked})


async def make_token(request: Request) -> Response:
    room_id = request.path_params["id"]
    body = parse(SensorToken, await json_body(request))
    token = "sns_" + secrets.token_urlsafe(32)
    async with request.app.state.db.begin() as s:
        await get_room(s, room_id)
        if not await may_manage(s, request.state.user, room_id):
            raise Forbidden(_("Only the room's admins may connect its sensor."))
        door = await door_of(s, room_id)
        door.sensor_token_hash, door.sensor_absent_minutes = hash_token(token), body.absent_minutes
    await audit.record(request, "sensor.token", f"room:{room_id}")
    out = {"room_id": room_id, "token": token, "absent_minutes": body.absent_minutes}
    return created(out, f"/api/v1/rooms/{room_id}/status")  # the token is never shown again: the state it feeds


openapi.add(
    "post",
    "/api/v1/rooms/{id}/sensor",
    "A presence sensor reports (its own token in X-Sensor-Token, not a user's)",
    body=Presence,
    tag="check-in",
    errors=(400, 401, 404),
    headers={"X-Sensor-Token": "the room's sensor token"},
)
openapi.add(
    "post",
    "/api/v1/rooms/{id}/sensor-token",
    "Make (or replace) the room's sensor token; shown once",
    body=SensorToken,
    status=201,
    tag="check-in",
)

routes = [
    route("/api/v1/rooms/{id:id}/sensor", report, methods=["POST"], allow=PUBLIC, csrf=False),
    route("/api/v1/rooms/{id:id}/sensor-token", make_token, methods=["POST"], allow=MANAGERS),
]
