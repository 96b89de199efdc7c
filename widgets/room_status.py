"""Room status: a door screen's view of one room (SPEC A2, B5).

The layout renders a shell (the room's name); the widget's browser code then opens
the room's live stream (`booking_api.doors.doors`), which sends the body rendered by
`body()` whenever the room's state changes (and every half minute, for the time
left and a fresh check-in QR code). Its buttons (check in, end, extend, walk-up,
service call) post with the screen's key; a preview without a key shows them disabled.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field

from signage.api import Id
from signage.i18n import lazy
from signage.templating import render_string
from widgets.base import Widget


class RoomStatusOptions(BaseModel):
    model_config = {"extra": "forbid"}

    room_id: Id | None = Field(None, title=lazy("Room"), json_schema_extra={"kind": "number"})
    show_qr: bool = Field(True, title=lazy("Show the check-in QR code"))
    show_service: bool = Field(True, title=lazy("Show the service-call button"))


async def room_data(options: RoomStatusOptions, db: Any) -> dict:
    from booking_api.models import Room

    if options.room_id is None or db is None:
        return {"room": None}
    async with db.session() as s:
        return {"room": await s.get(Room, options.room_id)}


@lru_cache(maxsize=2048)
def qr_image(link: str) -> str:
    """The link as an SVG data URI; check-in links repeat for 30 s, so most renders hit the cache."""
    import segno

    return segno.make(link, error="m").svg_data_uri(scale=4, border=2)


async def body(options: RoomStatusOptions, s, settings, now, qr_link) -> tuple[str, str]:
    """(html of the widget's live part, state) for the room now. `qr_link(booking_id)` → a check-in URL."""
    from booking_api.doors.roomstate import load_status
    from booking_api.models import Room

    room = await s.get(Room, options.room_id) if options.room_id else None
    if room is None:
        return render_string("widgets/_room_status_body.html", {"o": options, "status": None}), "unknown"
    status = await load_status(s, room, now, settings)
    link = qr_link(status["checkin"]["booking_id"]) if status["checkin"] and options.show_qr else None
    ctx = {"o": options, "status": status, "qr": qr_image(link) if link else None, "qr_link": link}
    return render_string("widgets/_room_status_body.html", ctx), status["state"]


widget = Widget(type="room_status", label=lazy("Room status"), options=RoomStatusOptions, data=room_data)
