"""My bookings on the desktop: every booking I organise, with what became of it
(approved, rejected with the reason, released as a no-show)."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from booking_api.models import Booking, Room
from signage.auth import SIGNED_IN, route
from signage.templating import render


async def my_bookings(request: Request) -> Response:
    user = request.state.user
    async with request.app.state.db.session() as s:
        found = (
            await s.execute(
                select(Booking, Room)
                .join(Room, Room.id == Booking.room_id)
                .where(Booking.organizer_id == user.id)
                .order_by(Booking.start_at.desc())
                .limit(300)
            )
        ).all()
    return render(request, "mine/my_bookings.html", {"found": found})


routes = [
    route("/bookings", my_bookings, allow=SIGNED_IN),
]
