"""The meeting's own page (SPEC B7, B8): title, time, room and its spot on the floor plan,
organizer, attendees with their contacts, roles and answers, services wanted and what the
desk did (its calls and cleaning, open / accepted / done), check-in; materials
before on one side, minutes and resolutions after on the other.

It is the booking's page on desktops (`/bookings/{id}`, booking_api.bookings.pages, which
adds the organizer's edit forms) and `/m/meetings/{id}` on phones: both render
`meetings/_meeting.html` in their block `live`, which `static/meeting.js` fetches again
(htmx request: the block alone) when the meeting changes (`meetings` and `bookings` topics).
Those not concerned with the meeting see its outline (booking_api.bookings.visibility).
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from booking_api.bookings.bookings import attendees_of, get_booking
from booking_api.bookings.visibility import Viewer, public_title
from booking_api.desk import tasks as desk_tasks
from booking_api.desk.models import ServiceTask
from booking_api.integrations import access
from booking_api.meetings.materials import Meeting, files_of, material_json
from booking_api.mine import replies
from booking_api.models import CheckIn, FloorPlan, Room, booking_json
from signage import clock
from signage.auth import SIGNED_IN, route
from signage.errors import AppError, Forbidden
from signage.models import User
from signage.responses import is_htmx
from signage.templating import render


async def meeting_context(s, request: Request, booking_id: int) -> dict:
    """What the meeting's part of both pages shows; `limited`: the viewer sees the outline only."""
    user = request.state.user
    b = await get_booking(s, booking_id)
    room = await s.get(Room, b.room_id)
    people = (await attendees_of(s, [b.id])).get(b.id, [])
    viewer = await Viewer.of(s, user)
    limited = not viewer.concerned(booking_json(b, people))
    organizer = await s.get(User, b.organizer_id) if b.organizer_id and not (limited and b.private) else None
    plan = None
    if room is not None and room.plan_x is not None:
        plan = await s.scalar(
            select(FloorPlan).where(FloorPlan.building == room.building, FloorPlan.floor == room.floor)
        )
    ctx = {
        "b": b,
        "room": room,
        "plan": plan,
        "organizer": organizer,
        "limited": limited,  # not concerned: the outline only
        "title": public_title(b) if limited else b.title,
        "people": [],
        "answers": {},
        "checked_in": None,
        "before": [],
        "minutes": [],
        "may_add": {},
        "tasks": [],
        "service": {"may": False, "calls": []},
    }
    if limited:
        return ctx
    meeting = Meeting(b, people, user, user.role == "admin" or b.room_id in viewer.managed)
    # each attendee's answer, users' and guests' (booking_api.mine.replies), by attendee id
    answers = {a_id: answer for a_id, (answer, _at) in (await replies.answers_of(s, [b.id])).get(b.id, {}).items()}
    mine = next((a.id for a in people if a.user_id == user.id), None)
    files = [
        material_json(b.id, m, f, removable=meeting.may_remove(m)) for m, f in (await s.execute(files_of(b))).all()
    ]
    ctx.update(
        people=people,
        answers=answers,
        checked_in=await s.get(CheckIn, b.id),
        before=[f for f in files if f["kind"] == "before"],
        minutes=[f for f in files if f["kind"] == "minutes"],
        may_add={k: meeting.may_add(k) for k in ("before", "minutes")},
        invited=b.active and any(a.user_id == user.id for a in people),  # may answer here
        my_answer=answers.get(mine),
        max_material_mb=request.app.state.settings.max_material_mb,
        tasks=[  # what the desk did for it: calls from its room while it ran, its cleaning
            {"kind": desk_tasks.kind_label(t.kind), "status": t.status, "state": desk_tasks.status_label(t.status), "task": t}
            for t in await desk_tasks.of_meeting(s, b)
        ],
        service=await service_of(s, request, b),
    )
    return ctx


async def service_of(s, request: Request, b) -> dict:
    """The *Call service* control (booking_api/desk): whether the viewer may call now (one of
    the meeting's people, while it is on) and the meeting's calls not done yet."""
    lead = request.app.state.settings.service_lead_minutes
    opens, closes = desk_tasks.call_window(b, lead)
    may = (
        b.status == "confirmed"
        and opens <= clock.now() < closes
        and await desk_tasks.may_call_for(s, request.state.user, b)
    )
    calls = (
        await s.scalars(
            select(ServiceTask)
            .where(
                ServiceTask.before_booking_id == b.id,
                ServiceTask.origin == "meeting",
                ServiceTask.status.in_(("open", "accepted")),
            )
            .order_by(ServiceTask.id)
        )
    ).all()
    return {
        "may": may,
        "calls": calls,
        "kinds": {k: desk_tasks.kind_label(k) for k in ("tea", "it", "cleaning", "other")},
    }


async def phone_page(request: Request, opened: list[dict] | None = None, error: AppError | None = None) -> Response:
    """The phone's page; "Open door" when the user may open the room's doors now (staff, or
    the meeting's people within its window), with the doors' answers once pressed (`opened`)."""
    booking_id = request.path_params["id"]
    async with request.app.state.db.session() as s:
        ctx = await meeting_context(s, request, booking_id)
        b, settings = ctx["b"], request.app.state.settings
        may_open = await access.room_has_doors(s, b.room_id) and (
            await access.may_open(s, request.state.user, b.room_id, clock.now(), settings, booking_id=b.id)
        )
    ctx.update(tab="meeting", may_open_door=bool(may_open), opened=opened, error=error)
    if is_htmx(request):
        return render(request, "meetings/m_meeting.html", ctx, block="live")
    return render(request, "meetings/m_meeting.html", ctx, status_code=error.status if error else 200)


async def open_door(request: Request) -> Response:
    """"Open door" on the phone's page (CSRF): the page again, with each door's answer."""
    booking_id = request.path_params["id"]
    async with request.app.state.db.session() as s:
        b = await get_booking(s, booking_id)
    try:
        answers = await access.open_by_hand(request, b.room_id, f"from the page of booking {b.id}", booking_id=b.id)
    except Forbidden as exc:
        return await phone_page(request, error=exc)
    return await phone_page(request, opened=answers)


routes = [
    route("/m/meetings/{id:id}", phone_page, allow=SIGNED_IN),
    route("/m/meetings/{id:id}/doors/open", open_door, methods=["POST"], allow=SIGNED_IN),
]
