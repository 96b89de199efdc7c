"""A room's rate card and its versions (booking_api/billing)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow
from signage.eventlog.models import SEQUENCE


class RateCard(Base):
    """The rate card a room charges by now; `version` is the newest of its versions. A
    card removed stays (its versions are what past quotes name), `active` false."""

    __tablename__ = "rate_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), unique=True)
    version: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    rules: Mapped[list] = mapped_column(JSON, default=list)
    cancel_free_hours: Mapped[int] = mapped_column(default=0)  # cancelled this early: free
    cancel_percent: Mapped[int] = mapped_column(default=100)  # later: this share of the price
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)


class RateCardVersion(Base):
    """A rate card as it was: a quote and a charge name the version they were made with."""

    __tablename__ = "rate_card_versions"

    card_id: Mapped[int] = mapped_column(ForeignKey("rate_cards.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    rules: Mapped[list] = mapped_column(JSON)
    cancel_free_hours: Mapped[int] = mapped_column(default=0)
    cancel_percent: Mapped[int] = mapped_column(default=100)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)


class Charge(Base):
    """What a booking costs, one row per change: booked (confirmed), changed (moved, made
    longer or shorter: `difference` to the row before), cancelled (the cancellation policy's
    fee). The newest row's `amount` is what the booking costs now. One row per event of the
    log (`event_id`), so a redelivered event never charges twice."""

    __tablename__ = "booking_charges"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int] = mapped_column()
    card_id: Mapped[int] = mapped_column()
    card_version: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(10))  # booked, changed, cancelled, override (a room admin's)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column()  # fen, the booking's price after this change
    difference: Mapped[int] = mapped_column()  # fen, against the row before (0 for the first: its amount)
    lines: Mapped[list] = mapped_column(JSON, default=list)
    event_id: Mapped[int | None] = mapped_column(SEQUENCE, unique=True, default=None)  # None: an override
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
