"""Layouts and their published versions.

A layout's `regions` is its draft: a JSON list of
`{"id", "x", "y", "w", "h", "z", "widget", "options"}` in canvas pixels.
Publishing copies the draft into an immutable `LayoutVersion`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow


class Layout(Base):
    __tablename__ = "layouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    width: Mapped[int] = mapped_column(default=1920)
    height: Mapped[int] = mapped_column(default=1080)
    regions: Mapped[list] = mapped_column(JSON, default=list)
    published_version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LayoutVersion(Base):
    __tablename__ = "layout_versions"
    __table_args__ = (UniqueConstraint("layout_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layout_id: Mapped[int] = mapped_column(ForeignKey("layouts.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    content: Mapped[dict] = mapped_column(JSON)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Playlist(Base):
    """Ordered items a region plays in a loop. `items` is the draft:
    `[{"id", "widget", "options", "duration", "transition", "enabled", "valid_from", "valid_until"}]`."""

    __tablename__ = "playlists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    items: Mapped[list] = mapped_column(JSON, default=list)
    published_version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlaylistVersion(Base):
    __tablename__ = "playlist_versions"
    __table_args__ = (UniqueConstraint("playlist_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlists.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    items: Mapped[list] = mapped_column(JSON)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Schedule(Base):
    """A layout on a screen or a screen group: dates, weekdays, a daily window, a priority.

    Dates and the window are wall-clock times in `timezone` (docs/schedules.md).
    `weekdays` is a list of 0 (Monday) … 6 (Sunday); the window is minutes of the
    day, `start_minute` < `end_minute` ≤ 1440.
    """

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    layout_id: Mapped[int] = mapped_column(ForeignKey("layouts.id", ondelete="CASCADE"), index=True)
    screen_id: Mapped[int | None] = mapped_column(
        ForeignKey("screens.id", ondelete="CASCADE"), default=None, index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("screen_groups.id", ondelete="CASCADE"), default=None, index=True
    )
    start_date: Mapped[dt.date]
    end_date: Mapped[dt.date | None] = mapped_column(default=None)
    weekdays: Mapped[list] = mapped_column(JSON, default=lambda: list(range(7)))
    start_minute: Mapped[int] = mapped_column(default=0)
    end_minute: Mapped[int] = mapped_column(default=1440)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    priority: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Emergency(Base):
    """An override above every schedule: a message or a layout, on all screens or one group, until cleared."""

    __tablename__ = "emergencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(String(500), default="")
    layout_id: Mapped[int | None] = mapped_column(ForeignKey("layouts.id", ondelete="SET NULL"), default=None)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("screen_groups.id", ondelete="CASCADE"), default=None)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    cleared_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
