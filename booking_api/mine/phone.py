"""My meetings on a phone (SPEC B8, B5): pages for the WeChat and DingTalk in-app browsers.

Phone-first: one column, no hover, buttons at least 48 px high, plain forms (no
script needed). Under `/m`: book a room, my bookings (with what the organizer is
told: approvals, rejections, no-shows), meetings I am invited to (accept, decline),
the approvals inbox of room admins, a month calendar, and the QR check-in page a
door screen's code leads to (`/m/checkin/<token>`; signing in first when needed).
"""

from __future__ import annotations

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking_api.bookings import approvals
from booking_api.bookings.bookings import BookingIn, create_booking, get_booking
from booking_api.bookings.pages import attendee_lines, from_local_input
from booking_api.doors import checkin
from booking_api.doors.roomstate import load_status
from booking_api.mine import ical, replies
from booking_api.models import Attendee, Booking, CheckIn, Reply, Room
from signage import audit, clock
from signage.api import parse
from signage.auth import SIGNED_IN, route
from signage.errors import AppError, Invalid
from signage.i18n import gettext as _
from signage.templating import render

NOTICE_DAYS = 14
DURATIONS = (30, 60, 90, 120)


def tz_of(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


LIVE = ("bookings", "invitations", "approvals", "calendar")  # lists that follow bookings live (no forms to lose)


def page(request: Request, name: str, ctx: dict, status_code: int = 200) -> Response:
    ctx = {"tab": name, "live": name in LIVE, **ctx}
    return render(request, f"mine/m_{name}.html", ctx, status_code=status_code)


async def home(request: Request) -> Response:
    return RedirectResponse("/m/bookings", status_code=303)


# ---------------------------------------------------------------- book a room


async def book_page(request: Request, error: AppError | None = None, status_code: int = 200, form=None) -> Response:
    now, tz = clock.now(), tz_of(request)
    async with request.app.state.db.reads() as s:
        rooms = (await s.scalars(select(Room).order_by(Room.building, Room.floor, Room.name))).all()
        found = {r.id: await load_status(s, r, now, request.app.state.settings) for r in rooms}
    states = {room_id: availability(status, tz) for room_id, status in found.items()}
    start = first_slot(rooms, now, tz)
    ctx = {
        "rooms": rooms,
        "states": states,
        "durations": DURATIONS,
        "error": error,
        "form": form or {"start": start.strftime("%Y-%m-%dT%H:%M"), "minutes": "60", "room_id": ""},
    }
    return page(request, "book", ctx, status_code)


def availability(status: dict, tz) -> tuple[str, str]:
    """(state, words) of a room now: "in use until 10:30", "free until 14:00", "free all day",
    "out of service"."""
    if status["condition"] == "out_of_service":
        return "out_of_service", _("Out of service")
    current, following = status["current"], status["next"]
    if current is not None:
        return "in_progress", _("In use until %(time)s", time=current["end_at"].astimezone(tz).strftime("%H:%M"))
    if following is not None and following["start_at"].astimezone(tz).date() == status["today_at"]:
        return "free", _("Free until %(time)s", time=following["start_at"].astimezone(tz).strftime("%H:%M"))
    return "free", _("Free all day")


def first_slot(rooms, now: dt.datetime, tz) -> dt.datetime:
    """The form's start: the next quarter hour, inside the hours some room is open (else the
    next opening)."""
    start = (now + dt.timedelta(minutes=15 - now.minute % 15)).astimezone(tz).replace(second=0, microsecond=0)
    if not rooms:
        return start
    opens, closes = min(r.opens_at for r in rooms), max(r.closes_at for r in rooms)
    minute = start.hour * 60 + start.minute
    if minute < opens:
        return start.replace(hour=opens // 60, minute=opens % 60)
    if minute >= closes:
        tomorrow = start + dt.timedelta(days=1)
        return tomorrow.replace(hour=opens // 60, minute=opens % 60)
    return start


async def book(request: Request) -> Response:
    form = dict(await request.form())
    try:
        start = from_local_input(str(form.get("start", "")), tz_of(request), "start")
        minutes = int(form.get("minutes") or 0)
        if minutes not in DURATIONS:
            raise Invalid(_("Choose how long the meeting lasts."), {"field": "minutes"})
        body = parse(
            BookingIn,
            {
                "room_id": int(form.get("room_id") or 0),
                "title": str(form.get("title", "")).strip(),
                "start": start.isoformat(),
                "end": (start + dt.timedelta(minutes=minutes)).isoformat(),
                "attendees": attendee_lines(str(form.get("attendees", ""))),
            },
        )
        _status, answer = await create_booking(request, body)
    except (ValueError, AppError) as exc:
        error = exc if isinstance(exc, AppError) else Invalid(_("Choose a room."), {"field": "room_id"})
        await audit.record(request, "booking.create", "", result="failure", reason=error.message)
        return await book_page(request, error, error.status, form)
    return RedirectResponse(f"/m/bookings?booked={answer['id']}", status_code=303)


async def book_price(request: Request) -> Response:
    """The price of what the form says now (a room with a rate card), as a line of text for
    `billing/static/price-line.js`; empty while the form is not complete or the room charges nothing."""
    from booking_api.billing.api import describe, price, tags_of

    q = request.query_params
    try:
        start = from_local_input(q.get("start", ""), tz_of(request), "start")
        minutes, room_id = int(q.get("minutes") or 0), int(q.get("room_id") or 0)
    except (ValueError, AppError):
        return Response("", media_type="text/plain")
    if minutes not in DURATIONS or not 0 < room_id < 2**31:
        return Response("", media_type="text/plain")
    async with request.app.state.db.reads() as s:
        answer = await price(s, room_id, [(start, start + dt.timedelta(minutes=minutes))], tags_of(request.state.user),
                             tz_of(request))  # fmt: skip
    return Response(describe(answer), media_type="text/plain")


# ---------------------------------------------------------------- my bookings, notices


async def my_bookings(request: Request) -> Response:
    user, now = request.state.user, clock.now()
    since = now - dt.timedelta(days=NOTICE_DAYS)
    async with request.app.state.db.session() as s:
        mine = (
            await s.execute(
                select(Booking, Room)
                .join(Room, Room.id == Booking.room_id)
                .where(
                    Booking.organizer_id == user.id, Booking.end_at > now, Booking.status.in_(("pending", "confirmed"))
                )
                .order_by(Booking.start_at)
                .limit(200)
            )
        ).all()
        told = (
            await s.execute(
                select(Booking, Room)
                .join(Room, Room.id == Booking.room_id)
                .where(
                    Booking.organizer_id == user.id,
                    Booking.updated_at > since,
                    or_(Booking.status == "no_show", Booking.decided_by.is_not(None)),
                )
                .order_by(Booking.updated_at.desc())
                .limit(50)
            )
        ).all()
        checked = set(
            (await s.scalars(select(CheckIn.booking_id).where(CheckIn.booking_id.in_([b.id for b, _r in mine])))).all()
        )
        feed = await ical.feed_url(request, s, "user", user.id)
    ctx = {
        "mine": mine,
        "notices": told,
        "checked": checked,
        "feed": feed,
        "booked": request.query_params.get("booked"),
    }
    return page(request, "bookings", ctx)


async def rotate_feed(request: Request) -> Response:
    await ical.rotate(request, "user", request.state.user.id)
    return RedirectResponse("/m/bookings#feed", status_code=303)


# ---------------------------------------------------------------- invitations


async def invitations(request: Request, error: AppError | None = None, status_code: int = 200) -> Response:
    user, now = request.state.user, clock.now()
    async with request.app.state.db.session() as s:
        found = (
            await s.execute(
                select(Booking, Room, Reply.answer)
                .join(Attendee, Attendee.booking_id == Booking.id)
                .join(Room, Room.id == Booking.room_id)
                .outerjoin(Reply, (Reply.booking_id == Booking.id) & (Reply.user_id == user.id))
                .where(Attendee.user_id == user.id, Booking.end_at > now, Booking.status.in_(("pending", "confirmed")))
                .order_by(Booking.start_at)
                .limit(200)
            )
        ).all()
    return page(request, "invitations", {"found": found, "error": error}, status_code)


async def reply(request: Request) -> Response:
    user, booking_id = request.state.user, request.path_params["id"]
    answer = request.path_params["answer"]
    try:
        if answer not in ("accept", "decline"):
            raise Invalid(_("Accept or decline."))
        async with request.app.state.db.begin() as s:
            b = await get_booking(s, booking_id)
            invited = await s.scalar(
                select(Attendee.id).where(Attendee.booking_id == b.id, Attendee.user_id == user.id)
            )
            if invited is None:
                raise Invalid(_("You are not invited to this meeting."))
            await replies.give(s, [b.id], "", "accepted" if answer == "accept" else "declined", user_id=user.id)
    except AppError as exc:
        await audit.record(
            request, "invitation." + answer, f"booking:{booking_id}", result="failure", reason=exc.message
        )
        return await invitations(request, exc, exc.status)
    await audit.record(request, "invitation." + answer, f"booking:{booking_id}")
    await replies.announce(request.app.state.bus, [b.id])
    back = str((await request.form()).get("next", ""))  # the meeting's page, when answered there
    return RedirectResponse(back if back in (f"/bookings/{b.id}", f"/m/meetings/{b.id}") else "/m/invitations", 303)


# ---------------------------------------------------------------- my notifications


async def notifications(request: Request) -> Response:
    from signage.notify import inbox
    from signage.notify.models import LABELS

    async with request.app.state.db.session() as s:
        found = await inbox.latest(s, request.state.user.id)
        unread = await inbox.unread(s, request.state.user.id)
    return page(request, "notifications", {"notices": found, "unread": unread, "labels": LABELS})


# ---------------------------------------------------------------- approvals (room admins)


async def approvals_page(request: Request, error: AppError | None = None, status_code: int = 200) -> Response:
    pending = await approvals.pending_for(request, 200)
    return page(request, "approvals", {"pending": pending, "error": error}, status_code)


async def decide(request: Request) -> Response:
    approve = request.path_params["decision"] == "approve"
    form = await request.form()
    try:
        if request.path_params["decision"] not in ("approve", "reject"):
            raise Invalid(_("Approve or reject."))
        await approvals._decide_and_record(request, approve, str(form.get("reason", ""))[:1000])
    except AppError as exc:
        return await approvals_page(request, exc, exc.status)
    return RedirectResponse("/m/approvals", status_code=303)


# ---------------------------------------------------------------- month calendar


def month_of(raw: str | None, today: dt.date) -> dt.date:
    if not raw:
        return today.replace(day=1)
    try:
        return dt.date.fromisoformat(raw + "-01")
    except ValueError:
        raise Invalid(_("month must be YYYY-MM."), {"field": "month"}) from None


async def month_calendar(request: Request) -> Response:
    user, tz = request.state.user, tz_of(request)
    today = clock.now().astimezone(tz).date()
    first = month_of(request.query_params.get("month"), today)
    last = (first + dt.timedelta(days=32)).replace(day=1)
    start = dt.datetime.combine(first, dt.time(), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(last, dt.time(), tz).astimezone(dt.UTC)
    async with request.app.state.db.session() as s:
        found = (
            await s.execute(
                select(Booking, Room)
                .join(Room, Room.id == Booking.room_id)
                .where(
                    or_(
                        Booking.organizer_id == user.id,
                        Booking.id.in_(select(Attendee.booking_id).where(Attendee.user_id == user.id)),
                    ),
                    Booking.status.in_(("pending", "confirmed", "no_show")),
                    Booking.start_at < end,
                    Booking.end_at > start,
                )
                .order_by(Booking.start_at)
                .limit(1000)
            )
        ).all()
    by_day: dict[dt.date, list] = {}
    for b, room in found:
        by_day.setdefault(b.start_at.astimezone(tz).date(), []).append((b, room))
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    ctx = {
        "first": first,
        "weeks": weeks,
        "by_day": by_day,
        "today": today,
        "prev": (first - dt.timedelta(days=1)).strftime("%Y-%m"),
        "next": last.strftime("%Y-%m"),
        "selected": by_day.get(today, []) if first.month == today.month else [],
    }
    return page(request, "calendar", ctx)


# ---------------------------------------------------------------- QR check-in


async def qr_page(request: Request, error: AppError | None = None, done: dict | None = None) -> Response:
    settings = request.app.state.settings
    booking = room = None
    status_code = error.status if error else 200
    try:
        room_id, booking_id = checkin.read_qr_token(settings, request.path_params["token"])
        async with request.app.state.db.session() as s:
            booking = await get_booking(s, booking_id)
            room = await s.get(Room, room_id)
        if booking.room_id != room_id:
            raise Invalid(_("This check-in code is for another room."))
    except AppError as exc:
        booking = None
        if error is None:
            error, status_code = exc, exc.status
    return page(request, "checkin", {"booking": booking, "room": room, "error": error, "done": done}, status_code)


async def qr_check_in(request: Request) -> Response:
    settings, token = request.app.state.settings, request.path_params["token"]
    target = "room:?"
    try:
        room_id, booking_id = checkin.read_qr_token(settings, token)
        target = f"booking:{booking_id}"
        done = await checkin.check_in(request, booking_id, "qr", room_id=room_id, user=request.state.user)
    except AppError as exc:
        await audit.record(request, "booking.check_in", target, result="failure", reason=exc.message)
        return await qr_page(request, exc)
    return await qr_page(request, done=done)


routes = [
    route("/m", home, allow=SIGNED_IN),
    route("/m/book", book_page, allow=SIGNED_IN),
    route("/m/book", book, methods=["POST"], allow=SIGNED_IN),
    route("/m/book/price", book_price, allow=SIGNED_IN),
    route("/m/bookings", my_bookings, allow=SIGNED_IN),
    route("/m/feed/rotate", rotate_feed, methods=["POST"], allow=SIGNED_IN),
    route("/m/invitations", invitations, allow=SIGNED_IN),
    route("/m/notifications", notifications, allow=SIGNED_IN),
    route("/m/invitations/{id:id}/{answer}", reply, methods=["POST"], allow=SIGNED_IN),
    route("/m/approvals", approvals_page, allow=approvals.APPROVERS),
    route("/m/approvals/{id:id}/{decision}", decide, methods=["POST"], allow=approvals.APPROVERS),
    route("/m/calendar", month_calendar, allow=SIGNED_IN),
    route("/m/checkin/{token}", qr_page, allow=SIGNED_IN),
    route("/m/checkin/{token}", qr_check_in, methods=["POST"], allow=SIGNED_IN),
]
