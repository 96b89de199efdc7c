"""The events table and the consumers' positions in it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow

# SQLite numbers rows only for INTEGER PRIMARY KEY; PostgreSQL gets a bigint sequence.
SEQUENCE = BigInteger().with_variant(Integer, "sqlite")


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_at", "at"), Index("ix_events_subject_id", "subject", "id"))

    id: Mapped[int] = mapped_column(SEQUENCE, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(60))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100), default="")
    subject: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict] = mapped_column(JSON, default=dict)

    def as_json(self) -> dict:
        return {
            "id": str(self.id),
            "type": self.type,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "subject": self.subject,
            "data": self.data,
        }


class EventConsumer(Base):
    """Where a consumer is in the log (its tracking record), and how its last try went."""

    __tablename__ = "event_consumers"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    position: Mapped[int] = mapped_column(SEQUENCE, default=0)
    failures: Mapped[int] = mapped_column(default=0)
    retry_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
