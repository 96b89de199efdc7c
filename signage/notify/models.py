"""The delivery outbox and the calendar state of invitations."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow
from signage.i18n import lazy

STATES = ("queued", "sending", "sent", "failed")
KINDS = (
    "invitation",
    "update",
    "cancellation",
    "rejection",
    "approval",
    "reminder",
    "no_show",
    "minutes",
    "service_call",
)  # service_call: booking_api/desk
LABELS = {  # English; translated where shown
    "queued": lazy("Waiting"),
    "sending": lazy("Sending"),
    "sent": lazy("Sent"),
    "failed": lazy("Failed"),
    "invitation": lazy("Invitation"),
    "update": lazy("Update"),
    "cancellation": lazy("Cancellation"),
    "rejection": lazy("Rejection"),
    "approval": lazy("Approval"),
    "reminder": lazy("Reminder"),
    "no_show": lazy("No-show release"),
    "minutes": lazy("Minutes available"),
    "service_call": lazy("Service call"),
    "materials": lazy("New materials"),  # a notice only (the bell), never a message
    "ghost": lazy("Unused meetings"),  # a notice only: a room admin's word on a series that goes unused
}


class Message(Base):
    """One message to one recipient on one channel, kept as it will be sent (for email the
    whole RFC 5322 text, its Message-ID the idempotency key), with how its delivery goes.

    queued → (claimed: sending, until `claimed_until`) → sent, or back to queued with a later
    `next_at`, or failed once it has been tried for a day.
    """

    __tablename__ = "notify_messages"
    __table_args__ = (
        Index("ix_notify_messages_state_next_at", "state", "next_at"),
        Index("ix_notify_messages_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), default="email")
    kind: Mapped[str] = mapped_column(String(30))  # one of KINDS
    about: Mapped[str] = mapped_column(String(100), default="")  # booking:41
    event_id: Mapped[int | None] = mapped_column(BigInteger, default=None)  # the event that caused it
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300), default="")
    key: Mapped[str] = mapped_column(String(250), unique=True)  # idempotency key (email: its Message-ID)
    body: Mapped[str] = mapped_column(Text)  # email: the whole message (ASCII: base64 parts)
    state: Mapped[str] = mapped_column(String(10), default="queued")  # one of STATES
    attempts: Mapped[int] = mapped_column(default=0)
    next_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    claimed_by: Mapped[str] = mapped_column(String(40), default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    user_id: Mapped[int | None] = mapped_column(default=None)  # the recipient, when a user
    data: Mapped[str] = mapped_column(Text, default="")  # JSON: what a fallback needs to say it again


class Invitation(Base):
    """The calendar object a booking or series is sent as: its UID's SEQUENCE, which only
    rises (every REQUEST after the first, and every CANCEL, takes the next one), and the
    SEQUENCE its whole VEVENT (the booking, or the series' master) was last sent with.

    Kept whether email is on or not: the iCalendar feeds show the same SEQUENCE."""

    __tablename__ = "notify_invitations"

    uid: Mapped[str] = mapped_column(String(250), primary_key=True)  # series-7@host, booking-41@host
    sequence: Mapped[int] = mapped_column(default=0)
    master_sequence: Mapped[int] = mapped_column(default=0)  # the whole VEVENT's (an occurrence's: Occurrence)
    last_change: Mapped[str] = mapped_column(String(100), default="")  # the change last sent (one mail per change)
    cancelled: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Occurrence(Base):
    """The slot an occurrence of a series had when it was made: its RECURRENCE-ID once it
    is changed or cancelled alone, and the SEQUENCE it was last sent with alone."""

    __tablename__ = "notify_occurrences"

    booking_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    series_id: Mapped[int] = mapped_column(index=True)
    slot: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sequence: Mapped[int | None] = mapped_column(default=None)  # None: never sent alone


class Reminder(Base):
    """A meeting's reminder was queued, for this start (a meeting moved later is reminded
    again), to those reminded `minutes` before (the site's default, or a user's own). Its
    primary key makes the scan idempotent across processes."""

    __tablename__ = "notify_reminders"
    __table_args__ = (Index("ix_notify_reminders_start_at", "start_at"),)

    booking_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    minutes: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # how long before
    queued: Mapped[int] = mapped_column(default=0)  # how many messages (0: nobody to tell, or booked too late)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Template(Base):
    """An admin's own version of a notice's text (signage/notify/texts.py); without one,
    the default says it."""

    __tablename__ = "notify_templates"

    kind: Mapped[str] = mapped_column(String(30), primary_key=True)  # one of DEFAULTS
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)  # one of CHANNELS
    locale: Mapped[str] = mapped_column(String(10), primary_key=True)  # one of i18n.LOCALES
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(254), default="")


class Notice(Base):
    """A notice in a user's own list (the bell, `/notifications`): the in-product channel.
    Written with the mails of the same change, whether email is on or not."""

    __tablename__ = "notify_notices"
    __table_args__ = (Index("ix_notify_notices_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))  # one of KINDS
    about: Mapped[str] = mapped_column(String(100), default="")  # booking:41
    title: Mapped[str] = mapped_column(String(300))  # the kind's subject, in the user's language
    link: Mapped[str] = mapped_column(String(300), default="")  # /bookings/41
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class Channel(Base):
    """A way out besides the bell, as an admin configured it (`/admin/notifications/channels`):
    on or off, where its provider answers (`base_url`, tests: a local fake), its credentials
    (`config`, JSON), the kinds of notice it carries by default (the site's defaults, for
    users who chose nothing), and the channel tried next when a message on it fails for good.

    Email's server is SIGNAGE_SMTP_URL; its row (if any) only holds kinds and fallback."""

    __tablename__ = "notify_channels"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)  # one of channels.ADAPTERS, or email
    enabled: Mapped[bool] = mapped_column(default=False)
    base_url: Mapped[str] = mapped_column(String(300), default="")
    config: Mapped[str] = mapped_column(Text, default="{}")
    kinds: Mapped[str] = mapped_column(String(300), default="")  # invitation,update,… (site defaults)
    fallback: Mapped[str] = mapped_column(String(20), default="")  # the next channel, or ""
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(254), default="")


class Choice(Base):
    """A user's own channels for one kind of notice (`channels` "" : the bell only);
    without a row the site's defaults apply."""

    __tablename__ = "notify_choices"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    channels: Mapped[str] = mapped_column(String(200), default="")
