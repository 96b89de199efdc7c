"""Service tasks: a call from a room (tea, IT help, cleaning, other), the cleaning a
meeting's end asks for, or the services a meeting wants. One table, one life: open →
accepted (on the way; for cleaning: being cleaned) → done; a meeting's services are
cancelled when the meeting is (or moves). A room's condition follows from its cleaning task: open is
"needs cleaning", accepted "being cleaned".

`after_booking_id` is unique: a meeting's end makes one cleaning task, however many
processes and paths (its end time passing, "End now", the sensor) see it end. Likewise
(`before_booking_id`, `before_start_at`): the services a meeting wants (tea, projector…)
make one task SIGNAGE_SERVICE_LEAD_MINUTES before it starts; moved to another time, it
gets one at its new time.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow

KINDS = ("tea", "it", "cleaning", "other")
STATUSES = ("open", "accepted", "done", "cancelled")  # cancelled: a meeting's services, withdrawn
ORIGINS = ("door", "api", "meeting", "meeting_end", "booking_services")


class ServiceTask(Base):
    __tablename__ = "desk_tasks"
    __table_args__ = (
        Index("ix_desk_tasks_status_created_at", "status", "created_at"),
        UniqueConstraint("before_booking_id", "before_start_at", name="uq_desk_tasks_before_booking"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(500), default="")
    origin: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default="open")
    after_booking_id: Mapped[int | None] = mapped_column(unique=True, default=None)
    before_booking_id: Mapped[int | None] = mapped_column(default=None)  # the meeting whose services these are
    before_start_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)  # ... at this start
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    accepted_by: Mapped[str] = mapped_column(String(200), default="")  # the name the door screen shows
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)  # nobody accepted in time
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    done_by: Mapped[str] = mapped_column(String(200), default="")

    def as_json(self, room_name: str = "") -> dict:
        return {
            "id": self.id,
            "room_id": self.room_id,
            "room": room_name,
            "kind": self.kind,
            "note": self.note,
            "origin": self.origin,
            "status": self.status,
            "after_booking_id": self.after_booking_id,
            "before_booking_id": self.before_booking_id,
            "before_start_at": self.before_start_at.isoformat() if self.before_start_at else None,
            "created_at": self.created_at.isoformat(),
            "accepted_at": self.accepted_at.isoformat() if self.accepted_at else None,
            "accepted_by": self.accepted_by,
            "escalated_at": self.escalated_at.isoformat() if self.escalated_at else None,
            "done_at": self.done_at.isoformat() if self.done_at else None,
            "done_by": self.done_by,
        }


class CallIn(Base):
    """The desk called a meeting's people in: waiting-room screens announce it."""

    __tablename__ = "desk_call_ins"
    __table_args__ = (Index("ix_desk_call_ins_called_at", "called_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    called_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    called_by: Mapped[str] = mapped_column(String(200), default="")


CLEANING = ("every", "services", "never")  # after every meeting, only after those with services, never


class RoomCare(Base):
    """A room's cleaning rule (no row: cleaned after every meeting, walk-up stays open)."""

    __tablename__ = "desk_room_care"

    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    cleaning: Mapped[str] = mapped_column(String(10), default="every")
    walkup_until_clean: Mapped[bool] = mapped_column(default=False)  # no walk-up booking while it needs cleaning
