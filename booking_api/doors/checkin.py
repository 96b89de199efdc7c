"""Check-in, ending early and extending (SPEC B5), for door screens, phones, the API and sensors.

Check-in is open from the room's `opens` minutes before a meeting's start until
`grace` minutes after it (`roomstate.door_rules`). A tap on the door screen, a
phone that scanned the door's QR code, the API and a presence sensor all end up in
`check_in`. The QR code carries a signed, short-lived token (itsdangerous, the app's
secret) naming the room and the meeting:

    token = qr_token(settings, room_id=3, booking_id=41)   # valid QR_SECONDS
    read_qr_token(settings, token) → (3, 41), or Invalid (expired, forged)
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from booking_api.bookings import changes, rules
from booking_api.bookings.bookings import get_booking, may_change
from booking_api.doors.roomstate import checkin_window, door_rules
from booking_api.models import Attendee, CheckIn, DoorSettings, Room
from signage import audit, clock, openapi
from signage.api import json_body, parse
from signage.auth import SIGNED_IN, route
from signage.errors import AppError, Conflict, Forbidden, Invalid
from signage.i18n import format_datetime
from signage.i18n import gettext as _
from signage.responses import JSONResponse

QR_SECONDS = 300  # a door screen shows a fresh code at least every 30 s


class BucketSigner(TimestampSigner):
    """Timestamps in 30-second steps: a door screen's code (and its QR image, cached) stays
    the same between refreshes instead of changing every second."""

    def get_timestamp(self) -> int:
        return int(time.time()) // 30 * 30


def _serializer(settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="signage.checkin", signer=BucketSigner)


def qr_token(settings, room_id: int, booking_id: int) -> str:
    return _serializer(settings).dumps({"r": room_id, "b": booking_id})


def read_qr_token(settings, token: str) -> tuple[int, int]:
    try:
        data = _serializer(settings).loads(token, max_age=QR_SECONDS)
        return int(data["r"]), int(data["b"])
    except SignatureExpired:
        raise Invalid(_("This check-in code has expired. Scan the code on the door screen again.")) from None
    except (BadSignature, KeyError, TypeError, ValueError):
        raise Invalid(_("This check-in code is not valid.")) from None


def hhmm(value: dt.datetime) -> str:
    return format_datetime(value, "HH:mm")


def refuse_inactive(b) -> None:
    if b.status in ("cancelled", "rejected"):
        raise Conflict(_("This meeting was cancelled; there is nothing to check in to."))
    if b.status == "no_show":
        raise Conflict(_("This meeting was released because nobody checked in."))
    if b.status == "pending":
        raise Conflict(_("This meeting is still waiting for approval."))


async def may_check_in(s, user, b) -> bool:
    if user.role == "service" or await may_change(s, user, b):
        return True
    invited = select(Attendee.id).where(Attendee.booking_id == b.id, Attendee.user_id == user.id)
    return await s.scalar(invited) is not None


async def check_in(request: Request, booking_id: int, via: str, room_id: int | None = None, user=None) -> dict:
    """Check a meeting in; {"booking_id", "at", "already"}. Refusals change nothing."""
    now, settings = clock.now(), request.app.state.settings
    async with request.app.state.db.begin() as s:
        b = await get_booking(s, booking_id, lock=True)
        if room_id is not None and b.room_id != room_id:
            raise Forbidden(_("This meeting is in another room."))
        if via == "api" and user is not None and not await may_check_in(s, user, b):
            # at the door (tap, QR code, sensor) anyone present may; from afar only those concerned
            raise Forbidden(_("Only the organizer, the attendees and the room's admins may check it in from afar."))
        refuse_inactive(b)
        done = await s.get(CheckIn, b.id)
        if done is not None:
            return {"booking_id": b.id, "at": done.at.isoformat(), "already": True, "room_id": b.room_id}
        opens, closes = checkin_window(b, door_rules(await s.get(DoorSettings, b.room_id), settings))
        if now < opens:
            raise Conflict(_("Check-in opens at %(t)s.", t=hhmm(opens)), {"opens": opens.isoformat()})
        if now > closes or now >= b.end_at:
            raise Conflict(
                _("Check-in closed at %(t)s.", t=hhmm(min(closes, b.end_at))), {"closes": closes.isoformat()}
            )
        s.add(CheckIn(booking_id=b.id, at=now, via=via, user_id=user.id if user else None))
        b.updated_at = clock.now()  # a release racing this one sees the row changed (roomstate)
        room_id = b.room_id
        checked = {"check_in": {"at": now.isoformat(), "via": via}}
        await changes.record(s, "booking.checked_in", [b.id], request, checked, reason=said(request, via))
    return {"booking_id": booking_id, "at": now.isoformat(), "already": False, "room_id": room_id}


def said(request: Request, via: str) -> str:
    """The audit entry's reason: how the change came (api, qr, sensor, door screen 7)."""
    screen = getattr(request.state, "screen", None)
    return f"door screen {screen.id}" if via == "door" and screen is not None else via


def in_progress(b, now: dt.datetime) -> None:
    if b.status != "confirmed":
        refuse_inactive(b)
    if not b.start_at <= now < b.end_at:
        raise Conflict(_("This meeting is not in progress."))


async def end_meeting(request: Request, booking_id: int, room_id: int | None = None, user=None) -> dict:
    now = clock.now()
    async with request.app.state.db.begin() as s:
        b = await get_booking(s, booking_id, lock=True)
        if room_id is not None and b.room_id != room_id:
            raise Forbidden(_("This meeting is in another room."))
        if user is not None and user.role != "service" and not await may_change(s, user, b):
            raise Forbidden(_("Only the organizer or the room's admins may end this meeting."))
        in_progress(b, now)
        room = await s.get(Room, b.room_id)
        b.planned_end_at = b.planned_end_at or b.end_at  # what was booked, for statistics
        b.end_at = max(now.replace(microsecond=0), b.start_at + dt.timedelta(minutes=1))
        b.released_at = b.end_at
        b.blocked_until = rules.blocked_until(room, b.end_at)
        await changes.record(s, "booking.ended", [b.id], request, reason=said(request, "api" if user else "door"))
    return {"booking_id": b.id, "end": b.end_at.isoformat(), "room_id": b.room_id}


class Extend(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minutes: int = Field(15, ge=5, le=240, description="how much longer")


async def extend_meeting(
    request: Request, booking_id: int, minutes: int, room_id: int | None = None, user=None
) -> dict:
    now, tz = clock.now(), request.app.state.settings.timezone
    try:
        async with request.app.state.db.begin() as s:
            b = await get_booking(s, booking_id, lock=True)
            if room_id is not None and b.room_id != room_id:
                raise Forbidden(_("This meeting is in another room."))
            if user is not None and user.role != "service" and not await may_change(s, user, b):
                raise Forbidden(_("Only the organizer or the room's admins may extend this meeting."))
            in_progress(b, now)
            room = await s.get(Room, b.room_id)
            end = b.end_at + dt.timedelta(minutes=minutes)
            if not rules.within_open_hours(room, b.start_at, end, ZoneInfo(tz)):
                raise Conflict(_("%(room)s closes before then.", room=room.name))
            if await rules.conflicts(s, room.id, b.end_at, rules.blocked_until(room, end), exclude=[b.id]):
                raise Conflict(_("The room is booked after this meeting; it cannot be extended."))
            b.end_at, b.blocked_until = end, rules.blocked_until(room, end)
            how = said(request, "api" if user else "door")
            await changes.record(s, "booking.extended", [b.id], request, {"minutes": minutes}, reason=how)
    except IntegrityError:
        raise Conflict(_("The room is booked after this meeting; it cannot be extended.")) from None
    return {"booking_id": b.id, "end": b.end_at.isoformat(), "room_id": b.room_id}


# ---------------------------------------------------------------- API


async def _recorded(request: Request, action: str, work) -> Response:
    booking_id = request.path_params["id"]
    try:
        answer = await work
    except AppError as exc:
        await audit.record(request, action, f"booking:{booking_id}", result="failure", reason=exc.message)
        raise
    return JSONResponse(answer)  # audited with the change


async def api_check_in(request: Request) -> Response:
    user = request.state.user
    return await _recorded(request, "booking.check_in", check_in(request, request.path_params["id"], "api", user=user))


async def api_end(request: Request) -> Response:
    user = request.state.user
    return await _recorded(request, "booking.end", end_meeting(request, request.path_params["id"], user=user))


async def api_extend(request: Request) -> Response:
    booking_id, user = request.path_params["id"], request.state.user
    try:
        body = parse(Extend, await json_body(request))
    except AppError as exc:
        await audit.record(request, "booking.extend", f"booking:{booking_id}", result="failure", reason=exc.message)
        raise
    return await _recorded(request, "booking.extend", extend_meeting(request, booking_id, body.minutes, user=user))


class CheckedIn(BaseModel):
    booking_id: int
    room_id: int
    at: str
    already: bool


class Changed(BaseModel):
    booking_id: int
    room_id: int
    end: str


for path, summary, model, body in (
    ("check-in", "Check a meeting in (within its check-in window)", CheckedIn, None),
    ("end", "End a meeting in progress now; the room becomes free", Changed, None),
    ("extend", "Extend a meeting in progress when the room is free after it", Changed, Extend),
):
    openapi.add(
        "post",
        f"/api/v1/bookings/{{id}}/{path}",
        summary,
        body=body,
        response=model,
        tag="check-in",
        errors=(400, 401, 403, 404, 409),
    )

routes = [
    route("/api/v1/bookings/{id:id}/check-in", api_check_in, methods=["POST"], allow=SIGNED_IN),
    route("/api/v1/bookings/{id:id}/end", api_end, methods=["POST"], allow=SIGNED_IN),
    route("/api/v1/bookings/{id:id}/extend", api_extend, methods=["POST"], allow=SIGNED_IN),
]
