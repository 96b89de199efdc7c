"""The desk's board (`/desk`, service staff and admins): every room as a tile in its live
state (the seed's colours) and condition, its current and next meeting, headcount and
services wanted, a timeline of its day; the open service calls and cleaning tasks with
their Accept and Done buttons. Filters: state, condition, building, floor.

The page follows `/events/service` (calls: it chimes and speaks), `/events/bookings` and
`/events/rooms` (the clock moved a room on) and re-fetches its board fragment (`desk.js`).

Service staff see a meeting whole (title, organizer, services) when it wants services, and
otherwise its outline: a private one is "Busy", without its organizer (the one rule of
booking_api.bookings.visibility); admins see every meeting whole.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from booking_api.bookings.bookings import attendees_of
from booking_api.bookings.visibility import Viewer, public_title
from booking_api.desk import tasks
from booking_api.doors.roomstate import COLOURS, day_bounds
from booking_api.integrations.models import DoorController
from booking_api.models import ACTIVE, Booking, Room, booking_json
from booking_api.rooms.availability import booking_state, room_status
from signage import clock, i18n, speech
from signage.auth import route
from signage.errors import AppError, Invalid, NotFound, Unavailable
from signage.i18n import gettext as _
from signage.models import User
from signage.responses import is_htmx
from signage.templating import render

STATES = ("free", "booked", "in_progress", "ended")
CONDITIONS = ("clean", "needs_cleaning", "being_cleaned", "out_of_service")
DAY_FROM, DAY_TO = 7 * 60, 22 * 60  # the timeline's hours (minutes after local midnight), widened by bookings


def filters_of(params) -> dict:
    f = {k: (params.get(k) or "").strip()[:200] for k in ("state", "condition", "building", "floor")}
    if f["state"] and f["state"] not in STATES:
        raise Invalid(_("state is free, booked, in_progress or ended."), {"field": "state"})
    if f["condition"] and f["condition"] not in CONDITIONS:
        raise Invalid(_("condition is clean, needs_cleaning, being_cleaned or out_of_service."), {"field": "condition"})
    return f


async def board_data(s, settings, f: dict, now: dt.datetime, viewer: Viewer) -> dict:
    tz = ZoneInfo(settings.timezone)
    start, end = day_bounds(now, tz)
    query = select(Room).order_by(Room.building, Room.floor, Room.name)
    if f["building"]:
        query = query.where(Room.building == f["building"])
    if f["floor"]:
        query = query.where(Room.floor == f["floor"])
    rooms = (await s.scalars(query)).all()
    bookings = (
        await s.scalars(
            select(Booking)
            .where(Booking.status.in_(ACTIVE), Booking.start_at < end, Booking.end_at > start)
            .order_by(Booking.start_at)
        )
    ).all()
    attendees = await attendees_of(s, [b.id for b in bookings]) if bookings else {}
    whole = {b.id for b in bookings if viewer.concerned(booking_json(b, attendees.get(b.id, [])))}
    people = {b.organizer_id for b in bookings if b.organizer_id}
    names = {}
    if people:
        for u in (await s.scalars(select(User).where(User.id.in_(people)))).all():
            names[u.id] = u.name or u.email.split("@")[0]
    open_tasks = await tasks.open_tasks(s)
    condition: dict[int, str] = {}
    for task, _name in open_tasks:
        if task.kind == "cleaning":
            now_cond = "being_cleaned" if task.status == "accepted" else "needs_cleaning"
            if condition.get(task.room_id) != "needs_cleaning":
                condition[task.room_id] = now_cond
    by_room: dict[int, list] = {r.id: [] for r in rooms}
    for b in bookings:
        if b.room_id in by_room:
            by_room[b.room_id].append(b)
    first = min([DAY_FROM, *(int((max(b.start_at, start) - start).total_seconds() // 60) for b in bookings)])
    last = max([DAY_TO, *(int((min(b.end_at, end) - start).total_seconds() // 60) for b in bookings)])
    span = max(last - first, 60)

    def pct(t: dt.datetime) -> float:
        return round(max(0.0, min(100.0, ((t - start).total_seconds() / 60 - first) * 100 / span)), 2)

    def title(b) -> str:
        return b.title if b.id in whole else public_title(b)

    def brief(b) -> dict | None:
        if b is None:
            return None
        return {
            "id": b.id,
            "title": title(b),
            "organizer": "" if b.private and b.id not in whole else names.get(b.organizer_id, ""),
            "start_at": b.start_at,
            "end_at": b.end_at,
            "headcount": len(attendees.get(b.id, ())),
            "services": list(b.services or ()),  # none, unless it is whole
        }

    tiles, counts = [], dict.fromkeys(STATES, 0)
    for r in rooms:
        status = room_status(by_room[r.id], now)
        cond = "out_of_service" if r.out_of_service_since is not None else condition.get(r.id, "clean")
        counts[status["state"]] += 1
        if (f["state"] and status["state"] != f["state"]) or (f["condition"] and cond != f["condition"]):
            continue
        timeline = [
            {
                "left": pct(b.start_at),
                "width": max(pct(b.end_at) - pct(b.start_at), 0.5),
                "state": booking_state(b, now),
                "title": title(b),
                "start_at": b.start_at,
                "end_at": b.end_at,
            }
            for b in by_room[r.id]
        ]
        tiles.append(
            {
                "room": r,
                "state": status["state"],
                "colour": COLOURS[status["state"]],
                "condition": cond,
                "current": brief(status["current"]),
                "next": brief(status["next"]),
                "timeline": timeline,
            }
        )
    hours = [(h, round((h * 60 - first) * 100 / span, 2)) for h in range(-(-first // 60), last // 60 + 1)]
    return {
        "tiles": tiles,
        "counts": counts,
        "tasks": open_tasks,
        "hours": hours,
        "now_left": pct(now),
        "buildings": sorted({r.building for r in (await s.scalars(select(Room))).all() if r.building}),
        "floors": (await s.scalars(select(Room.floor).distinct().order_by(Room.floor))).all(),
        "with_doors": set((await s.scalars(select(DoorController.room_id).distinct())).all()),
    }


async def desk_page(
    request: Request, error: AppError | None = None, status_code: int = 200, opened: dict | None = None
) -> Response:
    """The board; `opened`: a tile's doors just opened ({"room_id", "doors": their answers})."""
    f = filters_of(request.query_params)
    async with request.app.state.db.session() as s:
        viewer = await Viewer.of(s, request.state.user)
        data = await board_data(s, request.app.state.settings, f, clock.now(), viewer)
    ctx = {
        **data,
        "opened": opened,
        "filters": f,
        "error": error,
        "full": request.query_params.get("full") == "1",
        "kind_labels": {k: tasks.kind_label(k) for k in ("tea", "it", "cleaning", "other")},
        "state_labels": {"free": _("Free"), "booked": _("Booked"), "in_progress": _("In meeting"), "ended": _("Ended")},
        "condition_labels": {
            "clean": _("Clean"),
            "needs_cleaning": _("Needs cleaning"),
            "being_cleaned": _("Being cleaned"),
            "out_of_service": _("Out of service"),
        },
        "query": urlencode({k: v for k, v in f.items() if v}),
    }
    if is_htmx(request) and request.headers.get("HX-Target") == "desk-board":
        return render(request, "desk/desk.html", ctx, status_code=status_code, block="board")
    return render(request, "desk/desk.html", ctx, status_code=status_code)


async def task_step(request: Request) -> Response:
    step = request.path_params["step"]
    if step not in tasks.NEXT:
        raise Invalid(_("The step is accept or done."), {"field": "step"})
    try:
        await tasks.move(request, request.path_params["id"], step)
    except AppError as exc:
        if exc.status in (404, 409):
            return await desk_page(request, exc, exc.status)
        raise
    if is_htmx(request):
        return await desk_page(request)
    query = urlencode({k: v for k, v in filters_of(request.query_params).items() if v})
    return RedirectResponse("/desk" + ("?" + query if query else ""), status_code=303)


async def task_speech(request: Request) -> Response:
    """The task's sentence spoken in the reader's language (signage/speech.py; cached)."""
    async with request.app.state.db.session() as s:
        task = await s.get(tasks.ServiceTask, request.path_params["id"])
        if task is None:
            raise NotFound(_("No such service call."))
        room = await s.get(Room, task.room_id)
    try:
        path = await speech.render(
            request.app.state.settings, tasks.sentence(task, room.name), i18n.current_locale.get()
        )
    except speech.SpeechUnavailable as exc:
        raise Unavailable(_("No voice: %(why)s", why=str(exc))) from None
    return FileResponse(path, media_type=speech.media_type(path), headers={"Cache-Control": "private, max-age=86400"})


routes = [
    route("/desk", desk_page, allow=tasks.DESK),
    route("/desk/tasks/{id:id}/speech", task_speech, allow=tasks.DESK),
    route("/desk/tasks/{id:id}/{step}", task_step, methods=["POST"], allow=tasks.DESK),
]
