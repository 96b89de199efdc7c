"""The media library pages: list, upload, serve files.

Files are stored once per content (SHA-256); a second upload of the same bytes
returns the item already there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from media import images
from media.models import Media
from signage import audit
from signage.auth import PUBLIC, route
from signage.errors import AppError, Invalid, NotFound
from signage.i18n import gettext as _
from signage.templating import render

EDITORS = ("editor",)
CHUNK = 1024 * 1024


def media_path(request: Request, name: str) -> Path:
    return request.app.state.settings.media_dir / name[:2] / name


async def store_upload(request: Request, upload: UploadFile) -> tuple[Media, bool]:
    """Check one uploaded file and store it; (item, created). Nothing is left behind on refusal."""
    settings = request.app.state.settings
    tmp_dir = settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir)
    tmp = Path(tmp_name)
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if size == 0:
            raise Invalid(_("The file is empty."))
        sha = digest.hexdigest()
        db = request.app.state.db
        async with db.session() as s:
            existing = await s.scalar(select(Media).where(Media.sha256 == sha))
        if existing:
            return existing, False
        info = await run_in_threadpool(images.inspect, tmp)
        final = media_path(request, f"{sha}.{info.ext}")
        final.parent.mkdir(parents=True, exist_ok=True)
        await run_in_threadpool(images.thumbnail, tmp, final.parent / f"{sha}.thumb.webp")
        shutil.move(tmp, final)
        item = Media(
            name=(upload.filename or "image")[:255],
            kind="image",
            sha256=sha,
            ext=info.ext,
            mime=info.mime,
            size=size,
            width=info.width,
            height=info.height,
            uploaded_by=request.state.user.id,
        )
        try:
            async with db.begin() as s:
                s.add(item)
        except IntegrityError:  # the same file, uploaded at the same moment by someone else
            async with db.session() as s:
                return await s.scalar(select(Media).where(Media.sha256 == sha)), False
        return item, True
    finally:
        tmp.unlink(missing_ok=True)


async def media_page(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        items = (await s.scalars(select(Media).order_by(Media.created_at.desc()))).all()
    return render(request, "media/library.html", {"items": items, "error": request.query_params.get("error")})


async def upload(request: Request) -> Response:
    form = await request.form(max_files=50)
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        raise Invalid(_("Choose at least one file."))
    errors = []
    for f in files:
        try:
            item, created = await store_upload(request, f)
            await audit.record(request, "media.upload", f"media:{item.id}", reason="" if created else "duplicate")
        except AppError as exc:
            errors.append(f"{f.filename}: {exc.message}")
            await audit.record(request, "media.upload", f.filename or "", result="failure", reason=exc.message)
    if errors:
        async with request.app.state.db.session() as s:
            items = (await s.scalars(select(Media).order_by(Media.created_at.desc()))).all()
        return render(request, "media/library.html", {"items": items, "errors": errors}, status_code=400)
    return RedirectResponse("/media", status_code=303)


async def media_file(request: Request) -> Response:
    name = request.path_params["name"]
    if "/" in name or name.startswith("."):
        raise NotFound(_("Not found"))
    path = media_path(request, name)
    if not path.is_file():
        raise NotFound(_("Not found"))
    return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})


routes = [
    route("/media", media_page, allow=EDITORS),
    route("/media", upload, methods=["POST"], allow=EDITORS),
    route("/media/files/{name}", media_file, allow=PUBLIC),
]
