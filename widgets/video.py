"""Video: one video from the media library; loops and plays muted by default (browsers
only autoplay muted video). Screens play the browser-playable file, with its poster
shown until the first frame."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from signage.api import Id
from signage.i18n import lazy
from widgets.base import Widget, media_item


class VideoOptions(BaseModel):
    model_config = {"extra": "forbid"}

    media_id: Id | None = Field(None, title=lazy("Video"), json_schema_extra={"kind": "media", "media_kind": "video"})
    loop: bool = Field(True, title=lazy("Loop"))
    mute: bool = Field(True, title=lazy("Mute"))
    show_poster: bool = Field(True, title=lazy("Show the poster while loading"))
    fit: Literal["contain", "cover"] = Field("contain", title=lazy("Fit"))


async def video_data(options: VideoOptions, db: Any) -> dict:
    return {"media": await media_item(db, options.media_id, "video")}


widget = Widget(type="video", label=lazy("Video"), options=VideoOptions, data=video_data)
