"""Service calls and cleaning tasks: made, accepted, done (SPEC B9).

    POST /api/v1/rooms/3/service-calls {"kind": "tea", "note": "4 cups"}
    → 201 {"id": 7, "room_id": 3, "room": "Orchid", "kind": "tea", "status": "open", ...}
    GET  /api/v1/service-calls?status=open       (the desk's roles: service staff, admins)
    GET  /api/v1/service-calls/7                 (the desk, the room's admins, who called)
    POST /api/v1/service-calls/7/accept  → {"status": "accepted", "accepted_by": "Front Desk", ...}
    POST /api/v1/service-calls/7/done    → {"status": "done", ...}

Every change writes its `service_call.*` event and its audit entry in its own
transaction; the `desk` consumer of the event log tells the desks and the room's door
screens (`follow.py`). A cleaning task after a meeting is a task of kind `cleaning`
and origin `meeting_end`, made at most once per meeting (`ensure_cleaning`).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from starlette.requests import Request
from starlette.responses import Response

from booking_api.desk.models import KINDS, STATUSES, RoomCare, ServiceTask
from booking_api.models import Attendee, Booking, Room
from booking_api.rooms.rooms import get_room, may_manage
from signage import audit, clock, openapi
from signage.api import PAGING, Id, json_body, list_limit, param, parse, refuse_unknown
from signage.auth import SIGNED_IN, route
from signage.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from signage.eventlog import log as eventlog
from signage.eventlog.log import actor_of
from signage.eventlog.models import Event
from signage.i18n import gettext as _
from signage.responses import JSONResponse, created

DESK = ("service",)  # and admins, who always may
NEXT = {"accept": ("open", "accepted"), "done": (("open", "accepted"), "done")}


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["tea", "it", "cleaning", "other"] = Field(
        "other", description="tea and water, IT help, cleaning, other"
    )
    note: str = Field("", max_length=500, description="what is wanted, in a few words")
    booking_id: Id | None = Field(
        None,
        description="the meeting it is for (its page on phones): then only its organizer and attendees (and the"
        " room's admins) may call, from SIGNAGE_SERVICE_LEAD_MINUTES before it starts until it ends",
    )


def who_name(user) -> str:
    return user.name or user.email.split("@")[0]


async def room_names(s, room_ids) -> dict[int, str]:
    ids = set(room_ids)
    if not ids:
        return {}
    return dict((await s.execute(select(Room.id, Room.name).where(Room.id.in_(ids)))).all())


async def create_call(
    s, room: Room, kind: str, note: str, origin: str, actor: str, screen_id=None, booking_id=None
) -> ServiceTask:
    """A call from the room (or from a meeting in it), with its event, in the caller's transaction."""
    assert kind in KINDS, kind
    task = ServiceTask(
        room_id=room.id,
        kind=kind,
        note=note.strip(),
        origin=origin,
        created_at=clock.now(),
        before_booking_id=booking_id,
    )
    s.add(task)
    await s.flush()
    data = {**task.as_json(room.name), "screen_id": screen_id}
    await eventlog.record(s, "service_call.created", f"service_call:{task.id}", data, actor)
    return task


def call_window(b: Booking, lead_minutes: int) -> tuple[dt.datetime, dt.datetime]:
    """When a meeting's people may call service from its page: from the services' lead time
    before it starts until it ends."""
    return b.start_at - dt.timedelta(minutes=lead_minutes), b.end_at


async def may_call_for(s, user, b: Booking) -> bool:
    """The meeting's organizer, its attendees, the room's admins (and admins)."""
    if b.organizer_id == user.id or await may_manage(s, user, b.room_id):
        return True
    found = await s.scalar(select(Attendee.id).where(Attendee.booking_id == b.id, Attendee.user_id == user.id))
    return found is not None


async def check_meeting_call(s, user, room: Room, booking_id: int, lead_minutes: int) -> Booking:
    """A call for meeting `booking_id` in `room`: by one of its people, while it is on."""
    b = await s.get(Booking, booking_id)
    if b is None:
        raise NotFound(_("No such booking."), {"field": "booking_id"})
    if b.room_id != room.id:
        raise Invalid(_("This meeting is in another room."), {"field": "booking_id"})
    if not await may_call_for(s, user, b):
        raise Forbidden(_("Only the meeting's organizer and attendees may call service for it."))
    opens, closes = call_window(b, lead_minutes)
    if b.status != "confirmed" or not opens <= clock.now() < closes:
        raise Conflict(_("Service can be called for a confirmed meeting while it is on."), {"field": "booking_id"})
    return b


async def ensure_cleaning(s, booking_id: int, room_id: int, services, actor: str = "system") -> bool:
    """The cleaning task after meeting `booking_id`, unless it has one already (any process,
    any path) or the room's rule says none (`never`, or `services` and it had none); True
    when this made it. Its event is recorded too: call it last in a transaction, or use
    `make_cleaning` and record the events after every insert (signage/eventlog/log.py)."""
    made = await make_cleaning(s, booking_id, room_id, services)
    if made is not None:
        await eventlog.record(s, "service_call.created", f"service_call:{made[0]}", made[1], actor)
    return made is not None


async def make_cleaning(s, booking_id: int, room_id: int, services) -> tuple[int, dict] | None:
    """The cleaning task's row (no event yet): (its id, its JSON), or None when none was made."""
    room = await s.get(Room, room_id)
    if room is None:
        return None
    care = await s.get(RoomCare, room_id)
    rule = care.cleaning if care else "every"
    if rule == "never" or (rule == "services" and not services):
        return None
    row = {
        "room_id": room_id,
        "kind": "cleaning",
        "note": "",
        "origin": "meeting_end",
        "status": "open",
        "after_booking_id": booking_id,
        "created_at": clock.now(),
        "accepted_by": "",
        "done_by": "",
    }
    insert = postgresql.insert if s.bind.dialect.name == "postgresql" else sqlite.insert
    made = await s.execute(insert(ServiceTask).values(row).on_conflict_do_nothing(index_elements=["after_booking_id"]))
    if made.rowcount != 1:
        return None
    task = await s.scalar(select(ServiceTask).where(ServiceTask.after_booking_id == booking_id))
    return task.id, task.as_json(room.name)


async def move(request: Request, task_id: int, step: str) -> dict:
    """Accept a task (someone is on the way) or mark it done; a Conflict when it is past that."""
    before, after = NEXT[step]
    user = request.state.user
    try:
        async with request.app.state.db.begin() as s:
            task = await s.get(ServiceTask, task_id, with_for_update=True)
            if task is None:
                raise NotFound(_("No such service call."))
            if task.status not in ((before,) if isinstance(before, str) else before):
                raise Conflict(_("This call is %(status)s already.", status=status_label(task.status)))
            now = clock.now()
            task.status = after
            if step == "accept":
                task.accepted_at, task.accepted_by = now, who_name(user)
            else:
                task.done_at, task.done_by = now, who_name(user)
                task.accepted_by = task.accepted_by or who_name(user)
            room = await get_room(s, task.room_id)
            out = task.as_json(room.name)
            s.add(audit.entry(request, f"service_call.{step}", f"service_call:{task.id}", reason=f"room:{room.id}"))
            await eventlog.record(s, f"service_call.{after}", f"service_call:{task.id}", out, actor_of(request))
    except AppError as exc:
        await audit.record(
            request, f"service_call.{step}", f"service_call:{task_id}", result="failure", reason=exc.message
        )
        raise
    return out


def status_label(status: str) -> str:
    return {"open": _("open"), "accepted": _("accepted"), "done": _("done"), "cancelled": _("cancelled")}[status]


def kind_label(kind: str) -> str:
    return {"tea": _("tea service"), "it": _("IT help"), "cleaning": _("cleaning"), "other": _("service")}[kind]


def sentence(task: ServiceTask, room_name: str) -> str:
    """What the desk says of a task, in the current language: "Orchid requests tea service"."""
    if task.origin == "meeting_end":
        return _("%(room)s needs cleaning", room=room_name)
    if task.origin == "booking_services":
        return _("%(room)s: services for the next meeting", room=room_name)
    return _("%(room)s requests %(kind)s", room=room_name, kind=kind_label(task.kind))


async def open_tasks(s, limit: int = 500) -> list[tuple[ServiceTask, str]]:
    """Tasks not done yet, oldest first, with their room's name."""
    rows = await s.execute(
        select(ServiceTask, Room.name)
        .join(Room, Room.id == ServiceTask.room_id)
        .where(ServiceTask.status.in_(("open", "accepted")))
        .order_by(ServiceTask.created_at, ServiceTask.id)
        .limit(limit)
    )
    return [tuple(r) for r in rows.all()]


async def of_meeting(s, b) -> list[ServiceTask]:
    """The desk's tasks for a meeting: its own (the services it wants, calls from its page),
    the calls from its room while it ran, and the cleaning after it; not another meeting's
    (the next one's services, made while this one runs)."""
    from sqlalchemy import and_, or_

    during = and_(
        ServiceTask.room_id == b.room_id,
        ServiceTask.after_booking_id.is_(None),
        ServiceTask.before_booking_id.is_(None),
        ServiceTask.created_at >= b.start_at,
        ServiceTask.created_at < b.end_at,
    )
    own = or_(ServiceTask.after_booking_id == b.id, ServiceTask.before_booking_id == b.id)
    query = select(ServiceTask).where(or_(during, own))
    return list((await s.scalars(query.order_by(ServiceTask.created_at, ServiceTask.id))).all())


async def walkup_waits(s, room_id: int, condition: str) -> bool:
    """No walk-up booking now: the room needs cleaning (or is being cleaned) and its rule says wait."""
    if condition == "clean":
        return False
    care = await s.get(RoomCare, room_id)
    return bool(care and care.walkup_until_clean)


ROOM_TASKS = (
    select(ServiceTask)
    .where(ServiceTask.room_id == bindparam("room_id"), ServiceTask.status.in_(("open", "accepted")))
    .order_by(ServiceTask.id.desc())
)


async def room_service(s, room_id: int) -> tuple[dict | None, str]:
    """What a door screen shows of the desk: the room's latest call someone is on the way
    to, else its latest open one (`{"id", "kind", "status", "by"}`), and the room's condition: clean, needs_cleaning
    (a cleaning task open) or being_cleaned (accepted)."""
    found = (await s.scalars(ROOM_TASKS, {"room_id": room_id})).all()
    cleaning = [t.status for t in found if t.origin == "meeting_end"]
    condition = "needs_cleaning" if "open" in cleaning else "being_cleaned" if cleaning else "clean"
    calls = [t for t in found if t.origin not in ("meeting_end", "booking_services")]  # calls from the room
    call = next((t for t in calls if t.status == "accepted"), calls[0] if calls else None)
    if call is None:
        return None, condition
    return {"id": call.id, "kind": call.kind, "status": call.status, "by": call.accepted_by}, condition


# ---------------------------------------------------------------- API


async def api_call(request: Request) -> Response:
    room_id = request.path_params["id"]
    try:
        body = parse(CallIn, await json_body(request))
        async with request.app.state.db.begin() as s:
            room = await get_room(s, room_id)
            origin = "api"
            if body.booking_id is not None:
                lead = request.app.state.settings.service_lead_minutes
                await check_meeting_call(s, request.state.user, room, body.booking_id, lead)
                origin = "meeting"
            task = await create_call(
                s, room, body.kind, body.note, origin, actor_of(request), booking_id=body.booking_id
            )
            s.add(audit.entry(request, "room.service_call", f"room:{room_id}", reason=f"{body.kind} ({origin})"))
            out = task.as_json(room.name)
    except AppError as exc:
        await audit.record(request, "room.service_call", f"room:{room_id}", result="failure", reason=exc.message)
        raise
    return created(out, f"/api/v1/service-calls/{out['id']}")


async def api_get(request: Request) -> Response:
    """One call: for the desk's roles, the room's admins, and whoever made it (its event's actor)."""
    user = request.state.user
    async with request.app.state.db.session() as s:
        found = (
            await s.execute(
                select(ServiceTask, Room.name)
                .join(Room, Room.id == ServiceTask.room_id)
                .where(ServiceTask.id == request.path_params["id"])
            )
        ).first()
        if found is None:
            raise NotFound(_("No such service call."))
        task, name = found
        if user.role not in ("admin", *DESK) and not await may_manage(s, user, task.room_id):
            made = select(Event.id).where(Event.subject == f"service_call:{task.id}", Event.actor == actor_of(request))
            if await s.scalar(made.where(Event.type == "service_call.created").limit(1)) is None:
                raise NotFound(_("No such service call."))
    return JSONResponse(task.as_json(name))


async def api_list(request: Request) -> Response:
    refuse_unknown(request, {"status", "limit"})
    status = request.query_params.get("status", "")
    if status and status not in STATUSES:
        raise Invalid(_("status is open, accepted, done or cancelled."), {"field": "status"})
    limit = list_limit(request)
    query = select(ServiceTask, Room.name).join(Room, Room.id == ServiceTask.room_id)
    if status:
        query = query.where(ServiceTask.status == status)
    async with request.app.state.db.session() as s:
        rows = (await s.execute(query.order_by(ServiceTask.id.desc()).limit(limit))).all()
    return JSONResponse({"service_calls": [t.as_json(name) for t, name in rows]})


async def api_accept(request: Request) -> Response:
    return JSONResponse(await move(request, request.path_params["id"], "accept"))


async def api_done(request: Request) -> Response:
    return JSONResponse(await move(request, request.path_params["id"], "done"))


class CallOut(BaseModel):
    id: int
    room_id: int
    room: str
    kind: Literal["tea", "it", "cleaning", "other"]
    note: str
    origin: Literal["door", "api", "meeting", "meeting_end", "booking_services"] = Field(
        description="a door screen, the API, the meeting page, a meeting's end (cleaning), or the services a meeting"
        " wants (made SIGNAGE_SERVICE_LEAD_MINUTES before it starts)"
    )
    status: Literal["open", "accepted", "done", "cancelled"] = Field(
        description="cancelled: the services of a meeting cancelled or moved meanwhile"
    )
    after_booking_id: int | None = Field(description="the meeting whose end asked for this cleaning")
    before_booking_id: int | None = Field(
        description="the meeting it is for: its wanted services, or a call from its page (or with its booking_id)"
    )
    before_start_at: str | None = Field(description="its wanted services: the meeting's start they are for")
    created_at: str
    accepted_at: str | None
    accepted_by: str = Field(description="who is on the way (their name)")
    escalated_at: str | None = Field(description="when it was escalated: nobody had accepted it in time")
    done_at: str | None
    done_by: str


class CallsOut(BaseModel):
    service_calls: list[CallOut]


ERRORS = (400, 401, 403, 404, 409)
openapi.add(
    "post",
    "/api/v1/rooms/{id}/service-calls",
    "Call the service desk to a room (or, with booking_id, for a meeting on in it: its people only)",
    body=CallIn,
    response=CallOut,
    status=201,
    tag="service desk",
    errors=ERRORS,
)
openapi.add(
    "get",
    "/api/v1/service-calls",
    "Service calls and cleaning tasks, newest first (service staff)",
    response=CallsOut,
    tag="service desk",
    query={
        "status": param("absent: all", type="string", enum=list(STATUSES)),
        "limit": PAGING["limit"],
    },
)
openapi.add(
    "get",
    "/api/v1/service-calls/{id}",
    "One service call (the desk's roles, the room's admins, and whoever made it)",
    response=CallOut,
    tag="service desk",
)
openapi.add(
    "post",
    "/api/v1/service-calls/{id}/accept",
    "Accept a call: someone is on the way",
    response=CallOut,
    tag="service desk",
    errors=ERRORS,
)
openapi.add(
    "post", "/api/v1/service-calls/{id}/done", "Mark a call done", response=CallOut, tag="service desk", errors=ERRORS
)

routes = [
    route("/api/v1/rooms/{id:id}/service-calls", api_call, methods=["POST"], allow=SIGNED_IN),
    route("/api/v1/service-calls", api_list, allow=DESK),
    route("/api/v1/service-calls/{id:id}", api_get, allow=SIGNED_IN),
    route("/api/v1/service-calls/{id:id}/accept", api_accept, methods=["POST"], allow=DESK),
    route("/api/v1/service-calls/{id:id}/done", api_done, methods=["POST"], allow=DESK),
]
