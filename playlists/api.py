"""The JSON API of layouts, playlists, schedules, publishing and the emergency override:
request and answer models, and `OPENAPI`, the list of operations for the registry.

    OPENAPI = [(method, path, summary, body_model or None, answer_model or None), ...]

The endpoints live with their resource (`editor`, `playlists`, `schedules`,
`emergency`, `layouts` for publishing) and parse bodies with these models, so
the API and the editor share one validation.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from signage import openapi
from signage.api import Id, reasonable_year


class RegionIn(BaseModel):
    model_config = {"extra": "forbid"}

    id: str | None = Field(None, max_length=32, description="kept when given; made when missing")
    x: int
    y: int
    w: int
    h: int
    z: int = 0
    widget: str = Field(max_length=40, description="a widget type, or 'playlist' with options {playlist_id}")
    options: dict[str, Any] = Field(default_factory=dict)


class RegionOut(RegionIn):
    id: str
    html: str | None = Field(None, description="the rendered widget, with ?preview=1")


class LayoutIn(BaseModel):
    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=200)
    width: int = Field(1920, ge=1, le=7680)
    height: int = Field(1080, ge=1, le=7680)
    template: Literal["door", "lobby", "fullscreen", "poster"] | None = None
    regions: list[RegionIn] | None = None


class DraftIn(BaseModel):
    model_config = {"extra": "forbid"}

    name: str | None = Field(None, min_length=1, max_length=200)
    regions: list[RegionIn] = Field(max_length=200)


class LayoutOut(BaseModel):
    id: int
    name: str
    width: int
    height: int
    published_version: int
    regions: list[RegionOut]


class PublishOut(BaseModel):
    layout_id: int
    version: int


class RollbackIn(BaseModel):
    version: int


class PlaylistItemIn(BaseModel):
    model_config = {"extra": "forbid"}

    id: str | None = Field(None, max_length=32)
    widget: str = Field(max_length=40, description="a widget type: image, video, clock …")
    options: dict[str, Any] = Field(default_factory=dict)
    duration: int | None = Field(10, ge=1, le=86400, description="seconds; null: a video plays to its end")
    transition: Literal["none", "fade", "slide"] = "none"
    enabled: bool = True
    valid_from: Annotated[dt.datetime, AfterValidator(reasonable_year)] | None = None
    valid_until: Annotated[dt.datetime, AfterValidator(reasonable_year)] | None = None


class PlaylistIn(BaseModel):
    model_config = {"extra": "forbid"}

    name: str = Field(min_length=1, max_length=200)
    items: list[PlaylistItemIn] = Field(default_factory=list, max_length=500)


class PlaylistOut(BaseModel):
    id: int
    name: str
    published_version: int
    items: list[PlaylistItemIn]


class PlaylistPublishOut(BaseModel):
    playlist_id: int
    version: int


class ScheduleIn(BaseModel):
    model_config = {"extra": "forbid"}

    layout_id: Id
    screen_id: Id | None = None
    group_id: Id | None = None
    start_date: dt.date
    end_date: dt.date | None = None
    weekdays: list[int] = Field(default_factory=lambda: list(range(7)), description="0 = Monday … 6 = Sunday")
    start_time: str = Field("00:00", pattern=r"^\d{2}:\d{2}$")
    end_time: str = Field("24:00", pattern=r"^\d{2}:\d{2}$")
    timezone: str | None = Field(None, description="default: the site's time zone")
    priority: int = Field(0, ge=0, le=100)


class ScheduleOut(BaseModel):
    id: int
    layout_id: int
    screen_id: int | None
    group_id: int | None
    start_date: dt.date
    end_date: dt.date | None
    weekdays: list[int]
    start_time: str
    end_time: str
    timezone: str
    priority: int


class EmergencyIn(BaseModel):
    model_config = {"extra": "forbid"}

    message: str = Field("", max_length=500)
    layout_id: Id | None = None
    group_id: Id | None = Field(None, description="null: every screen")


class EmergencyOut(BaseModel):
    id: int
    message: str
    layout_id: int | None
    group_id: int | None
    created_at: dt.datetime
    cleared_at: dt.datetime | None


class NowPlayingOut(BaseModel):
    screen_id: int
    now: dict | None
    next: dict | None
    timeline: list[dict]


OPENAPI = [
    ("get", "/api/v1/layouts", "List layouts with their draft regions", None, list[LayoutOut]),
    ("post", "/api/v1/layouts", "Create a layout (optionally from a template)", LayoutIn, LayoutOut),
    ("get", "/api/v1/layouts/{id}", "A layout with its draft regions and options", None, LayoutOut),
    ("put", "/api/v1/layouts/{id}", "Replace the draft's regions (validated like the editor)", DraftIn, LayoutOut),
    ("post", "/api/v1/layouts/{id}/publish", "Publish the draft as a new version", None, PublishOut),
    ("post", "/api/v1/layouts/{id}/rollback", "Publish an earlier version's content again", RollbackIn, PublishOut),
    ("get", "/api/v1/playlists", "List playlists", None, list[PlaylistOut]),
    ("post", "/api/v1/playlists", "Create a playlist", PlaylistIn, PlaylistOut),
    ("get", "/api/v1/playlists/{id}", "A playlist with its draft items", None, PlaylistOut),
    ("put", "/api/v1/playlists/{id}", "Replace the playlist's name and items", PlaylistIn, PlaylistOut),
    ("post", "/api/v1/playlists/{id}/publish", "Publish the playlist", None, PlaylistPublishOut),
    ("get", "/api/v1/schedules", "List schedule entries", None, list[ScheduleOut]),
    ("post", "/api/v1/schedules", "Add a schedule entry", ScheduleIn, ScheduleOut),
    ("get", "/api/v1/schedules/{id}", "One schedule entry", None, ScheduleOut),
    ("put", "/api/v1/schedules/{id}", "Change a schedule entry", ScheduleIn, ScheduleOut),
    ("delete", "/api/v1/schedules/{id}", "Delete a schedule entry", None, None),
    ("get", "/api/v1/screens/{id}/playing", "What a screen plays now, next and over a week", None, NowPlayingOut),
    ("get", "/api/v1/emergency", "Emergency overrides in force", None, list[EmergencyOut]),
    ("post", "/api/v1/emergency", "Put a message or a layout on all screens or a group", EmergencyIn, EmergencyOut),
    ("get", "/api/v1/emergency/{id}", "One emergency override, in force or cleared", None, EmergencyOut),
    ("post", "/api/v1/emergency/{id}/clear", "Clear an emergency override", None, EmergencyOut),
]


def _status(method: str, path: str, answer) -> int:
    if method == "delete":
        return 204
    if method == "post" and (path.endswith(("/publish", "/rollback")) or "{" not in path):
        return 201
    return 200


for _method, _path, _summary, _body, _answer in OPENAPI:
    openapi.add(
        _method,
        _path,
        _summary,
        body=_body,
        response=_answer,
        status=_status(_method, _path, _answer),
        tag="schedules" if "/schedules" in _path or "/emergency" in _path or "/playing" in _path else "layouts",
        errors=(400, 401, 403, 404, 409) if _path.endswith("/clear") else (400, 401, 403, 404),
    )
