"""Who may see what of a meeting (SPEC B7, PIPL): one rule for every page, API answer,
feed and event.

    viewer = await Viewer.of(s, request.state.user)
    data = viewer.shown(booking_json(b, people))      # the whole meeting, or its outline

The whole meeting (attendees with their contacts, notes, services, materials) is for
those concerned: its organizer and attendees, the room's admins, service staff when
it wants services, and admins. Anyone else signed in sees its outline: room, time,
organizer and title; or only "busy" (no title, no organizer) when it is private (a
flag of the booking, from its room's default when not given).
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from booking_api.models import RoomOwner
from signage.i18n import gettext as _

OUTLINE = ("id", "room_id", "series_id", "start", "end", "status", "detached", "private")


MANAGED = select(RoomOwner.room_id).where(RoomOwner.user_id == bindparam("user_id"))


class Viewer:
    def __init__(self, user, managed: set[int]):
        self.user, self.managed = user, managed

    @classmethod
    async def of(cls, s, user) -> Viewer:
        managed: set[int] = set()
        if user is not None and user.role == "room_admin":
            managed = set(await s.scalars(select(RoomOwner.room_id).where(RoomOwner.user_id == user.id)))
        return cls(user, managed)

    @classmethod
    async def read(cls, db, user) -> Viewer:
        """`of` on the read path (`Database.read`)."""
        managed: set[int] = set()
        if user is not None and user.role == "room_admin":
            managed = {room_id for (room_id,) in await db.read(MANAGED, {"user_id": user.id})}
        return cls(user, managed)

    def concerned(self, data: dict) -> bool:
        """`data`: a booking as the API shows it (`booking_json`, or an event's payload)."""
        user = self.user
        if user is None:
            return False
        if user.role == "admin" or data.get("organizer_id") == user.id or data.get("room_id") in self.managed:
            return True
        if user.role == "service" and data.get("services"):
            return True
        email = (user.email or "").lower()
        return any(
            a.get("user_id") == user.id or (email and (a.get("email") or "").lower() == email)
            for a in data.get("attendees") or ()
        )

    def shown(self, data: dict) -> dict:
        """The booking as this viewer may see it: whole, or its outline (with `"limited": true`)."""
        if self.concerned(data):
            return data
        private = bool(data.get("private"))
        outline = {k: data.get(k) for k in OUTLINE}
        return {
            **outline,
            "title": "" if private else data.get("title", ""),
            "organizer_id": None if private else data.get("organizer_id"),
            "reason": "",
            "notes": "",
            "services": [],
            "attendees": [],
            "limited": True,
        }


def public_title(b) -> str:
    """A meeting's title where everyone sees it (the grid, door screens, meeting lists)."""
    return _("Busy") if b.private else b.title
