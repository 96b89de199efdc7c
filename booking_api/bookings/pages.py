"""A booking's own page, the meeting's page on desktops: the organizer (or the room's admins) edit or
cancel it there.

Booking itself happens on the availability grid (`/rooms`), which talks to the API.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking_api.billing import api as billing
from booking_api.bookings.bookings import BookingPatch, cancel_booking, may_change, update_booking
from booking_api.meetings.page import meeting_context
from booking_api.models import Booking, Room
from signage import audit
from signage.api import parse
from signage.auth import SIGNED_IN, route
from signage.errors import AppError, Forbidden, Invalid
from signage.i18n import gettext as _
from signage.models import User
from signage.responses import is_htmx
from signage.templating import render


def local_input(value: dt.datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def from_local_input(raw: str, tz: ZoneInfo, field: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise Invalid(_("%(field)s must be a date and time.", field=field), {"field": field}) from None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


ROLES = {  # an attendee's role as typed, in English or Chinese
    "chair": "chair",
    "主持": "chair",
    "主持人": "chair",
    "required": "required",
    "必选": "required",
    "必须": "required",
    "optional": "optional",
    "可选": "optional",
}


def attendee_lines(text: str) -> list[dict]:
    """Attendees from lines of "name, email, phone, role" (all but the name may be left out;
    role: chair, required or optional); Invalid names the line that is wrong."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        parts = [p.strip() for p in line.replace("，", ",").split(",")]
        if not any(parts):
            continue
        name, email, phone, role = (parts + ["", "", ""])[:4]
        if not name or len(parts) > 4 or (role and role.lower() not in ROLES):
            message = _('Attendee line %(n)s: write "name, email, phone, role" (role: chair, required or optional).')
            raise Invalid(message % {"n": number}, {"field": "attendees"})
        role = ROLES[role.lower()] if role else "required"
        found.append({"name": name, "email": email, "phone": phone, "role": role})
    return found


def attendee_text(people) -> str:
    return "\n".join(", ".join([a.name, a.email, a.phone, a.role]).rstrip(", ") for a in people)


async def booking_page(request: Request, error: AppError | None = None, status_code: int = 200, form=None) -> Response:
    """The meeting's page (booking_api.meetings.page), with the edit and cancel forms for those who may."""
    tz = ZoneInfo(request.app.state.settings.timezone)
    async with request.app.state.db.session() as s:
        ctx = await meeting_context(s, request, request.path_params["id"])
        b = ctx["b"]
        editable = await may_change(s, request.state.user, b) and b.active
        rooms = (await s.execute(select(Room.id, Room.name).order_by(Room.building, Room.floor, Room.name))).all()
        ctx["charges"] = await billing.charges_seen(s, request.state.user, b)
    ctx["money"] = billing.money
    if is_htmx(request) and request.method == "GET":
        return render(request, "bookings/booking.html", ctx, block="live")
    ctx.update(
        rooms=rooms,
        editable=editable,
        start=local_input(b.start_at, tz),
        end=local_input(b.end_at, tz),
        attendees="" if ctx["limited"] else attendee_text(ctx["people"]),
        error=error,
        form=form,  # what was sent, shown again when it was refused
    )
    return render(request, "bookings/booking.html", ctx, status_code=status_code)


async def edit_form(request: Request) -> Response:
    tz = ZoneInfo(request.app.state.settings.timezone)
    booking_id = request.path_params["id"]
    form = await request.form()
    try:
        data = {
            "title": str(form.get("title", "")),
            "notes": str(form.get("notes", "")),
            "start": from_local_input(str(form.get("start", "")), tz, "start").isoformat(),
            "end": from_local_input(str(form.get("end", "")), tz, "end").isoformat(),
            "scope": str(form.get("scope", "this")),
        }
        if "room_id" in form:
            data["room_id"] = str(form.get("room_id", ""))
        if "private_shown" in form:
            data["private"] = form.get("private") is not None
        if "services" in form:
            services = str(form.get("services", "")).replace("，", ",").split(",")
            data["services"] = [x.strip() for x in services if x.strip()]
        if "attendees" in form:
            data["attendees"] = attendee_lines(str(form.get("attendees", "")))
        patch = parse(BookingPatch, data, strict=False)
        await update_booking(request, booking_id, patch)
    except AppError as exc:
        await audit.record(request, "booking.update", f"booking:{booking_id}", result="failure", reason=exc.message)
        if isinstance(exc, Forbidden):
            raise
        return await booking_page(request, error=exc, status_code=exc.status, form=form)
    return RedirectResponse(f"/bookings/{booking_id}", status_code=303)


async def cancel_form(request: Request) -> Response:
    booking_id = request.path_params["id"]
    form = await request.form()
    scope = str(form.get("scope", "this"))
    if scope not in ("this", "following", "series"):
        scope = "this"
    try:
        await cancel_booking(request, booking_id, scope, str(form.get("reason", ""))[:500])
    except AppError as exc:
        await audit.record(request, "booking.cancel", f"booking:{booking_id}", result="failure", reason=exc.message)
        if isinstance(exc, Forbidden):
            raise
        return await booking_page(request, error=exc, status_code=exc.status)
    return RedirectResponse("/bookings", status_code=303)


async def edit_price(request: Request) -> Response:
    """What the edit form's room and times would cost, against what the booking costs now, as a
    line of text for `billing/static/price-line.js`; empty unless the asker sees its price and a card prices it."""
    tz = ZoneInfo(request.app.state.settings.timezone)
    q = request.query_params
    async with request.app.state.db.reads() as s:
        b = await s.get(Booking, request.path_params["id"])
        if b is None:
            return Response("", media_type="text/plain")
        charges = await billing.charges_seen(s, request.state.user, b)
        try:
            start = from_local_input(q.get("start", ""), tz, "start")
            end = from_local_input(q.get("end", ""), tz, "end")
            room_id = int(q.get("room_id") or b.room_id)
        except (ValueError, AppError):
            return Response("", media_type="text/plain")
        if not charges or end <= start or not 0 < room_id < 2**31:
            return Response("", media_type="text/plain")
        organizer = await s.get(User, b.organizer_id) if b.organizer_id else None
        answer = await billing.price_of_change(s, charges[-1], room_id, [(start, end)], billing.tags_of(organizer), tz)
    now = charges[-1].amount if charges[-1].kind != "cancelled" else 0
    total = answer["total"]
    change = total - now
    sign = "+" if change > 0 else ""
    text = _("After this change: %(price)s (%(change)s)", price=billing.money(total, answer["currency"]),
             change=sign + billing.money(change, answer["currency"]))  # fmt: skip
    return Response(text, media_type="text/plain")


routes = [
    route("/bookings/{id:id}/price", edit_price, allow=SIGNED_IN),
    route("/bookings/{id:id}", booking_page, allow=SIGNED_IN),
    route("/bookings/{id:id}", edit_form, methods=["POST"], allow=SIGNED_IN),
    route("/bookings/{id:id}/cancel", cancel_form, methods=["POST"], allow=SIGNED_IN),
]
