"""A meeting's files: each content stored once (`MaterialFile`), attached to meetings (`Material`).

Files live in `<data>/materials/<sha[:2]>/<sha>.<ext>`, with a first-page preview
`<sha>.preview.webp` for PDFs and images. They are not in the media library (whose
files anyone may fetch by name): a material is served only to those concerned with
its meeting. A file no meeting uses any more is removed (`store.sweep`).

A material belongs to one occurrence (`booking_id`) or to a whole series (`series_id`);
minutes always to one occurrence.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow

KINDS = ("before", "minutes")


class MaterialFile(Base):
    __tablename__ = "material_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(10))  # pdf, docx, xlsx, pptx, image, text
    ext: Mapped[str] = mapped_column(String(10))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    has_preview: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def file_name(self) -> str:
        return f"{self.sha256}.{self.ext}"

    @property
    def preview_name(self) -> str:
        return f"{self.sha256}.preview.webp"

    def files(self) -> list[str]:
        return [self.file_name, self.preview_name] if self.has_preview else [self.file_name]


class Material(Base):
    """One file attached to a meeting: before it (materials) or after it (minutes and resolutions)."""

    __tablename__ = "materials"
    __table_args__ = (
        CheckConstraint("(booking_id IS NULL) <> (series_id IS NULL)", name="one_owner"),
        CheckConstraint("kind IN ('before', 'minutes')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("booking_series.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("material_files.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))  # before | minutes
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
