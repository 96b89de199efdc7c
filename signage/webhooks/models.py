"""Webhook subscriptions and their deliveries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow
from signage.i18n import lazy

STATES = ("queued", "sending", "sent", "failed")
LABELS = {  # English; translated where shown
    "queued": lazy("Waiting"),
    "sending": lazy("Sending"),
    "sent": lazy("Sent"),
    "failed": lazy("Failed"),
}


class Endpoint(Base):
    """A subscription: where to send which events, signed with its secret.

    `secret` is `whsec_` + base64 of its bytes. After a rotation `previous_secret` signs
    too until `previous_until` (24 hours), so a receiver can switch without losing one.
    `enabled` is cleared by a `410 Gone` answer (`disabled_reason` says so) or by an admin.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list] = mapped_column(JSON, default=list)  # ["booking.*", "room.updated"]
    description: Mapped[str] = mapped_column(String(500), default="")
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str] = mapped_column(String(100), default="")
    previous_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Delivery(Base):
    """One message to one subscription, kept as it is sent (`body`, `msg_id`: the
    `webhook-id`, the event's id on every try), with how its delivery goes.

    queued → (claimed: sending, until `claimed_until`) → sent, or back to queued with a
    later `next_at`, or failed after the last retry.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "msg_id"),
        Index("ix_webhook_deliveries_state_next_at", "state", "next_at"),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    msg_id: Mapped[str] = mapped_column(String(60))
    event_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    type: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="queued")  # one of STATES
    attempts: Mapped[int] = mapped_column(default=0)
    next_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    claimed_by: Mapped[str] = mapped_column(String(40), default="")
    status_code: Mapped[int | None] = mapped_column(default=None)  # the last answer's
    answer: Mapped[str] = mapped_column(Text, default="")  # the start of the last answer's body
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    tried_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
