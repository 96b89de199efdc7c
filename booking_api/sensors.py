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

from booking_api import checkin
from booking_api.bookings import announce
from booking_api.models import DoorSettings
from booking_api.rooms import MANAGERS, get_room, may_manage
from booking_api.roomstate import load_status
from signage import audit, clock, openapi
from signage.api import json_body, parse
from signage.auth import PUBLIC, hash_token, route
from signage.errors import AppError, Forbidden, Unauthorized
from signage.i18n import gettext as _
from signage.responses import JSONResponse


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


async def check_sensor(request: Request, room_id: int) -> None:
    given = request.headers.get("x-sensor-token", "")
    async with request.app.state.db.session() as s:
        await get_room(s, room_id)
        door = await s.get(DoorSettings, room_id)
    stored = door.sensor_token_hash if door else None
    if not given or not stored or not secrets.compare_digest(stored, hash_token(given)):
        raise Unauthorized(_("The sensor token is not valid for this room."))


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
        if door.present is not body.present:
            door.present, door.present_since = body.present, now
    checked = None
    if body.present:
        async with request.app.state.db.session() as s:
            status = await load_status(s, await get_room(s, room_id), now, request.app.state.settings)
        if status["checkin"]:
            checked = (await checkin.check_in(request, status["checkin"]["booking_id"], "sensor", room_id=room_id))[
                "booking_id"
            ]
            await audit.record(request, "booking.check_in", f"booking:{checked}", reason="sensor")
    await announce(request, {room_id})
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
    return JSONResponse({"room_id": room_id, "token": token, "absent_minutes": body.absent_minutes}, status_code=201)


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
