"""The door-screens page and ready-made layouts: a door display (1280x800 tablet, landscape or portrait) and a lobby board.

    regions = door_display(room_id=3, portrait=False)
    layout_id = await create_layout(db, "Room 3 door", door_display(3), publish=True, by=user_id)

Both are plain layouts: the editor opens them like any other (`/layouts/{id}`).
`/rooms/doors` lists every room with its state now and its check-in rules (editable),
and makes a room's door display or a lobby board in one click.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking_api.doors.roomstate import door_rules, load_status
from booking_api.models import DoorSettings, Room
from booking_api.rooms.rooms import MANAGERS, get_room, may_manage
from playlists.models import Layout, LayoutVersion
from signage import audit, clock, topics
from signage.auth import route
from signage.errors import AppError, Forbidden, Invalid
from signage.i18n import gettext as _
from signage.templating import render

DESIGNERS = (*MANAGERS, "editor")


def door_display(room_id: int, portrait: bool = False) -> tuple[int, int, list[dict]]:
    """(width, height, regions): the room's status large, a clock beside or above it."""
    if portrait:
        w, h = 800, 1280
        regions = [
            {
                "id": "clock",
                "x": 0,
                "y": 0,
                "w": w,
                "h": 200,
                "z": 0,
                "widget": "clock",
                "options": {"show_date": True},
            },
            {
                "id": "status",
                "x": 0,
                "y": 200,
                "w": w,
                "h": h - 200,
                "z": 1,
                "widget": "room_status",
                "options": {"room_id": room_id},
            },
        ]
    else:
        w, h = 1280, 800
        regions = [
            {
                "id": "status",
                "x": 0,
                "y": 0,
                "w": 900,
                "h": h,
                "z": 1,
                "widget": "room_status",
                "options": {"room_id": room_id},
            },
            {"id": "clock", "x": 900, "y": 0, "w": w - 900, "h": 300, "z": 0, "widget": "clock", "options": {}},
            {
                "id": "list",
                "x": 900,
                "y": 300,
                "w": w - 900,
                "h": h - 300,
                "z": 0,
                "widget": "meeting_list",
                "options": {"room_id": room_id, "days": 1},
            },
        ]
    return w, h, regions


def lobby_board(floor: str = "") -> tuple[int, int, list[dict]]:
    """(width, height, regions): every room's (or one floor's) meetings, with a clock."""
    return (
        1920,
        1080,
        [
            {"id": "clock", "x": 0, "y": 0, "w": 1920, "h": 160, "z": 0, "widget": "clock", "options": {}},
            {
                "id": "list",
                "x": 0,
                "y": 160,
                "w": 1920,
                "h": 920,
                "z": 0,
                "widget": "meeting_list",
                "options": {"floor": floor, "days": 2},
            },
        ],
    )


async def create_layout(
    db, name: str, shape: tuple[int, int, list[dict]], publish: bool = False, by: int | None = None
) -> int:
    """A new layout of that shape; with `publish`, published as version 1 (by user `by`)."""
    import widgets

    width, height, regions = shape
    regions = [{**r, "options": widgets.validate(r["widget"], r["options"])} for r in regions]
    async with db.begin() as s:
        layout = Layout(name=name[:200], width=width, height=height, regions=regions)
        s.add(layout)
        await s.flush()
        if publish:
            content = {"width": width, "height": height, "regions": regions}
            s.add(LayoutVersion(layout_id=layout.id, version=1, content=content, published_by=by))
            layout.published_version = 1
        return layout.id


async def demo_layouts(settings, editor_id: int) -> None:
    """`signage demo`: a published door display of the first room, a lobby board and a
    waiting-room screen (announcing meetings and the desk's call-ins), once."""
    from signage.db import Database

    db = Database(settings.db_url)
    try:
        async with db.session() as s:
            room = await s.scalar(select(Room).order_by(Room.id).limit(1))
            done = await s.scalar(select(Layout.id).where(Layout.name == "Lobby board (demo)"))
        if room is None or done is not None:
            return
        await create_layout(db, f"{room.name} door display (demo)", door_display(room.id), publish=True, by=editor_id)
        await create_layout(db, "Lobby board (demo)", lobby_board(), publish=True, by=editor_id)
        waiting = {
            "id": "waiting",
            "x": 0,
            "y": 0,
            "w": 1920,
            "h": 1080,
            "z": 0,
            "widget": "waiting_room",
            "options": {},
        }
        await create_layout(db, "Waiting room (demo)", (1920, 1080, [waiting]), publish=True, by=editor_id)
    finally:
        await db.close()


async def make_door_layout(request: Request) -> Response:
    form = await request.form()
    portrait = form.get("orientation") == "portrait"
    async with request.app.state.db.session() as s:
        room = await get_room(s, request.path_params["id"])
    name = _("%(room)s door display", room=room.name)
    layout_id = await create_layout(request.app.state.db, name, door_display(room.id, portrait))
    await audit.record(request, "layout.create", f"layout:{layout_id}", reason=f"door display of room:{room.id}")
    return RedirectResponse(f"/layouts/{layout_id}", status_code=303)


async def make_lobby_layout(request: Request) -> Response:
    form = await request.form()
    floor = str(form.get("floor", "")).strip()[:50]
    layout_id = await create_layout(
        request.app.state.db, _("Lobby board") + (f" {floor}" if floor else ""), lobby_board(floor)
    )
    await audit.record(request, "layout.create", f"layout:{layout_id}", reason="lobby board")
    return RedirectResponse(f"/layouts/{layout_id}", status_code=303)


async def doors_page(request: Request, error: AppError | None = None, status_code: int = 200) -> Response:
    settings, now = request.app.state.settings, clock.now()
    async with request.app.state.db.reads() as s:
        rooms = (await s.scalars(select(Room).order_by(Room.building, Room.floor, Room.name))).all()
        doors = {d.room_id: d for d in (await s.scalars(select(DoorSettings))).all()}
        states = {r.id: await load_status(s, r, now, settings) for r in rooms}
    rows = [(r, states[r.id], door_rules(doors.get(r.id), settings), doors.get(r.id)) for r in rooms]
    floors = sorted({r.floor for r in rooms if r.floor})
    ctx = {"rows": rows, "floors": floors, "error": error}
    return render(request, "doors/doors.html", ctx, status_code=status_code)


def form_minutes(form, name: str, low: int) -> int | None:
    raw = str(form.get(name, "")).strip()
    if raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= 240:
        raise Invalid(_("%(field)s must be a whole number from %(low)s to 240.", field=name, low=low), {"field": name})
    return int(raw)


async def save_rules(request: Request) -> Response:
    room_id = request.path_params["id"]
    form = await request.form()
    try:
        opens, grace = form_minutes(form, "checkin_opens_minutes", 0), form_minutes(form, "checkin_grace_minutes", 1)
        async with request.app.state.db.begin() as s:
            await get_room(s, room_id)
            if not await may_manage(s, request.state.user, room_id):
                raise Forbidden(_("Only the room's admins may change its door-screen rules."))
            door = await s.get(DoorSettings, room_id)
            if door is None:
                door = DoorSettings(room_id=room_id, sensor_absent_minutes=0)
                s.add(door)
            door.checkin_opens_minutes, door.checkin_grace_minutes = opens, grace
            door.release_no_shows = form.get("release_no_shows") is not None
    except AppError as exc:
        await audit.record(request, "room.door_rules", f"room:{room_id}", result="failure", reason=exc.message)
        return await doors_page(request, exc, exc.status)
    await audit.record(request, "room.door_rules", f"room:{room_id}")
    await request.app.state.bus.notify_many(topics.rooms_changed([room_id], "room"))
    return RedirectResponse("/rooms/doors", status_code=303)


routes = [
    route("/rooms/doors", doors_page, allow=DESIGNERS),
    route("/rooms/{id:id}/door", save_rules, methods=["POST"], allow=MANAGERS),
    route("/rooms/{id:id}/door-layout", make_door_layout, methods=["POST"], allow=DESIGNERS),
    route("/rooms/lobby-layout", make_lobby_layout, methods=["POST"], allow=DESIGNERS),
]
