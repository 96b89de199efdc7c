"""Import sources and their runs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow

KINDS = ("http", "database")
FIELDS = ("external_id", "room", "title", "start", "end", "attendees", "notes", "status")  # ours, to map onto


class ImportSource(Base):
    """An OA to read meetings from. `kind` "http": `url` answers JSON, `list_path` names its
    list (`data.items`), `auth_header` is sent (`Authorization: Bearer …`). `kind`
    "database": `url` is a SQLAlchemy URL, `query` a SELECT, `updated_column` the column
    that makes it incremental (`cursor`: the newest value read). `mapping`: our field → theirs.
    Bookings are made by `organizer_id` (the OA's user) with `external_source` = `name`."""

    __tablename__ = "import_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(String(2000))
    auth_header: Mapped[str] = mapped_column(String(2000), default="")
    list_path: Mapped[str] = mapped_column(String(200), default="")
    query: Mapped[str] = mapped_column(Text, default="")
    updated_column: Mapped[str] = mapped_column(String(100), default="")
    cursor: Mapped[str] = mapped_column(String(100), default="")
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    every_minutes: Mapped[int] = mapped_column(default=0)  # 0: on demand only
    next_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportRun(Base):
    """One run: when, what it did (`created`, `changed`, `cancelled`, `unchanged`), and each
    row it could not map or book (`errors`: [{"row", "external_id", "error"}])."""

    __tablename__ = "import_runs"
    __table_args__ = (Index("ix_import_runs_source_id_id", "source_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("import_sources.id", ondelete="CASCADE"))
    dry_run: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    rows: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    cancelled: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    plan: Mapped[list] = mapped_column(JSON, default=list)  # dry run: [{"action", "external_id", "title"}]
    failure: Mapped[str] = mapped_column(Text, default="")  # the source could not be read at all


DOOR_KINDS = ("relay", "hikvision", "webhook")


class DoorController(Base):
    """A door of a room and how to open it: `relay` (ESPHome REST: POST
    `{url}/switch/{target}/turn_on`), `hikvision` (ISAPI: PUT
    `{url}/ISAPI/AccessControl/RemoteControl/door/{target}`, digest auth with `username` and
    `password`), `webhook` (POST `url` a JSON of who opens which door, and why).
    `open_on_checkin`: opened when a meeting of the room is checked in."""

    __tablename__ = "door_controllers"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(String(2000))
    target: Mapped[str] = mapped_column(String(100), default="")
    username: Mapped[str] = mapped_column(String(100), default="")
    password: Mapped[str] = mapped_column(String(200), default="")
    open_on_checkin: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TerminalKey(Base):
    """The answer given to a face or badge terminal's report with an `Idempotency-Key`, per
    room (a terminal is no user), replayed on its retries (signage/idempotency.py)."""

    __tablename__ = "terminal_keys"
    __table_args__ = (UniqueConstraint("room_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(default=200)
    response: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
