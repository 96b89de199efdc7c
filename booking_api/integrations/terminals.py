"""Face and badge terminals (issue 18, 门禁对接): a terminal at a room's door says whom it
identified, and the room's doors open for those who may come in.

    POST /api/v1/rooms/{id}/terminal-token {}                  (the room's admins) → {"token"}, shown once
    POST /api/v1/rooms/{id}/access-events  X-Terminal-Token: <the token>
         {"person": "E1024" | "li@example.com" | 7, "method": "face" | "card", "at": "…"}

The token is the room's own (like its sensor's: made by its admins, stored hashed), not a
user's. `person` is an employee number (set on the users page), else an email, else a
user id. Then, by `access.may_open`:

- the organizer or an attendee of the room's meeting now (within its window: from the
  opening of check-in until its end) checks it in through the normal check-in (`via`: the
  method; an event, an audit entry) when it is not yet, and the doors that open on
  check-in open;
- someone with the "open doors" right (the room's admins, service staff, admins) opens
  every door of the room, at any time;
- anyone else, someone unknown or deactivated, is refused (403) and audited
  (`door.refused`), as is a report whose `at` is more than STALE_SECONDS away from now.

Each opening is audited under the person identified (`door.open`: why, the controller's
answer). A retry with the same `Idempotency-Key` gets the first answer and opens nothing.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from booking_api.doors import checkin
from booking_api.doors.sensors import check_room_token, door_of
from booking_api.integrations import access
from booking_api.integrations.models import TerminalKey
from booking_api.models import CheckIn
from booking_api.rooms.rooms import MANAGERS, get_room, may_manage
from signage import audit, clock, idempotency, openapi
from signage.api import json_body, parse
from signage.auth import PUBLIC, hash_token, route
from signage.errors import AppError, Conflict, Forbidden, Invalid
from signage.i18n import gettext as _
from signage.models import User
from signage.responses import JSONResponse, created

STALE_SECONDS = 120  # a report older (or later) than this opens nothing: the person has gone
HEADER = "X-Terminal-Token"


class AccessEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person: str | int = Field(description="whom the terminal identified: an employee number, an email or a user id")
    method: Literal["face", "card"] = Field(description="how: a face, or a badge (card)")
    at: dt.datetime | None = Field(None, description="when it identified them (with an offset); default: now")


class AccessAnswer(BaseModel):
    room_id: int
    user_id: int
    name: str
    allowed: bool
    reason: Literal["attendee", "staff"] = Field(description="attendee: of the meeting now; staff: the open-doors right")
    booking_id: int | None = Field(description="the meeting now, for an attendee")
    checked_in: bool = Field(description="this report checked the meeting in")
    doors: list[access.Opened]


class TerminalToken(BaseModel):
    model_config = ConfigDict(extra="forbid")


async def check_terminal(request: Request, room_id: int) -> None:
    await check_room_token(
        request, room_id, HEADER, "terminal_token_hash", _("The terminal token is not valid for this room.")
    )


async def find_person(s, person: str | int) -> User | None:
    """By employee number, else email, else user id."""
    text = str(person).strip()
    if not text or len(text) > 254:
        return None
    user = await s.scalar(select(User).where(User.employee_no == text))
    if user is None and "@" in text:
        user = await s.scalar(select(User).where(func.lower(User.email) == text.lower()))
    if user is None and text.isascii() and text.isdigit() and len(text) < 10:
        user = await s.get(User, int(text))
    return user


async def report(request: Request) -> Response:
    room_id = request.path_params["id"]
    request.state.user = None  # the terminal asks, not a browser signed in on the same machine
    try:
        await check_terminal(request, room_id)
    except AppError as exc:
        await audit.record(request, "door.terminal", f"room:{room_id}", result="failure", reason=exc.message)
        raise
    return await idempotency.keyed(request, identified, TerminalKey, room_id=room_id)


async def refused(request: Request, room_id: int, exc: AppError, said: str, user: User | None = None) -> AppError:
    """The refusal, audited (`door.refused`: what the terminal said, and why not)."""
    await audit.record(request, "door.refused", f"room:{room_id}", result="failure", reason=f"{said}: {exc.message}",
                       user=user)  # fmt: skip
    return exc


async def identified(request: Request) -> Response:
    room_id, now, settings = request.path_params["id"], clock.now(), request.app.state.settings
    try:
        body = parse(AccessEvent, await json_body(request))
    except AppError as exc:
        await audit.record(request, "door.terminal", f"room:{room_id}", result="failure", reason=exc.message)
        raise
    said = f"{body.method} at the terminal: {str(body.person)[:100]}"
    if body.at is not None and body.at.tzinfo is None:
        exc = Invalid(_("Give the time with its offset, as 2026-12-01T09:58:00+08:00."), {"field": "at"})
        raise await refused(request, room_id, exc, said)
    if body.at is not None and abs((now - body.at).total_seconds()) > STALE_SECONDS:
        why = _("This identification is not from now (more than %(n)s seconds away); nothing was opened.",
                n=STALE_SECONDS)  # fmt: skip
        raise await refused(request, room_id, Conflict(why, {"field": "at"}), said)
    async with request.app.state.db.session() as s:
        user = await find_person(s, body.person)
        if user is None or not user.is_active:
            raise await refused(request, room_id, Forbidden(_("Nobody known and active is called that here.")), said)
        reason = await access.may_open(s, user, room_id, now, settings)
        meeting = await access.current_meeting(s, room_id, now, settings) if reason == "attendee" else None
        checked = await s.get(CheckIn, meeting.id) if meeting is not None else None
    if reason is None:
        raise await refused(request, room_id, Forbidden(access.refusal()), said, user)
    request.state.user = user  # what follows is the person's doing: the check-in's event and audit
    checked_in = False
    if meeting is not None and checked is None:
        try:
            done = await checkin.check_in(request, meeting.id, body.method, room_id=room_id, user=user)
            checked_in = not done["already"]
        except Conflict:  # check-in closed, yet the meeting goes on: the door opens all the same
            pass
    why = f"{said} ({reason})" + (f": check-in of booking {meeting.id}" if checked_in else "")
    doors = await access.open_room(request.app, room_id, user.email, why, user=user, only_checkin=meeting is not None)
    return JSONResponse(
        {
            "room_id": room_id,
            "user_id": user.id,
            "name": user.name or user.email,
            "allowed": True,
            "reason": reason,
            "booking_id": meeting.id if meeting is not None else None,
            "checked_in": checked_in,
            "doors": doors,
        }
    )


async def make_token(request: Request) -> Response:
    room_id = request.path_params["id"]
    raw = await request.body()
    if raw.strip():
        parse(TerminalToken, await json_body(request))
    token = "trm_" + secrets.token_urlsafe(32)
    async with request.app.state.db.begin() as s:
        await get_room(s, room_id)
        if not await may_manage(s, request.state.user, room_id):
            raise Forbidden(_("Only the room's admins may connect its terminals."))
        door = await door_of(s, room_id)
        door.terminal_token_hash = hash_token(token)
    await audit.record(request, "terminal.token", f"room:{room_id}")
    # The token is never shown again: the room's doors, which the terminal opens, are where to read on.
    return created({"room_id": room_id, "token": token}, f"/api/v1/rooms/{room_id}/doors")


openapi.add(
    "post",
    "/api/v1/rooms/{id}/access-events",
    "A face or badge terminal says whom it identified (its own token in X-Terminal-Token, not a user's): "
    "the meeting's organizer and attendees are checked in and let in, staff with the open-doors right let in, "
    "anyone else refused",
    body=AccessEvent,
    response=AccessAnswer,
    tag="doors",
    errors=(400, 401, 403, 404, 409),
    headers={HEADER: "the room's terminal token"},
)
openapi.add(
    "post",
    "/api/v1/rooms/{id}/terminal-token",
    "Make (or replace) the room's terminal token for face and badge terminals; shown once",
    body=TerminalToken,
    status=201,
    tag="doors",
)

routes = [
    route("/api/v1/rooms/{id:id}/access-events", report, methods=["POST"], allow=PUBLIC, csrf=False,
          own_idempotency=True),  # fmt: skip
    route("/api/v1/rooms/{id:id}/terminal-token", make_token, methods=["POST"], allow=MANAGERS),
]
