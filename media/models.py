"""Media items and their background jobs.

Files are content-addressed in the data dir, `media/<sha[:2]>/<sha>.<suffix>`:
the original `<sha>.<ext>`, a thumbnail `<sha>.thumb.webp`, image variants
`<sha>.w<width>.webp`, and for videos a poster `<sha>.poster.jpg` and, when the
original is not browser-playable, `<sha>.play.mp4`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow

FILES_URL = "/media/files/"


class Media(Base):
    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))  # image | video
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    ext: Mapped[str] = mapped_column(String(10))
    mime: Mapped[str] = mapped_column(String(60))
    size: Mapped[int]
    width: Mapped[int | None] = mapped_column(default=None)
    height: Mapped[int | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(12), default="ready")  # processing | ready | failed
    folder: Mapped[str] = mapped_column(String(100), default="", server_default="", index=True)
    duration: Mapped[float | None] = mapped_column(default=None)
    video_codec: Mapped[str] = mapped_column(String(30), default="", server_default="")
    audio_codec: Mapped[str] = mapped_column(String(30), default="", server_default="")
    play_file: Mapped[str] = mapped_column(String(100), default="", server_default="")  # what browsers play
    poster_file: Mapped[str] = mapped_column(String(100), default="", server_default="")
    variants: Mapped[list] = mapped_column(JSON, default=list)  # [{"width", "height", "file"}]
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def file_name(self) -> str:
        return f"{self.sha256}.{self.ext}"

    @property
    def url(self) -> str:
        """The file a browser shows: the original image, or the playable video."""
        return FILES_URL + (self.play_file or self.file_name)

    @property
    def original_url(self) -> str:
        return FILES_URL + self.file_name

    @property
    def thumb_url(self) -> str:
        return f"{FILES_URL}{self.sha256}.thumb.webp"

    @property
    def poster_url(self) -> str | None:
        return FILES_URL + self.poster_file if self.poster_file else None

    def variant_urls(self) -> dict[str, str]:
        return {str(v["width"]): FILES_URL + v["file"] for v in self.variants or []}

    def files(self) -> list[str]:
        """Every file this item keeps in the media dir."""
        names = [self.file_name, f"{self.sha256}.thumb.webp", *(v["file"] for v in self.variants or [])]
        return names + [n for n in (self.play_file, self.poster_file) if n and n != self.file_name]


class MediaJob(Base):
    """Background work on one media item (a video's probe, transcode and poster).

    queued → running → done | failed. A worker claims a queued job atomically and
    beats its heart while it runs; a running job whose heart stopped (its process
    died) is queued again, up to MAX_ATTEMPTS.
    """

    __tablename__ = "media_jobs"
    __table_args__ = (Index("ix_media_jobs_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="video")
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    progress: Mapped[int] = mapped_column(default=0)  # percent
    error: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str] = mapped_column(String(64), default="")
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
