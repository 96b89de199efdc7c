"""The media library pages: grid with folders, search and type filter; upload;
a detail page with metadata and "where used"; rename, move, delete; live progress.

Uploads from the page go one request per file to `POST /api/v1/media` (with a
progress bar each, `media/static/media.js`); this form route is the fallback
without JavaScript. Background progress of videos arrives over SSE
(`GET /events/media`, the `media` channel).
"""

from __future__ import annotations

import contextlib

from sqlalchemy import Select, false, select
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from media import uploads, usage
from media.models import Media, MediaJob
from playlists.publishing import affected_screens, notify
from signage import audit, topics
from signage.auth import route
from signage.errors import AppError, Conflict, Invalid, NotFound
from signage.i18n import gettext as _
from signage.responses import is_htmx
from signage.templating import render

EDITORS = ("editor",)
KINDS = ("image", "video")
PAGE_SIZE = 200


def filtered(params) -> tuple[Select, dict]:
    """The media `params` ask for (q, kind, folder), in no order yet, and those filters."""
    f = {k: (params.get(k) or "").strip() for k in ("q", "kind", "folder")}
    query = select(Media)
    if len(f["q"]) > 255 or len(f["folder"]) > 100:  # longer than any name or folder (and than SQLite's LIKE takes)
        query = query.where(false())
    elif f["q"]:
        query = query.where(Media.name.icontains(f["q"], autoescape=True))
    if f["kind"] in KINDS:
        query = query.where(Media.kind == f["kind"])
    if f["folder"]:
        query = query.where(Media.folder == f["folder"])
    return query, f


async def progress_of(s, media_ids: list[int]) -> dict[int, int]:
    if not media_ids:
        return {}
    rows = await s.execute(
        select(MediaJob.media_id, MediaJob.progress).where(
            MediaJob.media_id.in_(media_ids), MediaJob.status.in_(("queued", "running"))
        )
    )
    return dict(rows.all())


async def library_context(request: Request, **extra) -> dict:
    query, f = filtered(request.query_params)
    query = query.order_by(Media.created_at.desc(), Media.id.desc()).limit(PAGE_SIZE)
    async with request.app.state.db.session() as s:
        items = (await s.scalars(query)).all()
        folders = (
            await s.scalars(select(Media.folder).where(Media.folder != "").distinct().order_by(Media.folder))
        ).all()
        progress = await progress_of(s, [m.id for m in items if m.status == "processing"])
    max_bytes = request.app.state.settings.max_upload_bytes
    return {"items": items, "folders": folders, "filters": f, "progress": progress, "max_bytes": max_bytes, **extra}


async def media_page(request: Request) -> Response:
    ctx = await library_context(request)
    if is_htmx(request):
        return render(request, "media/library.html", ctx, block="grid")
    return render(request, "media/library.html", ctx)


async def upload(request: Request) -> Response:
    """The form fallback: every file stored or refused on its own; refusals listed on the page."""
    form = await request.form(max_files=50)
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        raise Invalid(_("Choose at least one file."))
    try:
        folder = uploads.clean_folder(form.get("folder"))
    except Invalid as exc:
        return render(request, "media/library.html", await library_context(request, errors=[exc.message]), 400)
    errors = []
    for f in files:
        try:
            await store_and_audit(request, f, folder)
        except AppError as exc:
            errors.append(f"{f.filename}: {exc.message}")
    if errors:
        return render(request, "media/library.html", await library_context(request, errors=errors), status_code=400)
    return RedirectResponse("/media", status_code=303)


async def store_and_audit(request: Request, f: UploadFile, folder: str) -> tuple[Media, bool]:
    try:
        item, created = await uploads.store(request, f, folder)
    except AppError as exc:
        await audit.record(
            request, "media.upload", uploads.clean_name(f.filename), result="failure", reason=exc.message
        )
        raise
    await audit.record(request, "media.upload", f"media:{item.id}", reason="" if created else "duplicate")
    if created:
        if item.kind == "video":
            request.app.state.media_worker.wake()
        await request.app.state.bus.notify_many(topics.media_changed("added", item.id))
    return item, created


async def get_item(s, media_id: int) -> Media:
    item = await s.get(Media, media_id)
    if item is None:
        raise NotFound(_("No such media item."))
    return item


async def detail_page(request: Request, status_code: int = 200, error: str = "") -> Response:
    async with request.app.state.db.session() as s:
        item = await get_item(s, request.path_params["id"])
        uses = await usage.where_used(s, item.id)
        job = await s.scalar(select(MediaJob).where(MediaJob.media_id == item.id).order_by(MediaJob.id.desc()))
    ctx = {"item": item, "uses": uses, "job": job, "error": error}
    if is_htmx(request) and request.method == "GET":
        return render(request, "media/detail.html", ctx, block="detail")
    return render(request, "media/detail.html", ctx, status_code=status_code)


async def rename(request: Request) -> Response:
    form = await request.form()
    name = " ".join(str(form.get("name", "")).split())
    media_id = request.path_params["id"]
    try:
        if not name or len(name) > 255:
            raise Invalid(_("Give the item a name (up to 255 characters)."), {"field": "name"})
        folder = uploads.clean_folder(form.get("folder"))
        async with request.app.state.db.begin() as s:
            item = await get_item(s, media_id)
            item.name, item.folder = name, folder
    except Invalid as exc:
        await audit.record(request, "media.rename", f"media:{media_id}", result="failure", reason=exc.message)
        return await detail_page(request, status_code=400, error=exc.message)
    await audit.record(request, "media.rename", f"media:{media_id}", reason=name)
    await request.app.state.bus.notify_many(topics.media_changed("changed", media_id))
    return RedirectResponse(f"/media/{media_id}", status_code=303)


async def remove(request: Request, media_id: int, confirm: bool) -> None:
    """Delete an item and its files; Conflict while a published layout uses it, unless confirmed."""
    async with request.app.state.db.begin() as s:
        item = await get_item(s, media_id)
        uses = [u for u in await usage.where_used(s, media_id) if u.published]
        if uses and not confirm:
            names = ", ".join(u.name for u in uses)
            raise Conflict(
                _("Published layouts use this item: %(names)s. Confirm to remove it from them too.", names=names),
                {"used_by": [u.as_json() for u in uses]},
            )
        published = await usage.take_out(s, media_id, request.state.user.id)
        files = item.files()
        screens = await affected_screens(s, {lid for lid, _v in published})
        await s.delete(item)
    folder = request.app.state.settings.media_dir / files[0][:2]
    for name in files:
        with contextlib.suppress(OSError):
            (folder / name).unlink()
    await notify(request, screens, media_deleted=media_id)
    await request.app.state.bus.notify_many(topics.media_changed("deleted", media_id))


async def delete(request: Request) -> Response:
    media_id = request.path_params["id"]
    form = await request.form()
    try:
        await remove(request, media_id, confirm=form.get("confirm") == "yes")
    except Conflict as exc:
        await audit.record(request, "media.delete", f"media:{media_id}", result="failure", reason=exc.message)
        return await detail_page(request, status_code=409, error=exc.message)
    await audit.record(request, "media.delete", f"media:{media_id}")
    return RedirectResponse("/media", status_code=303)


routes = [
    route("/media", media_page, allow=EDITORS),
    route("/media", upload, methods=["POST"], allow=EDITORS),
    route("/media/{id:id}", detail_page, allow=EDITORS),
    route("/media/{id:id}/rename", rename, methods=["POST"], allow=EDITORS),
    route("/media/{id:id}/delete", delete, methods=["POST"], allow=EDITORS),
]
