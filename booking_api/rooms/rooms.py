"""Rooms (SPEC B1): admin pages and the API. Room admins manage the rooms they own."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import String, bindparam, cast, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking_api.desk.models import RoomCare
from booking_api.meetings import store
from booking_api.models import ACTIVE, Booking, Room, RoomOwner
from booking_api.rooms.availability import (
    FILTER_PARAMS,
    OutOfService,
    equipped,
    filters_of,
    out_of_service,
    where_filters,
)
from player.models import Screen
from signage import audit, clock, openapi
from signage.api import (
    PAGING,
    Id,
    Keyset,
    check_match,
    if_match,
    json_body,
    list_limit,
    param,
    parse,
    refuse_unknown,
    tagged,
)
from signage.auth import SIGNED_IN, route
from signage.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from signage.eventlog import log as eventlog
from signage.eventlog.log import actor_of
from signage.i18n import gettext as _
from signage.models import User
from signage.responses import JSONResponse
from signage.templating import render

MANAGERS = ("room_admin",)
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def hhmm(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


class RoomIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    building: str = Field("", max_length=200)
    floor: str = Field("", max_length=50)
    capacity: int = Field(ge=1, le=10000)
    equipment: list[str] = Field(default_factory=list, max_length=50)
    photo_url: str = Field(
        "", max_length=500, pattern=r"^(https?://\S+|/\S*)?$", description="http(s):// or a path on this server"
    )
    opens_at: str = Field("00:00", pattern=HHMM.pattern, description="local time HH:MM")
    closes_at: str = Field("24:00", pattern=HHMM.pattern, description="local time HH:MM")
    needs_approval: bool = False
    private_default: bool = Field(False, description="its meetings are private unless booked otherwise")
    approval: Literal["internal", "external"] = Field(
        "internal", description="who approves: its room admins, or an external OA (webhook booking.approval_requested)"
    )
    undecided: Literal["reject", "approve"] = Field(
        "reject", description="an external approval not given within SIGNAGE_APPROVAL_HOURS: rejected or approved"
    )
    buffer_minutes: int = Field(0, ge=0, le=240)
    max_minutes: int = Field(0, ge=0, le=24 * 60, description="longest booking; 0 for no limit")
    window_days: int = Field(0, ge=0, le=730, description="how far ahead it can be booked; 0 for no limit")
    notice_minutes: int = Field(0, ge=0, le=30 * 24 * 60, description="minimum notice")
    owner_ids: list[Id] = Field(default_factory=list, max_length=100, description="room admins who approve")

    @field_validator("name", "building", "floor")
    @classmethod
    def strip(cls, v: str) -> str:
        return v.strip()

    @field_validator("equipment")
    @classmethod
    def clean(cls, v: list[str]) -> list[str]:
        return sorted({e.strip()[:50] for e in v if e.strip()})


class RoomOut(BaseModel):
    id: int
    name: str
    building: str
    floor: str
    capacity: int
    equipment: list[str]
    photo_url: str
    opens_at: str
    closes_at: str
    needs_approval: bool
    private_default: bool
    approval: str
    undecided: str
    buffer_minutes: int
    max_minutes: int
    window_days: int
    notice_minutes: int
    owner_ids: list[int]
    out_of_service: OutOfService | None = Field(
        description="set, the room takes no bookings: PUT /api/v1/rooms/{id}/service-state (read-only here)"
    )


def room_json(room: Room, owner_ids: list[int]) -> dict:
    return {
        "id": room.id,
        "name": room.name,
        "building": room.building,
        "floor": room.floor,
        "capacity": room.capacity,
        "equipment": list(room.equipment),
        "photo_url": room.photo_url,
        "opens_at": hhmm(room.opens_at),
        "closes_at": hhmm(room.closes_at),
        "needs_approval": room.needs_approval,
        "private_default": room.private_default,
        "approval": room.approval,
        "undecided": room.undecided,
        "buffer_minutes": room.buffer_minutes,
        "max_minutes": room.max_minutes,
        "window_days": room.window_days,
        "notice_minutes": room.notice_minutes,
        "owner_ids": owner_ids,
        "out_of_service": out_of_service(room),
    }


async def owners_of(s, room_ids) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for room_id, user_id in await s.execute(
        select(RoomOwner.room_id, RoomOwner.user_id).where(RoomOwner.room_id.in_(room_ids))
    ):
        found.setdefault(room_id, []).append(user_id)
    return found


async def may_manage(s, user: User, room_id: int) -> bool:
    if user.role == "admin":
        return True
    return await s.get(RoomOwner, (room_id, user.id)) is not None


async def get_room(s, room_id: int) -> Room:
    room = await s.get(Room, room_id)
    if room is None:
        raise NotFound(_("No such room."), {"field": "room_id"})
    return room


async def save_room(request: Request, body: RoomIn, room_id: int | None = None, expected: str | None = None) -> Room:
    """Create or update a room from checked input, in one transaction."""
    user = request.state.user
    values = body.model_dump(exclude={"owner_ids"})
    values["opens_at"], values["closes_at"] = minutes(body.opens_at), minutes(body.closes_at)
    if values["opens_at"] >= values["closes_at"]:
        raise Invalid(_("The room must open before it closes."), {"field": "closes_at"})
    owner_ids = set(body.owner_ids) or ({user.id} if user.role == "room_admin" else set())
    try:
        async with request.app.state.db.begin() as s:
            if owner_ids:
                ok = set(
                    await s.scalars(
                        select(User.id).where(User.id.in_(owner_ids), User.role.in_(("room_admin", "admin")))
                    )
                )
                if ok != owner_ids:
                    raise Invalid(_("Owners must be room admins."), {"field": "owner_ids"})
            if room_id is None:
                room = Room(**values)
                s.add(room)
                await s.flush()
            else:
                room = await get_room(s, room_id)
                if not await may_manage(s, user, room.id):
                    raise Forbidden(_("You do not manage this room."))
                if expected is not None:
                    check_match(expected, room_json(room, (await owners_of(s, [room.id])).get(room.id, [])))
                for k, v in values.items():
                    setattr(room, k, v)
                await s.execute(delete(RoomOwner).where(RoomOwner.room_id == room.id))
            s.add_all(RoomOwner(room_id=room.id, user_id=uid) for uid in owner_ids)
            await s.flush()
            kind = "room.created" if room_id is None else "room.updated"
            await eventlog.record(s, kind, f"room:{room.id}", room_json(room, sorted(owner_ids)), actor_of(request))
    except IntegrityError:
        raise Conflict(_("A room with this name exists already."), {"field": "name"}) from None
    return room  # its screens and pages are told by its event (the live consumer)


async def delete_room(request: Request, room_id: int, expected: str | None = None) -> str:
    """Delete a room with its past bookings; refused (409) while it has meetings to come.
    Returns the room's name."""
    async with request.app.state.db.begin() as s:
        # Locked first: a booking being written into the room (its foreign key) is waited for
        # and then seen below; one written after this waits and then finds no room.
        room = await s.get(Room, room_id, with_for_update=True)
        if room is None:
            raise NotFound(_("No such room."), {"field": "room_id"})
        if not await may_manage(s, request.state.user, room.id):
            raise Forbidden(_("You do not manage this room."))
        if expected is not None:
            check_match(expected, room_json(room, (await owners_of(s, [room.id])).get(room.id, [])))
        coming = (
            await s.scalars(
                select(Booking.id)
                .where(Booking.room_id == room.id, Booking.status.in_(ACTIVE), Booking.ends_after(clock.now()))
                .order_by(Booking.start_at)
                .limit(100)
            )
        ).all()
        if coming:
            raise Conflict(
                _(
                    "%(room)s still has meetings to come (%(count)s): cancel them or move them to another room first.",
                    room=room.name,
                    count=len(coming),
                ),
                {"bookings": list(coming)},
            )
        name = room.name
        await s.execute(update(Screen).where(Screen.room_id == room.id).values(room_id=None))
        await s.execute(delete(Room).where(Room.id == room.id))  # its bookings, owners and door settings go with it
        await eventlog.record(s, "room.deleted", f"room:{room_id}", {"id": room_id, "name": name}, actor_of(request))
    await store.sweep(request.app.state.db, request.app.state.settings)  # the files of its past meetings
    return name


def form_to_room(form) -> dict:
    data = {
        k: str(form.get(k, "")).strip() for k in ("name", "building", "floor", "photo_url", "opens_at", "closes_at")
    }
    for k in ("capacity", "buffer_minutes", "max_minutes", "window_days", "notice_minutes"):
        raw = str(form.get(k, "") or "0").strip()
        data[k] = int(raw) if raw.isascii() and raw.isdigit() else raw
    data["equipment"] = [e for e in str(form.get("equipment", "")).replace("，", ",").split(",")]
    data["needs_approval"] = form.get("needs_approval") is not None
    data["private_default"] = form.get("private_default") is not None
    data["approval"] = str(form.get("approval", "") or "internal")
    data["undecided"] = str(form.get("undecided", "") or "reject")
    data["owner_ids"] = [int(v) for v in form.getlist("owner_ids") if str(v).isascii() and str(v).isdigit()]
    return data


async def manage_page(
    request: Request, status_code: int = 200, error: AppError | None = None, room_id=None
) -> Response:
    user = request.state.user
    async with request.app.state.db.session() as s:
        query = select(Room).order_by(Room.building, Room.floor, Room.name)
        if user.role != "admin":
            query = query.join(RoomOwner, RoomOwner.room_id == Room.id).where(RoomOwner.user_id == user.id)
        rooms = (await s.scalars(query)).all()
        owners = await owners_of(s, [r.id for r in rooms])
        admins = (
            await s.scalars(select(User).where(User.role.in_(("room_admin", "admin"))).order_by(User.email))
        ).all()
        editing = next((r for r in rooms if r.id == room_id), None)
        care = await s.get(RoomCare, editing.id) if editing else None
    ctx = {
        "rooms": rooms,
        "owners": owners,
        "admins": admins,
        "error": error,
        "editing": editing,
        "care": care,
        "hhmm": hhmm,
    }
    return render(request, "rooms/rooms.html", ctx, status_code=status_code)


async def edit_page(request: Request) -> Response:
    return await manage_page(request, room_id=request.path_params["id"])


async def submit_room(request: Request) -> Response:
    room_id = request.path_params.get("id")
    try:
        body = parse(RoomIn, form_to_room(await request.form()), strict=False)
        room = await save_room(request, body, room_id)
    except AppError as exc:
        await audit.record(request, "room.save", f"room:{room_id or ''}", result="failure", reason=exc.message)
        if isinstance(exc, Forbidden | NotFound):
            raise
        return await manage_page(request, status_code=exc.status, error=exc, room_id=room_id)
    await audit.record(request, "room.save", f"room:{room.id}", reason=room.name)
    return RedirectResponse("/rooms/manage", status_code=303)


async def api_create(request: Request) -> Response:
    body = parse(RoomIn, await json_body(request))
    try:
        room = await save_room(request, body)
    except AppError as exc:
        await audit.record(request, "room.create", "", result="failure", reason=exc.message)
        raise
    await audit.record(request, "room.create", f"room:{room.id}", reason=room.name)
    return await api_get(request, room.id, 201)


async def api_update(request: Request) -> Response:
    room_id = request.path_params["id"]
    async with request.app.state.db.session() as s:
        current = room_json(await get_room(s, room_id), (await owners_of(s, [room_id])).get(room_id, []))
    body = parse(RoomIn, {**current, **await json_body(request)})
    room = await save_room(request, body, room_id, if_match(request))
    await audit.record(request, "room.update", f"room:{room.id}")
    return await api_get(request, room.id)


async def delete_audited(request: Request) -> None:
    room_id = request.path_params["id"]
    try:
        name = await delete_room(request, room_id, if_match(request) if request.url.path.startswith("/api/") else None)
    except AppError as exc:
        await audit.record(request, "room.delete", f"room:{room_id}", result="failure", reason=exc.message)
        raise
    await audit.record(request, "room.delete", f"room:{room_id}", reason=name)


async def delete_submit(request: Request) -> Response:
    try:
        await delete_audited(request)
    except Conflict as exc:  # meetings to come: said on the page
        return await manage_page(request, status_code=exc.status, error=exc)
    return RedirectResponse("/rooms/manage", status_code=303)


async def api_delete(request: Request) -> Response:
    await delete_audited(request)
    return Response(status_code=204)


PAGES = Keyset("rooms", Room.id)


async def api_list(request: Request) -> Response:
    """Rooms by id, a page at a time (`limit`, `cursor`; the next page in the `Link` header)."""
    refuse_unknown(request, {"building", *FILTER_PARAMS, *PAGING})
    filters = filters_of(request.query_params)
    query = where_filters(PAGES.query(request, select(Room)), filters)
    if building := (request.query_params.get("building") or "").strip():
        query = query.where(Room.building == building)
    limit = list_limit(request)
    async with request.app.state.db.session() as s:
        rooms, read = [], None
        # equipment is a JSON list, checked here: read on while rooms are left and the page is not full
        while read is None or (len(read) > limit and len(rooms) <= limit):
            read = (await s.scalars(query if read is None else query.where(Room.id > read[-1].id))).all()
            rooms += equipped(read, filters)
        rooms, headers = PAGES.page(request, rooms)
        owners = await owners_of(s, [r.id for r in rooms])
    return JSONResponse([room_json(r, owners.get(r.id, [])) for r in rooms], headers=headers)


# a room with its admins' ids ("3,7"), one query
ROOM = select(
    Room.__table__,
    select(func.aggregate_strings(cast(RoomOwner.user_id, String), ","))
    .where(RoomOwner.room_id == Room.id)
    .scalar_subquery()
    .label("owner_list"),
).where(Room.id == bindparam("id"))


async def api_get(request: Request, room_id: int | None = None, status_code: int = 200) -> Response:
    room_id = room_id or request.path_params["id"]
    room = await request.app.state.db.read_one(ROOM, {"id": room_id})
    if room is None:
        raise NotFound(_("No such room."), {"field": "room_id"})
    owners = sorted(int(x) for x in (room.owner_list or "").split(",") if x)
    location = {"Location": f"/api/v1/rooms/{room.id}"} if status_code == 201 else {}
    return tagged(request, room_json(room, owners), status_code, location)


openapi.add(
    "post",
    "/api/v1/rooms",
    "Create a room (409 when a room has the name already)",
    body=RoomIn,
    response=RoomOut,
    status=201,
    tag="rooms",
    errors=(400, 401, 403, 404, 409),
)
openapi.add(
    "get",
    "/api/v1/rooms",
    "List rooms",
    response=list[RoomOut],
    tag="rooms",
    query={"building": "only this building", **FILTER_PARAMS, **PAGING},
)
IF_MATCH = {
    "If-Match": param(
        "the ETag of the room as you read it: 412 with the current ETag if it changed meanwhile",
        type="string",
        minLength=1,
    )
}
openapi.add(
    "get",
    "/api/v1/rooms/{id}",
    "A room (with its ETag; If-None-Match answers 304 while unchanged)",
    response=RoomOut,
    tag="rooms",
    headers={"If-None-Match": "an ETag you hold: 304 when the room is still that"},
)
openapi.add(
    "patch",
    "/api/v1/rooms/{id}",
    "Change a room (fields given only)",
    body=RoomIn,
    partial=True,
    response=RoomOut,
    tag="rooms",
    errors=(400, 401, 403, 404, 409, 412),
    headers=IF_MATCH,
)
openapi.add(
    "delete",
    "/api/v1/rooms/{id}",
    "Delete a room and its past bookings (409 while it has meetings to come)",
    status=204,
    tag="rooms",
    errors=(400, 401, 403, 404, 409, 412),
    headers=IF_MATCH,
)

routes = [
    route("/rooms/manage", manage_page, allow=MANAGERS),
    route("/rooms/manage", submit_room, methods=["POST"], allow=MANAGERS),
    route("/rooms/{id:id}/edit", edit_page, allow=MANAGERS),
    route("/rooms/{id:id}/edit", submit_room, methods=["POST"], allow=MANAGERS),
    route("/api/v1/rooms", api_create, methods=["POST"], allow=MANAGERS),
    route("/api/v1/rooms", api_list, allow=SIGNED_IN),
    route("/api/v1/rooms/{id:id}", api_get, allow=SIGNED_IN),
    route("/api/v1/rooms/{id:id}", api_update, methods=["PATCH"], allow=MANAGERS),
    route("/api/v1/rooms/{id:id}", api_delete, methods=["DELETE"], allow=MANAGERS),
    route("/rooms/{id:id}/delete", delete_submit, methods=["POST"], allow=MANAGERS),
]
