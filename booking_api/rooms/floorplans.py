"""Floor plans (SPEC B3): a plan image per floor, rooms placed on it, shown in the live colours."""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from booking_api.models import FloorPlan, Room
from booking_api.rooms.availability import day_of, room_status
from booking_api.rooms.rooms import MANAGERS, may_manage
from media import images
from signage import audit, clock, topics
from signage.auth import SIGNED_IN, route
from signage.db import utcnow
from signage.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from signage.i18n import gettext as _
from signage.responses import is_htmx
from signage.templating import render

NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpg|gif|webp|bmp)$")


def plans_dir(request: Request) -> Path:
    return request.app.state.settings.data_dir / "floorplans"


async def plans_page(request: Request, error: AppError | None = None, status_code: int = 200) -> Response:
    async with request.app.state.db.session() as s:
        plans = (await s.scalars(select(FloorPlan).order_by(FloorPlan.building, FloorPlan.floor))).all()
    return render(request, "rooms/floorplans.html", {"plans": plans, "error": error}, status_code=status_code)


async def store_plan(request: Request, upload: UploadFile) -> tuple[str, images.ImageInfo]:
    folder = plans_dir(request)
    folder.mkdir(parents=True, exist_ok=True)
    data = await upload.read()
    if not data:
        raise Invalid(_("Choose a plan image."), {"field": "image"})
    with tempfile.NamedTemporaryFile(dir=folder, delete=False) as tmp:
        tmp.write(data)
    try:
        info = await run_in_threadpool(images.inspect, Path(tmp.name))
        name = f"{hashlib.sha256(data).hexdigest()}.{info.ext}"
        Path(tmp.name).replace(folder / name)
    finally:
        Path(tmp.name).unlink(missing_ok=True)
    return name, info


async def upload_plan(request: Request) -> Response:
    form = await request.form()
    floor, building = str(form.get("floor", "")).strip(), str(form.get("building", "")).strip()
    upload = form.get("image")
    try:
        if not floor or len(floor) > 50:
            raise Invalid(_("Say which floor the plan shows."), {"field": "floor"})
        if not isinstance(upload, UploadFile):
            raise Invalid(_("Choose a plan image."), {"field": "image"})
        name, info = await store_plan(request, upload)
        try:
            async with request.app.state.db.begin() as s:
                plan = await s.scalar(select(FloorPlan).where(FloorPlan.building == building, FloorPlan.floor == floor))
                if plan is None:
                    plan = FloorPlan(building=building, floor=floor, image=name)
                    s.add(plan)
                plan.image, plan.width, plan.height, plan.created_at = name, info.width, info.height, utcnow()
        except IntegrityError:
            raise Conflict(_("This floor has a plan already.")) from None
    except AppError as exc:
        await audit.record(request, "floorplan.upload", "", result="failure", reason=exc.message)
        return await plans_page(request, error=exc, status_code=exc.status)
    await audit.record(request, "floorplan.upload", f"floorplan:{plan.id}", reason=f"{building} {floor}")
    return RedirectResponse(f"/floorplans/{plan.id}", status_code=303)


async def plan_page(request: Request) -> Response:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(request.app.state.settings.timezone)
    now = clock.now()
    async with request.app.state.db.session() as s:
        plan = await s.get(FloorPlan, request.path_params["id"])
        if plan is None:
            raise NotFound(_("No such floor plan."))
        rooms, by_room = await day_of(
            s, now.astimezone(tz).date(), tz, {"floor": plan.floor, "capacity": 0, "equipment": []}
        )
    rooms = [r for r in rooms if r.building == plan.building]
    marks = [(r, room_status(by_room[r.id], now)) for r in rooms]
    ctx = {"plan": plan, "marks": marks, "can_place": request.state.user.role in ("admin", "room_admin")}
    if is_htmx(request):
        return render(request, "rooms/floorplan.html", ctx, block="marks")
    return render(request, "rooms/floorplan.html", ctx)


async def place_room(request: Request) -> Response:
    form = await request.form()
    plan_id = request.path_params["id"]
    try:
        room_id, x, y = int(str(form.get("room_id"))), float(str(form.get("x"))), float(str(form.get("y")))
    except ValueError:
        raise Invalid(_("Choose a room and click on the plan where it is.")) from None
    if not (0 <= x <= 100 and 0 <= y <= 100):
        raise Invalid(_("Choose a room and click on the plan where it is."))
    async with request.app.state.db.begin() as s:
        plan = await s.get(FloorPlan, plan_id)
        room = await s.get(Room, room_id)
        if plan is None or room is None or room.floor != plan.floor or room.building != plan.building:
            raise NotFound(_("No such room on this floor."))
        if not await may_manage(s, request.state.user, room.id):
            raise Forbidden(_("You do not manage this room."))
        room.plan_x, room.plan_y = round(x, 2), round(y, 2)
    await audit.record(request, "room.place", f"room:{room_id}", reason=f"floorplan:{plan_id} {x:.1f},{y:.1f}")
    await request.app.state.bus.notify_many(topics.rooms_changed([room_id], "room"))
    return RedirectResponse(f"/floorplans/{plan_id}", status_code=303)


async def plan_file(request: Request) -> Response:
    name = request.path_params["name"]
    path = plans_dir(request) / name
    if not NAME.match(name) or not path.exists():
        raise NotFound(_("Not found"))
    return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})


routes = [
    route("/floorplans", plans_page, allow=SIGNED_IN),
    route("/floorplans", upload_plan, methods=["POST"], allow=MANAGERS),
    route("/floorplans/{id:id}", plan_page, allow=SIGNED_IN),
    route("/floorplans/{id:id}/place", place_room, methods=["POST"], allow=MANAGERS),
    route("/floorplans/files/{name}", plan_file, allow=SIGNED_IN),
]
