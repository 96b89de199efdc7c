"""Taking in one uploaded file: checked by its content, stored once per content.

`store(request, upload, folder)` → (item, created). The file is streamed to a
temporary file while it is hashed (SHA-256) and scanned for script; then its
kind is told by its first bytes (`media.checks.sniff`) and it is opened by Pillow
or ffprobe. A refused file leaves nothing behind: no row, no file. The same
content uploaded again returns the item already there.

Images get their thumbnail and variants here; videos are queued for the
background worker (`media.jobs`) and answer with status "processing".
"""

from __future__ import annotations

import contextlib
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

from media import checks, images, videos
from media.models import Media, MediaJob
from signage.errors import Invalid, TooLarge
from signage.i18n import gettext as _

CHUNK = 1024 * 1024


def media_path(settings, name: str) -> Path:
    return settings.media_dir / name[:2] / name


def clean_name(filename: str | None) -> str:
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    return name[:255] or "upload"


def clean_folder(value) -> str:
    folder = " ".join(str(value or "").split()).strip("/ ")
    if len(folder) > 100:
        raise Invalid(_("A folder name has at most 100 characters."), {"field": "folder"})
    return folder


async def receive(upload: UploadFile, out, max_bytes: int) -> tuple[str, int, bytes]:
    """Copy the upload into `out`; its (sha256, size, first bytes). Refuses script and oversize."""
    digest, size, head = hashlib.sha256(), 0, b""
    scanner = checks.ScriptScanner()
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(_("The upload is larger than %(mb)s MB.", mb=max_bytes // (1024 * 1024)))
        if len(head) < checks.HEAD_BYTES:
            head += chunk[: checks.HEAD_BYTES - len(head)]
        digest.update(chunk)
        scanner.feed(chunk)
        out.write(chunk)
    checks.sniff(head)
    scanner.check()
    return digest.hexdigest(), size, head


async def store(request: Request, upload: UploadFile, folder: str = "") -> tuple[Media, bool]:
    settings = request.app.state.settings
    tmp_dir = settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir)
    tmp = Path(tmp_name)
    written: list[Path] = []
    try:
        with os.fdopen(fd, "wb") as out:
            sha, size, head = await receive(upload, out, settings.max_upload_bytes)
        db = request.app.state.db
        async with db.session() as s:
            existing = await s.scalar(select(Media).where(Media.sha256 == sha))
        if existing:
            return existing, False
        item = Media(name=clean_name(upload.filename), sha256=sha, size=size, folder=folder)
        item.uploaded_by = request.state.user.id
        target_dir = settings.media_dir / sha[:2]
        target_dir.mkdir(parents=True, exist_ok=True)
        if checks.sniff(head) == "image":
            written += [
                target_dir / f"{sha}.thumb.webp",
                *(target_dir / f"{sha}.w{w}.webp" for w in images.VARIANT_WIDTHS),
            ]
            info, variants = await request.app.state.decoder.run(
                images.process, tmp, target_dir, sha, settings.max_image_pixels
            )
            item.kind, item.ext, item.mime, item.variants = "image", info.ext, info.mime, variants
            item.width, item.height, item.status = info.width, info.height, "ready"
        else:
            vinfo = await run_in_threadpool(videos.inspect, tmp)
            item.kind, item.ext, item.mime, item.status = "video", vinfo.ext, vinfo.mime, "processing"
            item.width, item.height, item.duration = vinfo.width, vinfo.height, vinfo.duration
            item.video_codec, item.audio_codec = vinfo.video_codec, vinfo.audio_codec
        final = target_dir / item.file_name
        shutil.move(tmp, final)
        written.append(final)
        try:
            async with db.begin() as s:
                s.add(item)
                await s.flush()
                if item.kind == "video":
                    s.add(MediaJob(media_id=item.id, kind="video"))
        except IntegrityError:  # the same content, stored at the same moment by another request
            written.clear()
            async with db.session() as s:
                return await s.scalar(select(Media).where(Media.sha256 == sha)), False
        written.clear()
        return item, True
    finally:
        tmp.unlink(missing_ok=True)
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
