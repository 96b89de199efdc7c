"""Door access (issue 18, 门禁对接): a room's doors opened through their access controllers.

    POST   /api/v1/rooms/{id}/doors {"name", "kind": "relay"|"hikvision"|"webhook", "url", "target",
                                     "username", "password", "open_on_checkin"}   (the room's admins)
    GET    /api/v1/rooms/{id}/doors,  DELETE /api/v1/doors/{id}
    POST   /api/v1/rooms/{id}/doors/open {"reason"}   → each door's answer

Who may open a room's doors: those with the "open doors" right (`may_open_any_time`: the
room's admins, service staff and admins) at any time; the organizer and the attendees of a
meeting of the room within its window (`current_meeting`: from the opening of its check-in
until its end). Face and badge terminals report through `terminals.py` by the same rules.

A check-in opens the room's doors that say `open_on_checkin`: the `doors` consumer of the
event log follows `booking.checked_in` and, once its delivery has committed, opens them in
a task of its own, so a controller never holds up the check-in. Each opening is audited
(`door.open`: who, why, the controller's answer); a controller that fails or does not
answer within TIMEOUT is tried once more, then reported (`result: failure`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import event as orm_event
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from booking_api.doors.roomstate import checkin_window, door_rules
from booking_api.integrations.models import DoorController
from booking_api.models import Attendee, Booking, DoorSettings
from booking_api.rooms.rooms import get_room, may_manage
from signage import audit, clock, openapi, outbound, topics
from signage.api import json_body, parse
from signage.auth import SIGNED_IN, route
from signage.errors import AppError, Forbidden, NotFound
from signage.i18n import gettext as _
from signage.models import AuditEntry
from signage.responses import JSONResponse, created

log = logging.getLogger("signage.doors")

TIMEOUT = 5.0
ISAPI_OPEN = "<RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>"
MANAGERS = ("room_admin",)
STAFF = ("admin", "service")  # open every room's doors; room admins their rooms'
TERMINAL_METHODS = ("face", "card")  # check-ins by a terminal, which opens the doors itself


def refusal() -> str:
    return _(
        "Only the room's admins and service staff, and the organizer and attendees of its meeting now, "
        "may open its doors."
    )


class DoorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["relay", "hikvision", "webhook"]
    url: str = Field(max_length=2000, description="the controller's base URL (webhook: the URL posted to)")
    target: str = Field("", max_length=100, description="relay: the switch id; hikvision: the door number")
    username: str = Field("", max_length=100, description="hikvision: digest auth")
    password: str = Field("", max_length=200)
    open_on_checkin: bool = True


class DoorOut(BaseModel):
    id: int
    room_id: int
    name: str
    kind: str
    url: str
    target: str
    open_on_checkin: bool


class OpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=500)


class Opened(BaseModel):
    door_id: int
    name: str
    ok: bool
    answer: str = Field(description="the controller's answer (status and the start of its body), or why none came")


def door_json(d: DoorController) -> dict:
    return {k: getattr(d, k) for k in ("id", "room_id", "name", "kind", "url", "target", "open_on_checkin")}


async def call(http: httpx.AsyncClient, d: DoorController, who: str, why: str) -> httpx.Response:
    base = d.url.rstrip("/")
    if d.kind == "relay":
        return await http.post(f"{base}/switch/{d.target}/turn_on")
    if d.kind == "hikvision":
        return await http.put(
            f"{base}/ISAPI/AccessControl/RemoteControl/door/{d.target or 1}",
            content=ISAPI_OPEN,
            headers={"content-type": "application/xml"},
            auth=httpx.DigestAuth(d.username, d.password),
        )
    return await http.post(d.url, json={"door_id": d.id, "room_id": d.room_id, "door": d.name, "who": who, "why": why})


async def open_one(http, d: DoorController, who: str, why: str, allow_private: bool) -> tuple[bool, str]:
    """(opened, the answer), tried twice."""
    answer = ""
    for _attempt in range(2):
        try:
            await outbound.check_host(d.url, allow_private)
            r = await call(http, d, who, why)
        except outbound.Refused as exc:
            return False, str(exc)
        except httpx.TimeoutException:
            answer = f"no answer within {TIMEOUT:g} s"
            continue
        except httpx.HTTPError as exc:
            answer = f"{type(exc).__name__}: {exc}"
            continue
        answer = f"HTTP {r.status_code} {r.text[:200]}".strip()
        if 200 <= r.status_code < 300:
            return True, answer
    return False, answer


async def open_room(app, room_id: int, who: str, why: str, user=None, only_checkin: bool = False) -> list[dict]:
    """Open the room's doors (all, or those that open on check-in); each one audited."""
    db, settings = app.state.db, app.state.settings
    async with db.session() as s:
        query = select(DoorController).where(DoorController.room_id == room_id).order_by(DoorController.id)
        if only_checkin:
            query = query.where(DoorController.open_on_checkin)
        doors = (await s.scalars(query)).all()
    if not doors:
        return []
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as http:
        results = await asyncio.gather(*(open_one(http, d, who, why, settings.webhook_allow_private) for d in doors))
    out = []
    async with db.begin() as s:
        for d, (ok, answer) in zip(doors, results, strict=True):
            if not ok:
                log.warning("door %s (%s) did not open: %s", d.id, d.name, answer)
            s.add(
                AuditEntry(
                    user_id=getattr(user, "id", None), user_email=getattr(user, "email", who), role=getattr(user, "role", ""),
                    action="door.open", target=f"door:{d.id}", result="success" if ok else "failure",
                    reason=f"{why}: {answer}"[:2000], client="",
                )
            )  # fmt: skip
            out.append({"door_id": d.id, "name": d.name, "ok": ok, "answer": answer})
    await app.state.bus.notify_many(topics.page_changed("audit"))
    return out


FOLLOWS = ("booking.checked_in",)  # the events `consumer` acts on


def consumer(app):
    """`booking.checked_in` → the room's doors that open on check-in, after the commit."""
    tasks: set[asyncio.Task] = set()

    async def handle(s, events) -> None:
        wanted = [e for e in events if e.type == "booking.checked_in"]
        if not wanted:
            return
        loop = asyncio.get_running_loop()

        def start(_session) -> None:
            for e in wanted:
                if e.data.get("check_in", {}).get("via") in TERMINAL_METHODS:
                    continue  # the terminal's request opened them (terminals.py)
                why = f"check-in of booking {e.data['id']}"
                task = loop.create_task(open_room(app, e.data["room_id"], e.actor, why, only_checkin=True))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        orm_event.listen(s.sync_session, "after_commit", start, once=True)

    return handle


async def managed_room(request: Request) -> int:
    """The path's room, if the user manages it."""
    room_id, user = request.path_params["id"], request.state.user
    async with request.app.state.db.session() as s:
        await get_room(s, room_id)
        if not await may_manage(s, user, room_id):
            raise Forbidden(_("Only the room's admins may do this."))
    return room_id


async def api_add(request: Request) -> Response:
    room_id = await managed_room(request)
    body = parse(DoorIn, await json_body(request))
    body.url = await outbound.checked_url(body.url, request.app.state.settings.webhook_allow_private)
    async with request.app.state.db.begin() as s:
        d = DoorController(room_id=room_id, **body.model_dump())
        s.add(d)
        await s.flush()
    return created(door_json(d), f"/api/v1/doors/{d.id}")


async def api_get(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        d = await s.get(DoorController, request.path_params["id"])
        if d is None:
            raise NotFound(_("No such door."))
        if not await may_manage(s, request.state.user, d.room_id):
            raise Forbidden(_("Only the room's admins may do this."))
    return JSONResponse(door_json(d))


async def api_list(request: Request) -> Response:
    room_id = await managed_room(request)
    async with request.app.state.db.session() as s:
        found = (await s.scalars(select(DoorController).where(DoorController.room_id == room_id))).all()
    return JSONResponse([door_json(d) for d in found])


async def api_delete(request: Request) -> Response:
    async with request.app.state.db.begin() as s:
        d = await s.get(DoorController, request.path_params["id"])
        if d is None:
            raise NotFound(_("No such door."))
        if not await may_manage(s, request.state.user, d.room_id):
            raise Forbidden(_("Only the room's admins may do this."))
        await s.delete(d)
    return Response(status_code=204)


async def may_open_any_time(s, user, room_id: int) -> bool:
    """The "open doors" right: the room's admins, service staff and admins, at any time."""
    return user.is_active and (user.role in STAFF or await may_manage(s, user, room_id))


async def current_meeting(s, room_id: int, now: dt.datetime, settings) -> Booking | None:
    """The room's confirmed meeting whose window holds `now`: from its check-in's opening
    (SIGNAGE_CHECKIN_OPENS_MINUTES or the room's own) until its end."""
    rules = door_rules(await s.get(DoorSettings, room_id), settings)
    found = await s.scalars(
        select(Booking)
        .where(
            Booking.room_id == room_id,
            Booking.status == "confirmed",
            Booking.start_at <= now + rules["opens"],
            Booking.end_at > now,
        )
        .order_by(Booking.start_at)
    )
    return next((b for b in found if checkin_window(b, rules)[0] <= now), None)


async def concerned(s, user, b: Booking) -> bool:
    """The meeting's organizer or one of its attendees."""
    if b.organizer_id == user.id:
        return True
    invited = select(Attendee.id).where(Attendee.booking_id == b.id, Attendee.user_id == user.id)
    return await s.scalar(invited) is not None


def in_window(b: Booking, rules: dict, now: dt.datetime) -> bool:
    """From the opening of the meeting's check-in until its end, when it is confirmed."""
    return b.status == "confirmed" and checkin_window(b, rules)[0] <= now < b.end_at


async def may_open(s, user, room_id: int, now: dt.datetime, settings, booking_id: int | None = None) -> str | None:
    """Why the user may open the room's doors now ("staff", "attendee"), or None. An attendee
    of the room's meeting now; with `booking_id`, of that meeting, now within its window."""
    if await may_open_any_time(s, user, room_id):
        return "staff"
    if not user.is_active:
        return None
    if booking_id is None:
        b = await current_meeting(s, room_id, now, settings)
    else:
        b = await s.get(Booking, booking_id)
        rules = door_rules(await s.get(DoorSettings, room_id), settings)
        if b is None or b.room_id != room_id or not in_window(b, rules, now):
            return None
    return "attendee" if b is not None and await concerned(s, user, b) else None


async def open_by_hand(request: Request, room_id: int, reason: str = "", booking_id: int | None = None) -> list[dict]:
    """The room's doors opened for the signed-in user, if they may now (else Forbidden);
    each door's answer. Refusals are audited (`door.refused`)."""
    user = request.state.user
    try:
        async with request.app.state.db.session() as s:
            await get_room(s, room_id)
            as_ = await may_open(s, user, room_id, clock.now(), request.app.state.settings, booking_id)
        if as_ is None:
            raise Forbidden(refusal())
    except AppError as exc:
        await audit.record(request, "door.refused", f"room:{room_id}", result="failure", reason=exc.message)
        raise
    why = f"opened by hand ({as_}): {reason}".strip(": ")
    return await open_room(request.app, room_id, user.email, why, user=user)


async def room_has_doors(s, room_id: int) -> bool:
    return await s.scalar(select(DoorController.id).where(DoorController.room_id == room_id).limit(1)) is not None


async def api_open(request: Request) -> Response:
    room_id = request.path_params["id"]
    try:
        raw = await request.body()
        body = parse(OpenIn, await json_body(request)) if raw.strip() else OpenIn()
    except AppError as exc:
        await audit.record(request, "door.refused", f"room:{room_id}", result="failure", reason=exc.message)
        raise
    return JSONResponse(await open_by_hand(request, room_id, body.reason))


TAG = "doors"
openapi.add("post", "/api/v1/rooms/{id}/doors", "Add a door (access controller) to a room", body=DoorIn,
            response=DoorOut, status=201, tag=TAG)  # fmt: skip
openapi.add("get", "/api/v1/rooms/{id}/doors", "A room's doors", response=list[DoorOut], tag=TAG)
openapi.add("get", "/api/v1/doors/{id}", "One door", response=DoorOut, tag=TAG)
openapi.add("delete", "/api/v1/doors/{id}", "Remove a door", status=204, tag=TAG)
openapi.add("post", "/api/v1/rooms/{id}/doors/open",
            "Open the room's doors now (its admins and service staff at any time, its meeting's organizer and "
            "attendees from the opening of check-in until the end; audited)", body=OpenIn, optional_body=True, response=list[Opened],
            tag=TAG, errors=(400, 401, 403, 404))  # fmt: skip

routes = [
    route("/api/v1/rooms/{id:id}/doors", api_add, methods=["POST"], allow=MANAGERS),
    route("/api/v1/rooms/{id:id}/doors", api_list, allow=MANAGERS),
    route("/api/v1/doors/{id:id}", api_get, allow=MANAGERS),
    route("/api/v1/doors/{id:id}", api_delete, methods=["DELETE"], allow=MANAGERS),
    route("/api/v1/rooms/{id:id}/doors/open", api_open, methods=["POST"], allow=SIGNED_IN),
]
