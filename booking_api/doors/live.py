"""The rooms' live streams for door and lobby screens.

- `GET /player/api/live?widget=room_status&room_id=3` (a screen, by its key) and
  `GET /widgets/live?...` (a signed-in preview): Server-Sent Events, `event: html`
  with `{"html", "state"}`, the widget's live part, sent at once, whenever the
  room (or, for a meeting list or a waiting room, any booking; a desk's call-in) changes,
  and every REFRESH_SECONDS. A screen's stream is in the site's language
  (SIGNAGE_DEFAULT_LOCALE), like its layout (player/rendered.py); a preview in the reader's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from booking_api.doors import checkin
from signage import clock
from signage.auth import SCREEN, SIGNED_IN, route
from signage.errors import Invalid
from signage.i18n import current_locale
from signage.i18n import gettext as _
from signage.live import sse
from widgets import meeting_list, room_status, waiting_room

REFRESH_SECONDS = 30


def live_options(params) -> tuple[str, BaseModel]:
    kind = params.get("widget", "")
    model = {
        "room_status": room_status.RoomStatusOptions,
        "meeting_list": meeting_list.MeetingListOptions,
        "waiting_room": waiting_room.WaitingRoomOptions,
    }.get(kind)
    if model is None:
        raise Invalid(_("widget is room_status, meeting_list or waiting_room."), {"field": "widget"})
    raw = {k: v for k, v in params.items() if k in model.model_fields and v != ""}
    try:
        return kind, model.model_validate(raw)
    except ValidationError as exc:
        raise Invalid(
            _("The widget options are not valid."),
            [{"field": str(e["loc"][0]), "message": e["msg"]} for e in exc.errors()],
        ) from None


async def live_html(request: Request, kind: str, options: BaseModel) -> dict:
    settings, base = request.app.state.settings, str(request.base_url).rstrip("/")

    def qr_link(booking_id: int) -> str:
        return f"{base}/m/checkin/{checkin.qr_token(settings, options.room_id, booking_id)}"

    async with request.app.state.db.reads() as s:
        if kind == "room_status":
            html, state = await room_status.body(options, s, settings, clock.now(), qr_link)
        elif kind == "waiting_room":
            html, state = await waiting_room.body(options, s, settings, clock.now())
        else:
            html, state = await meeting_list.body(options, s, settings, clock.now())
    return {"html": html, "state": state}


async def live(request: Request) -> Response:
    if "text/event-stream" not in request.headers.get("accept", ""):
        raise Invalid(_("This is an event stream; open it with EventSource."))
    kind, options = live_options(request.query_params)
    if request.state.user is None:  # a screen speaks the site's language, whatever its browser says
        current_locale.set(request.app.state.settings.default_locale)
    if kind == "room_status" and options.room_id:
        channels: tuple[str, ...] = (f"room:{options.room_id}", "clock")
    else:
        channels = ("bookings", "rooms", "clock")
    bus = request.app.state.bus

    async def stream():
        async with bus.subscribe(*channels) as sub:
            while True:
                yield {"event": "html", "data": json.dumps(await live_html(request, kind, options))}
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sub.__anext__(), REFRESH_SECONDS)
                while not sub.queue.empty():  # a burst of events: one render
                    sub.queue.get_nowait()

    return sse(stream())


routes = [
    route("/player/api/live", live, allow=SCREEN),
    route("/widgets/live", live, allow=SIGNED_IN, name="widgets_live"),
]
