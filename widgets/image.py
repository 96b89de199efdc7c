"""Image: one picture from the media library, contained or filling its region."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from signage.api import Id
from signage.i18n import lazy
from widgets.base import Widget, media_item


class ImageOptions(BaseModel):
    model_config = {"extra": "forbid"}

    media_id: Id | None = Field(None, title=lazy("Image"), json_schema_extra={"kind": "media", "media_kind": "image"})
    fit: Literal["contain", "cover"] = Field("contain", title=lazy("Fit"))


async def image_data(options: ImageOptions, db: Any) -> dict:
    return {"media": await media_item(db, options.media_id, "image")}


widget = Widget(type="image", label=lazy("Image"), options=ImageOptions, data=image_data)
