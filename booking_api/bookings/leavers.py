"""Bookings of people who left (issue 19): when the directory deactivates a person, their
meetings still to come are listed here for an IT admin to give to someone else or cancel.

    GET  /admin/directory/leavers                 the list
    POST /admin/directory/leavers/{id}            action=reassign (email=…) or action=cancel

A reassignment is a change of the booking like any other: its event and audit entry
(`booking.updated`, action `booking.reassign`) in the same transaction.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking_api.bookings import changes
from booking_api.bookings.bookings import cancel_booking
from booking_api.models import ACTIVE, Booking, Room
from signage import clock
from signage.auth import route
from signage.errors import AppError, Invalid, NotFound
from signage.i18n import gettext as _
from signage.models import User
from signage.templating import render

ADMINS = ("admin",)
SHOWN = 500


def leavers_bookings():
    return (
        select(Booking, User.name, User.email, Room.name.label("room"))
        .join(User, User.id == Booking.organizer_id)
        .join(Room, Room.id == Booking.room_id)
        .where(User.is_active.is_(False), Booking.status.in_(ACTIVE), Booking.start_at > clock.now())
        .order_by(Booking.start_at, Booking.id)
        .limit(SHOWN)
    )


async def page(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        found = (await s.execute(leavers_bookings())).all()
    ctx = {"found": found, "done": request.query_params.get("done", "")[:200]}
    return render(request, "bookings/leavers.html", ctx)


async def act(request: Request) -> Response:
    booking_id = request.path_params["id"]
    form = await request.form()
    action = form.get("action")
    try:
        if action == "cancel":
            await cancel_booking(request, booking_id, "one", _("Its organizer has left."))
            done = _("Cancelled.")
        elif action == "reassign":
            done = await reassign(request, booking_id, str(form.get("email", "")).strip().lower())
        else:
            raise Invalid(_("Choose to reassign or cancel."), {"field": "action"})
    except AppError as exc:
        done = exc.message
    return RedirectResponse(f"/admin/directory/leavers?done={quote(done)}", status_code=303)


async def reassign(request: Request, booking_id: int, email: str) -> str:
    if not email:
        raise Invalid(_("Give the email of the new organizer."), {"field": "email"})
    async with request.app.state.db.begin() as s:
        b = await s.get(Booking, booking_id)
        if b is None:
            raise NotFound(_("No such booking."))
        if b.status not in ACTIVE:
            raise Invalid(_("This booking is already cancelled or rejected."))
        to = await s.scalar(select(User).where(func.lower(User.email) == email, User.is_active.is_(True)))
        if to is None:
            raise Invalid(_("No active user has this email."), {"field": "email"})
        b.organizer_id = to.id
        await changes.record(s, "booking.updated", [b.id], request, reason=f"organizer: user:{to.id}",
                             action="booking.reassign")  # fmt: skip
    request.state.audited = True
    return _("Given to %(name)s.", name=to.name or to.email)


routes = [
    route("/admin/directory/leavers", page, allow=ADMINS),
    route("/admin/directory/leavers/{id:id}", act, methods=["POST"], allow=ADMINS),
]
