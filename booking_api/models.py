"""Rooms, bookings and what hangs off them.

A booking blocks its room from `start_at` to `blocked_until` (its end plus the
room's buffer), so the next meeting can start `buffer_minutes` after it ends.
No two active bookings (pending or confirmed) of one room may block overlapping
times. On PostgreSQL an exclusion constraint over (room, tstzrange) says so;
on SQLite writes are serialised (`BEGIN IMMEDIATE`) and `bookings.py` checks
inside the write transaction. Both check the same stored columns.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    event,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow
from signage.models import IdempotencyKey  # noqa: F401  (its home now; imported from here too)

ACTIVE = ("pending", "confirmed")
STATUSES = ("pending", "confirmed", "cancelled", "rejected", "no_show")  # no_show: released, kept


class Room(Base):
    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    building: Mapped[str] = mapped_column(String(200), default="")
    floor: Mapped[str] = mapped_column(String(50), default="", index=True)
    capacity: Mapped[int] = mapped_column(default=1)
    equipment: Mapped[list] = mapped_column(JSON, default=list)
    photo_url: Mapped[str] = mapped_column(String(500), default="")
    opens_at: Mapped[int] = mapped_column(default=0)  # minutes after local midnight
    closes_at: Mapped[int] = mapped_column(default=24 * 60)
    needs_approval: Mapped[bool] = mapped_column(default=False)
    private_default: Mapped[bool] = mapped_column(default=False, server_default=false())  # its meetings' default
    # Who approves: "internal" (its room admins, /approvals) or "external" (an OA, told by the
    # webhook booking.approval_requested, answering through the API); an external approval not
    # given within SIGNAGE_APPROVAL_HOURS is decided by `undecided`: "reject" or "approve".
    approval: Mapped[str] = mapped_column(String(10), default="internal", server_default="internal")
    undecided: Mapped[str] = mapped_column(String(10), default="reject", server_default="reject")
    buffer_minutes: Mapped[int] = mapped_column(default=0)
    max_minutes: Mapped[int] = mapped_column(default=0)  # 0: no limit
    window_days: Mapped[int] = mapped_column(default=0)  # how far ahead; 0: no limit
    notice_minutes: Mapped[int] = mapped_column(default=0)  # minimum notice
    plan_x: Mapped[float | None] = mapped_column(default=None)  # place on the floor plan, 0..100 %
    plan_y: Mapped[float | None] = mapped_column(default=None)
    # Out of service (its room admins, booking_api/desk/care.py): no booking in any path while set.
    out_of_service_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    out_of_service_reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoomOwner(Base):
    """The room admins who manage a room and approve its bookings."""

    __tablename__ = "room_owners"

    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class Series(Base):
    """A recurring meeting: its rule; its occurrences are bookings."""

    __tablename__ = "booking_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    rrule: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        # Years of history must not slow today down: a day's bookings are found from their
        # end (ix_bookings_end_at), a room's from the end of their buffer, which is never
        # before their end (ix_bookings_room_id_blocked_until); both skip what has ended.
        # (An index by room and start read a room's whole history to find its next booking.)
        Index("ix_bookings_end_at", "end_at"),
        Index("ix_bookings_room_id_blocked_until", "room_id", "blocked_until"),
        UniqueConstraint("external_source", "external_id", name="uq_bookings_external"),
        # The approvals inbox: the pending ones, by start (partial: no other query is tempted by it).
        Index(
            "ix_bookings_pending_start_at",
            "start_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("booking_series.id", ondelete="SET NULL"), default=None, index=True
    )
    detached: Mapped[bool] = mapped_column(Boolean, default=False)  # changed alone; series edits leave it
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # outsiders see "busy"
    title: Mapped[str] = mapped_column(String(200))
    organizer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # end_at + the room's buffer
    status: Mapped[str] = mapped_column(String(12), default="confirmed")  # one of STATUSES
    notes: Mapped[str] = mapped_column(Text, default="")
    services: Mapped[list] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text, default="")  # why rejected or cancelled
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    # The booking's id in the OA that made it (`external_source`: which OA, or importer), unique
    # per source: the OA sending it again changes it instead of booking it twice.
    external_source: Mapped[str | None] = mapped_column(String(60), default=None)
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    # What statistics need of a meeting's life (booking_api/stats/), kept by the write paths:
    # `planned_end_at`, the end it was booked until when End now (or a sensor) cut it short;
    # `released_at`, when its room was given back before that end (End now, a sensor, or the
    # no-show release: when check-in closed); `cancelled_at`, when it was cancelled.
    planned_end_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @classmethod
    def ends_after(cls, t: dt.datetime):
        """Bookings whose meeting goes on after `t`. The end of the buffer is never before
        the end, so `blocked_until > t` adds nothing but lets a room's index skip its history."""
        return and_(cls.end_at > t, cls.blocked_until > t)


Booking.__table__.append_constraint(
    ExcludeConstraint(
        (Booking.__table__.c.room_id, "="),
        (func.tstzrange(Booking.__table__.c.start_at, Booking.__table__.c.blocked_until, "[)"), "&&"),
        name="ex_bookings_room_time",
        using="gist",
        where=text("status IN ('pending', 'confirmed')"),
    ).ddl_if(dialect="postgresql")
)
event.listen(
    Base.metadata,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS btree_gist").execute_if(dialect="postgresql"),
)


def booking_json(b, attendees=None) -> dict:
    """A booking as the API shows it (`b`: a Booking, or anything with its attributes)."""
    return {
        "id": b.id,
        "room_id": b.room_id,
        "series_id": b.series_id,
        "title": b.title,
        "organizer_id": b.organizer_id,
        "start": b.start_at.isoformat(),
        "end": b.end_at.isoformat(),
        "status": b.status,
        "reason": b.reason,
        "notes": b.notes,
        "services": list(b.services),
        "detached": b.detached,
        "private": bool(b.private),
        "external_source": getattr(b, "external_source", None),
        "external_id": getattr(b, "external_id", None),
        "attendees": [
            {"name": a.name, "email": a.email, "phone": a.phone, "role": a.role, "user_id": a.user_id}
            for a in attendees or []
        ],
    }


class Attendee(Base):
    __tablename__ = "attendees"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    role: Mapped[str] = mapped_column(String(20), default="required")  # chair, required, optional


class FloorPlan(Base):
    __tablename__ = "floor_plans"
    __table_args__ = (UniqueConstraint("building", "floor"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building: Mapped[str] = mapped_column(String(200), default="")
    floor: Mapped[str] = mapped_column(String(50))
    image: Mapped[str] = mapped_column(String(100))  # file name under <data>/floorplans
    width: Mapped[int] = mapped_column(default=0)
    height: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DoorSettings(Base):
    """A room's door-screen rules (SPEC B5); a room without a row uses the site defaults."""

    __tablename__ = "room_doors"

    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    checkin_opens_minutes: Mapped[int | None] = mapped_column(default=None)  # None: SIGNAGE_CHECKIN_OPENS_MINUTES
    checkin_grace_minutes: Mapped[int | None] = mapped_column(default=None)  # None: SIGNAGE_CHECKIN_GRACE_MINUTES
    release_no_shows: Mapped[bool] = mapped_column(default=True)
    sensor_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    sensor_absent_minutes: Mapped[int] = mapped_column(default=0)  # 0: absence never ends a meeting
    terminal_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)  # face/badge
    present: Mapped[bool | None] = mapped_column(default=None)  # last sensor report
    present_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class CheckIn(Base):
    """Someone is there: a tap on the door screen, a phone (QR), the API or a sensor."""

    __tablename__ = "checkins"

    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    via: Mapped[str] = mapped_column(String(20))  # door, qr, api, sensor, walkup
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)


class Reply(Base):
    """An invited user's answer to a meeting: accepted or declined."""

    __tablename__ = "invitation_replies"

    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    answer: Mapped[str] = mapped_column(String(10))  # accepted, declined
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GuestReply(Base):
    """The answer of an invited guest who is not a user (an attendee with an email only),
    given through the signed link of their invitation (`signage/notify/answers.py`)."""

    __tablename__ = "invitation_guest_replies"

    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), primary_key=True)  # lower case
    answer: Mapped[str] = mapped_column(String(10))  # accepted, declined
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarFeed(Base):
    """The secret of one iCalendar feed (a user's meetings or a room's); rotating replaces it."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (UniqueConstraint("kind", "owner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # user, room
    owner_id: Mapped[int]
    secret: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
