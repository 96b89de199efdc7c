"""Calling a meeting's people in from the desk, and the waiting-room screens' voice.

- `POST /desk/bookings/{id}/call-in` (service staff): waiting-room screens of the room's
  floor show the meeting large and announce it (widgets/waiting_room.py); written with its
  `desk.called_in` event, which the `desk` consumer tells the screens (`rooms`).
- `GET /player/api/speech?booking_id=` (a screen) and `GET /widgets/speech?booking_id=`
  (a signed-in preview): the announcement of a meeting spoken in the site's language, a
  cached WAV (signage/speech.py). A private meeting is announced by its time and room only
  (`announcement`): screens are public, and so is this sentence.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from booking_api.desk import tasks
from booking_api.desk.models import CallIn
from booking_api.models import Booking, Room
from signage import audit, clock, i18n, speech
from signage.api import int_param
from signage.auth import SCREEN, SIGNED_IN, route
from signage.errors import AppError, Conflict, Invalid, NotFound, Unavailable
from signage.eventlog import log as eventlog
from signage.eventlog.log import actor_of
from signage.i18n import gettext as _
from signage.responses import is_htmx
from widgets.waiting_room import announcement


async def call_in(request: Request) -> Response:
    booking_id = request.path_params["id"]
    try:
        async with request.app.state.db.begin() as s:
            b = await s.get(Booking, booking_id)
            if b is None:
                raise NotFound(_("No such booking."))
            if b.status != "confirmed" or b.end_at <= clock.now():
                raise Conflict(_("Only a confirmed meeting that has not ended can be called in."))
            made = CallIn(
                booking_id=b.id, room_id=b.room_id, called_at=clock.now(), called_by=tasks.who_name(request.state.user)
            )
            s.add(made)
            await s.flush()
            data = {"id": made.id, "booking_id": b.id, "room_id": b.room_id, "title": b.title}
            await eventlog.record(s, "desk.called_in", f"booking:{b.id}", data, actor_of(request))
            s.add(audit.entry(request, "booking.call_in", f"booking:{b.id}"))
    except AppError as exc:
        await audit.record(request, "booking.call_in", f"booking:{booking_id}", result="failure", reason=exc.message)
        if isinstance(exc, NotFound | Conflict):
            from booking_api.desk.board import desk_page

            return await desk_page(request, exc, exc.status)
        raise
    if is_htmx(request):
        from booking_api.desk.board import desk_page

        return await desk_page(request)
    return RedirectResponse("/desk", status_code=303)


async def meeting_speech(request: Request) -> Response:
    booking_id = int_param(request, "booking_id")
    if booking_id is None:
        raise Invalid(_("Say which meeting (booking_id)."), {"field": "booking_id"})
    async with request.app.state.db.session() as s:
        b = await s.get(Booking, booking_id)
        room = await s.get(Room, b.room_id) if b is not None else None
    if b is None or room is None:
        raise NotFound(_("No such booking."))
    settings = request.app.state.settings
    locale = settings.default_locale
    token = i18n.current_locale.set(locale)  # the site's language, for screens and previews alike
    try:
        text = announcement(b, room, ZoneInfo(settings.timezone))
    finally:
        i18n.current_locale.reset(token)
    try:
        path = await speech.render(settings, text, locale)
    except speech.SpeechUnavailable as exc:
        raise Unavailable(_("No voice: %(why)s", why=str(exc))) from None
    return FileResponse(path, media_type=speech.media_type(path), headers={"Cache-Control": "private, max-age=86400"})


routes = [
    route("/desk/bookings/{id:id}/call-in", call_in, methods=["POST"], allow=tasks.DESK),
    route("/player/api/speech", meeting_speech, allow=SCREEN),
    route("/widgets/speech", meeting_speech, allow=SIGNED_IN, name="widgets_speech"),
]
