"""Rooms (SPEC B1): admin pages and the API. Room admins manage the rooms they own."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking_api.availability import FILTER_PARAMS, equipped, filters_of, where_filters
from booking_api.models import ACTIVE, Booking, Room, RoomOwner
from player.models import Screen
from signage import audit, clock, openapi
from signage.api import Id, json_body, parse
from signage.auth import SIGNED_IN, route
from signage.errors import AppError, Conflict, Forbidden, Invalid, NotFound
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
    buffer_minutes: int
    max_minutes: int
    window_days: int
    notice_minutes: int
    owner_ids: list[int]


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
        "buffer_minutes": room.buffer_minutes,
        "max_minutes": room.max_minutes,
        "window_days": room.window_days,
        "notice_minutes": room.notice_minutes,
        "owner_ids": owner_ids,
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


async def save_room(request: Request, body: RoomIn, room_id: int | None = None) -> Room:
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
                for k, v in values.items():
                    setattr(room, k, v)
                await s.execute(delete(RoomOwner).where(RoomOwner.room_id == room.id))
            s.add_all(RoomOwner(room_id=room.id, user_id=uid) for uid in owner_ids)
    except IntegrityError:
        raise Conflict(_("A room with this name exists already."), {"field": "name"}) from None
    await request.app.state.bus.notify("bookings", {"type": "room", "room_id": room.id})
    return room


async def delete_room(request: Request, room_id: int) -> str:
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
    await request.app.state.bus.notify("bookings", {"type": "room", "room_id": room_id})
    return name


def form_to_room(form) -> dict:
    data = {
        k: str(form.get(k, "")).strip() for k in ("name", "building", "floor", "photo_url", "opens_at", "closes_at")
    }
    for k in ("capacity", "buffer_minutes", "max_minutes", "window_days", "notice_minutes"):
        raw = str(form.get(k, "") or "0").strip()
        data[k] = int(raw) if raw.isdigit() else raw
    data["equipment"] = [e for e in str(form.get("equipment", "")).replace("，", ",").split(",")]
    data["needs_approval"] = form.get("needs_approval") is not None
    data["owner_ids"] = [int(v) for v in form.getlist("owner_ids") if str(v).isdigit()]
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
    ctx = {"rooms": rooms, "owners": owners, "admins": admins, "error": error, "editing": editing, "hhmm": hhmm}
    return render(request, "booking_api/rooms.html", ctx, status_code=status_code)


async def edit_page(request: Request) -> Response:
    return await manage_page(request, room_id=request.path_params["id"])


async def submit_room(request: Request) -> Response:
    room_id = request.path_params.get("id")
    try:
        body = parse(RoomIn, form_to_room(await request.form()))
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
    room = await save_room(request, body, room_id)
    await audit.record(request, "room.update", f"room:{room.id}")
    return await api_get(request, room.id)


async def delete_audited(request: Request) -> None:
    room_id = request.path_params["id"]
    try:
        name = await delete_room(request, room_id)
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


async def api_list(request: Request) -> Response:
    filters = filters_of(request.query_params)
    query = where_filters(select(Room).order_by(Room.id), filters)
    if building := (request.query_params.get("building") or "").strip():
        query = query.where(Room.building == building)
    async with request.app.state.db.session() as s:
        rooms = equipped((await s.scalars(query)).all(), filters)
        owners = await owners_of(s, [r.id for r in rooms])
    return JSONResponse([room_json(r, owners.get(r.id, [])) for r in rooms])


async def api_get(request: Request, room_id: int | None = None, status_code: int = 200) -> Response:
    room_id = room_id or request.path_params["id"]
    async with request.app.state.db.session() as s:
        room = await get_room(s, room_id)
        owners = await owners_of(s, [room.id])
    return JSONResponse(room_json(room, owners.get(room.id, [])), status_code=status_code)


openapi.add("post", "/api/v1/rooms", "Create a room", body=RoomIn, response=RoomOut, status=201, tag="rooms")
openapi.add(
    "get",
    "/api/v1/rooms",
    "List rooms",
    response=list[RoomOut],
    tag="rooms",
    query={"building": "only this building", **FILTER_PARAMS},
)
openapi.add("get", "/api/v1/rooms/{id}", "A room", response=RoomOut, tag="rooms")
openapi.add(
    "patch", "/api/v1/rooms/{id}", "Change a room (fields given only)", body=RoomIn, response=RoomOut, tag="rooms"
)
openapi.add(
    "delete",
    "/api/v1/rooms/{id}",
    "Delete a room and its past bookings (409 while it has meetings to come)",
    status=204,
    tag="rooms",
    errors=(401, 403, 404, 409),
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
