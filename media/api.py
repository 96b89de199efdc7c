"""The media library for publishing pipelines.

    POST   /api/v1/media            multipart, field "files" (one or more) [, "folder"]
                                    → 201 {"items": [{"id", "status", ...}]}
    GET    /api/v1/media            ?q= &kind=image|video &folder= &limit= &cursor=  → {"items": [...]}
                                    newest first; the next page in the Link header
    GET    /api/v1/media/{id}       status, metadata, variant URLs, where used
    DELETE /api/v1/media/{id}       → 204; 409 while a published layout uses it (?confirm=yes removes it there)

A refused file answers a JSON error (400, or 413 over SIGNAGE_MAX_UPLOAD_MB);
when several files were sent, its detail lists the files refused and those stored.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from media import uploads, usage
from media.library import KINDS, filtered, get_item, progress_of, remove, store_and_audit
from media.models import Media
from signage import audit, openapi
from signage.api import PAGING, Keyset, param, refuse_unknown
from signage.auth import route
from signage.errors import AppError, Conflict, Invalid
from signage.i18n import gettext as _
from signage.responses import JSONResponse, created

EDITORS = ("editor",)


def item_json(m: Media, progress: int | None = None, **extra) -> dict:
    return {
        "id": m.id,
        "name": m.name,
        "kind": m.kind,
        "status": m.status,
        "progress": 100 if m.status == "ready" else (progress or 0),
        "error": _(m.error) if m.error else None,
        "folder": m.folder,
        "mime": m.mime,
        "size": m.size,
        "width": m.width,
        "height": m.height,
        "duration": m.duration,
        "video_codec": m.video_codec or None,
        "audio_codec": m.audio_codec or None,
        "url": m.url,
        "original_url": m.original_url,
        "thumb_url": m.thumb_url if m.status == "ready" else None,
        "poster_url": m.poster_url,
        "variants": m.variant_urls(),
        "created_at": m.created_at.isoformat() if m.created_at else None,
        **extra,
    }


async def api_upload(request: Request) -> Response:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Invalid(_('Send the files as multipart/form-data in the field "files".'))
    form = await request.form(max_files=50)
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        raise Invalid(_("Choose at least one file."), {"field": "files"})
    folder = uploads.clean_folder(form.get("folder"))
    stored, refused, first_error = [], [], None
    for f in files:
        try:
            item, new = await store_and_audit(request, f, folder)
            stored.append(item_json(item, file=f.filename, duplicate=not new))
        except AppError as exc:
            first_error = first_error or exc
            refused.append({"file": f.filename, "error": exc.code, "message": exc.message})
    if first_error:
        message = first_error.message if len(files) == 1 else f"{refused[0]['file']}: {first_error.message}"
        raise type(first_error)(message, {"refused": refused, "items": stored})
    return created({"items": stored}, f"/api/v1/media/{stored[0]['id']}")  # several files: the first


PAGES = Keyset("media", Media.id, Media.created_at, newest_first=True)
FILTERS = {
    "q": "search in names",
    "kind": param("image or video", type="string", enum=sorted(KINDS)),
    "folder": "a folder",
}


async def api_list(request: Request) -> Response:
    """Newest first, a page at a time (`limit`, `cursor`; the next page in the `Link` header)."""
    refuse_unknown(request, {*FILTERS, *PAGING})
    if request.query_params.get("kind", "image") not in KINDS:
        raise Invalid(_("kind is image or video."), {"field": "kind"})
    query, _f = filtered(request.query_params)
    async with request.app.state.db.session() as s:
        items, headers = PAGES.page(request, (await s.scalars(PAGES.query(request, query))).all())
        progress = await progress_of(s, [m.id for m in items if m.status == "processing"])
    return JSONResponse({"items": [item_json(m, progress.get(m.id)) for m in items]}, headers=headers)


async def api_item(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        item = await get_item(s, request.path_params["id"])
        progress = await progress_of(s, [item.id])
        uses = await usage.where_used(s, item.id)
    return JSONResponse(item_json(item, progress.get(item.id), used_by=[u.as_json() for u in uses]))


async def api_delete(request: Request) -> Response:
    media_id = request.path_params["id"]
    try:
        confirm = request.query_params.get("confirm")
        if confirm not in (None, "yes"):
            raise Invalid(_("confirm is yes or absent."), {"field": "confirm"})
        await remove(request, media_id, confirm=confirm == "yes")
    except (Conflict, Invalid) as exc:
        await audit.record(request, "media.delete", f"media:{media_id}", result="failure", reason=exc.message)
        raise
    await audit.record(request, "media.delete", f"media:{media_id}")
    return Response(status_code=204)


async def api_folders(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        folders = (
            await s.scalars(select(Media.folder).where(Media.folder != "").distinct().order_by(Media.folder))
        ).all()
    return JSONResponse({"folders": list(folders)})


routes = [
    route("/api/v1/media", api_upload, methods=["POST"], allow=EDITORS),
    route("/api/v1/media", api_list, allow=EDITORS),
    route("/api/v1/media/folders", api_folders, allow=EDITORS),
    route("/api/v1/media/{id:id}", api_item, allow=EDITORS),
    route("/api/v1/media/{id:id}", api_delete, methods=["DELETE"], allow=EDITORS),
]


class MediaItem(BaseModel):
    id: int
    name: str
    kind: str = Field(description="image or video")
    status: str = Field(description="processing, ready or failed")
    progress: int = Field(description="0..100 while a video is being made playable")
    error: str | None = None
    folder: str
    mime: str
    size: int
    width: int | None
    height: int | None
    duration: float | None
    video_codec: str | None
    audio_codec: str | None
    url: str = Field(description="what screens play: the browser-playable file")
    original_url: str
    thumb_url: str | None
    poster_url: str | None
    variants: dict[str, str] = Field(description="resized image variants by width")
    created_at: str | None


class MediaItemDetail(MediaItem):
    used_by: list[dict] = Field(description="layouts and playlists that use the item")


class MediaList(BaseModel):
    items: list[MediaItem]


class Folders(BaseModel):
    folders: list[str]


openapi.add(
    "post",
    "/api/v1/media",
    "Upload one or more images or videos (checked by content; videos are made playable in the background)",
    form={"files": "the files", "folder": "optional folder"},
    response=MediaList,
    status=201,
    tag="media",
    errors=(400, 401, 403, 413),
)
openapi.add(
    "get",
    "/api/v1/media",
    "List media",
    response=MediaList,
    tag="media",
    query={**FILTERS, **PAGING},
)
openapi.add("get", "/api/v1/media/folders", "List folders", response=Folders, tag="media")
openapi.add(
    "get",
    "/api/v1/media/{id}",
    "A media item, its status, variants and where it is used",
    response=MediaItemDetail,
    tag="media",
)
openapi.add(
    "delete",
    "/api/v1/media/{id}",
    "Delete a media item (409 while a published layout uses it)",
    status=204,
    tag="media",
    query={"confirm": param("yes: also take it out of the layouts that use it", type="string", enum=["yes"])},
    errors=(400, 401, 403, 404, 409),
)
