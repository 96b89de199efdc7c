"""Approval (SPEC B4): bookings of rooms that need it wait as "pending" (holding
their slot) until one of the room's admins approves or rejects them with a reason.

A room whose approval is "external" is approved by an OA: it is sent the webhook
`booking.approval_requested` and answers `POST /api/v1/bookings/{id}/approve|reject` with
a token of one of the room's admins (or an IT admin). One it has not decided within
SIGNAGE_APPROVAL_HOURS is decided by the room's `undecided` rule (`Deadlines`, a task in
every process), and the events tell everyone (notifications, webhooks).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import literal_column, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking_api.bookings import changes, rules
from booking_api.bookings.bookings import BookingOut, booking_json, get_booking
from booking_api.models import Booking, Room, RoomOwner
from booking_api.rooms.rooms import may_manage
from signage import audit, clock, i18n, openapi
from signage.api import json_body, parse
from signage.auth import route
from signage.errors import AppError, Conflict, Forbidden, Invalid
from signage.i18n import gettext as _
from signage.models import User
from signage.responses import JSONResponse
from signage.templating import render

APPROVERS = ("room_admin",)
DEADLINE_CHECK_SECONDS = 60.0
log = logging.getLogger("signage.approvals")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=1000)
    scope: Literal["this", "series"] = Field("this", description="this booking, or every pending one of its series")


async def decide(request: Request, booking_id: int, approve: bool, reason: str, scope: str = "this") -> Booking:
    reason = reason.strip()
    if not approve and not reason:
        raise Invalid(_("Say why the booking is rejected."), {"field": "reason"})
    user = request.state.user
    async with request.app.state.db.begin() as s:
        b = await get_booking(s, booking_id)
        if not await may_manage(s, user, b.room_id):
            raise Forbidden(_("Only the room's admins may approve or reject its bookings."))
        if b.status != "pending":
            raise Conflict(_("This booking is not waiting for approval."))
        if approve:  # an approval makes a booking: not while the room is out of service
            rules.check_in_service(await s.get(Room, b.room_id))
        targets = [b]
        if scope == "series" and b.series_id is not None:
            query = select(Booking).where(Booking.series_id == b.series_id, Booking.status == "pending")
            targets = list((await s.scalars(query)).all())
        for t in targets:
            t.status, t.reason, t.decided_by = ("confirmed" if approve else "rejected"), reason, user.id
        kind = "booking.approved" if approve else "booking.rejected"
        said = f"{scope}: {reason}" if scope != "this" else reason
        await changes.record(s, kind, [t.id for t in targets], request, reason=said, target=f"booking:{b.id}")
    return b


async def decide_overdue(db, bus, hours: int, locale: str) -> int:
    """Decide the external approvals older than `hours` by their rooms' rule; how many."""
    if hours <= 0:
        return 0
    cutoff = clock.now() - dt.timedelta(hours=hours)
    query = (
        select(Booking, Room.undecided, Room.out_of_service_since)
        .join(Room, Room.id == Booking.room_id)
        .where(Booking.status == literal_column("'pending'"), Room.approval == "external", Booking.created_at < cutoff)
        .order_by(Booking.id)
        .limit(200)
    )
    if db.backend == "postgresql":
        query = query.with_for_update(of=Booking, skip_locked=True)
    token = i18n.current_locale.set(locale)
    try:
        reason = _("Not decided within %(hours)s hours.", hours=hours)
    finally:
        i18n.current_locale.reset(token)
    async with db.begin() as s:
        # a room out of service takes no booking: its rule "approve" rejects meanwhile
        found = [(b, "reject" if out else rule) for b, rule, out in (await s.execute(query)).all()]
        for approve in (True, False):
            targets = [b for b, rule in found if (rule == "approve") == approve]
            for b in targets:
                b.status, b.reason = ("confirmed" if approve else "rejected"), reason
            kind = "booking.approved" if approve else "booking.rejected"
            await changes.record(s, kind, [b.id for b in targets], "system", reason=reason)
    return len(found)


class Deadlines:
    """Every DEADLINE_CHECK_SECONDS, `decide_overdue` (in every process: PostgreSQL's SKIP
    LOCKED and the status check keep each booking decided once)."""

    def __init__(self, app) -> None:
        self.app, self.task = app, None

    async def start(self) -> None:
        if self.app.state.settings.approval_hours > 0:
            self.task = asyncio.create_task(self.run(), name="signage-approval-deadlines")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def run(self) -> None:
        state = self.app.state
        while True:
            try:
                await decide_overdue(state.db, state.bus, state.settings.approval_hours, state.settings.default_locale)
            except Exception:  # the database is away: next time
                log.warning("approval deadlines: a round failed", exc_info=True)
            await asyncio.sleep(DEADLINE_CHECK_SECONDS)


async def _decide_and_record(request: Request, approve: bool, reason: str, scope: str = "this") -> Booking:
    booking_id = request.path_params["id"]
    action = "booking.approve" if approve else "booking.reject"
    try:
        b = await decide(request, booking_id, approve, reason, scope)
    except AppError as exc:
        await audit.record(request, action, f"booking:{booking_id}", result="failure", reason=exc.message)
        raise
    return b


async def pending_for(request: Request, limit: int) -> list:
    """(booking, room, organizer) waiting for approval in the rooms this user approves (admins: all)."""
    user = request.state.user
    query = (
        select(Booking, Room, User)
        .join(Room, Room.id == Booking.room_id)
        .outerjoin(User, User.id == Booking.organizer_id)
        .where(Booking.status == literal_column("'pending'"))  # a literal: ix_bookings_pending_start_at applies
        .order_by(Booking.start_at)
    )
    if user.role != "admin":
        query = query.join(RoomOwner, RoomOwner.room_id == Room.id).where(RoomOwner.user_id == user.id)
    async with request.app.state.db.session() as s:
        return (await s.execute(query.limit(limit))).all()


async def inbox(request: Request, error: AppError | None = None, status_code: int = 200) -> Response:
    pending = await pending_for(request, 500)
    return render(request, "bookings/approvals.html", {"pending": pending, "error": error}, status_code=status_code)


async def approve_form(request: Request) -> Response:
    form = await request.form()
    await _decide_and_record(request, True, "", "series" if form.get("scope") == "series" else "this")
    return RedirectResponse("/approvals", status_code=303)


async def reject_form(request: Request) -> Response:
    form = await request.form()
    try:
        scope = "series" if form.get("scope") == "series" else "this"
        await _decide_and_record(request, False, str(form.get("reason", "")), scope)
    except (Invalid, Conflict) as exc:
        return await inbox(request, error=exc, status_code=exc.status)
    return RedirectResponse("/approvals", status_code=303)


async def api_approve(request: Request) -> Response:
    raw = await request.body()
    body = parse(Decision, await json_body(request)) if raw.strip() else Decision()
    b = await _decide_and_record(request, True, body.reason, body.scope)
    return JSONResponse(booking_json(b))


async def api_reject(request: Request) -> Response:
    body = parse(Decision, await json_body(request))
    b = await _decide_and_record(request, False, body.reason, body.scope)
    return JSONResponse(booking_json(b))


openapi.add(
    "post",
    "/api/v1/bookings/{id}/approve",
    "Approve a pending booking",
    body=Decision,
    optional_body=True,
    response=BookingOut,
    tag="approvals",
    errors=(400, 401, 403, 404, 409),
)
openapi.add(
    "post",
    "/api/v1/bookings/{id}/reject",
    "Reject a pending booking (reason required)",
    body=Decision,
    response=BookingOut,
    tag="approvals",
    errors=(400, 401, 403, 404, 409),
)

routes = [
    route("/approvals", inbox, allow=APPROVERS),
    route("/approvals/{id:id}/approve", approve_form, methods=["POST"], allow=APPROVERS),
    route("/approvals/{id:id}/reject", reject_form, methods=["POST"], allow=APPROVERS),
    route("/api/v1/bookings/{id:id}/approve", api_approve, methods=["POST"], allow=APPROVERS),
    route("/api/v1/bookings/{id:id}/reject", api_reject, methods=["POST"], allow=APPROVERS),
]
