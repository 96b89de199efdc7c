"""Screens. A screen is created unclaimed when a player asks for a pairing code;
its key (kept by the player, stored here hashed) becomes its token once claimed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow

KINDS = ("door_sign", "lobby_board", "waiting_room", "service", "in_room")


class ScreenGroup(Base):
    __tablename__ = "screen_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


PAIRING_EXPIRES = dt.timedelta(hours=24)  # an unclaimed code (and its screen) is then deleted


class Screen(Base):
    __tablename__ = "screens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    pairing_code: Mapped[str | None] = mapped_column(String(12), unique=True, default=None)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    kind: Mapped[str] = mapped_column(String(20), default="lobby_board")  # one of KINDS
    location: Mapped[str] = mapped_column(String(200), default="")
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("screen_groups.id", ondelete="SET NULL"), default=None, index=True
    )
    layout_id: Mapped[int | None] = mapped_column(ForeignKey("layouts.id", ondelete="SET NULL"), default=None)
    room_id: Mapped[int | None] = mapped_column(default=None)  # a meeting room (booking); no foreign key yet
    applied_version: Mapped[int] = mapped_column(default=0)
    applied_layout: Mapped[str] = mapped_column(String(40), default="")  # layout id shown, e.g. "7" or "emergency:3"
    received_version: Mapped[int] = mapped_column(default=0)
    resolution: Mapped[str] = mapped_column(String(20), default="")  # e.g. "1920x1080", from the heartbeat
    player_version: Mapped[str] = mapped_column(String(40), default="")
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def claimed(self) -> bool:
        return self.claimed_at is not None


class Play(Base):
    """Proof of play: one item (or one single-widget region) shown on a screen for `seconds`.

    `plays` is 1 for a showing, 0 for the continuation of a long one sent in parts.
    """

    __tablename__ = "plays"
    __table_args__ = (Index("ix_plays_screen_started", "screen_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # kept when the screen is unpaired: the report shows the name it had
    screen_id: Mapped[int | None] = mapped_column(ForeignKey("screens.id", ondelete="SET NULL"))
    screen_name: Mapped[str] = mapped_column(String(200), default="")
    layout: Mapped[str] = mapped_column(String(40), default="")
    region: Mapped[str] = mapped_column(String(40), default="")
    item: Mapped[str] = mapped_column(String(80), default="")
    widget: Mapped[str] = mapped_column(String(30), default="")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    plays: Mapped[int] = mapped_column(default=1)
