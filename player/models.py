"""Screens. A screen is created unclaimed when a player asks for a pairing code;
its key (kept by the player, stored here hashed) becomes its token once claimed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow

KINDS = ("door_sign", "lobby_board", "waiting_room", "service", "in_room")


class ScreenGroup(Base):
    __tablename__ = "screen_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


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
    applied_version: Mapped[int] = mapped_column(default=0)
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def claimed(self) -> bool:
        return self.claimed_at is not None
