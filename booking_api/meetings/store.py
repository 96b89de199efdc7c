"""Taking in a meeting's file: checked by its content, stored once per content; and
removing the files no meeting uses any more.

`take_in(settings, upload)` → (MaterialFile, created). As media uploads are
(`media.uploads`): the file is streamed to a temporary file while it is hashed and
measured, then told by its content (`checks.inspect`); a refused file leaves nothing
behind. PDFs and images get their first-page preview here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from booking_api.meetings import checks
from booking_api.meetings.models import Material, MaterialFile
from media.uploads import CHUNK
from signage.errors import Invalid, TooLarge
from signage.i18n import gettext as _


def file_path(settings, name: str) -> Path:
    return settings.materials_dir / name[:2] / name


async def receive(upload: UploadFile, out, max_bytes: int) -> tuple[str, int, bytes]:
    """Copy the upload into `out`; its (sha256, size, first bytes). Refuses oversize."""
    digest, size, head = hashlib.sha256(), 0, b""
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(_("The file is larger than %(mb)s MB.", mb=max_bytes // (1024 * 1024)))
        if len(head) < 4096:
            head += chunk[: 4096 - len(head)]
        digest.update(chunk)
        out.write(chunk)
    return digest.hexdigest(), size, head


async def take_in(db, settings, upload: UploadFile) -> tuple[MaterialFile, bool]:
    tmp_dir = settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir)
    tmp = Path(tmp_name)
    written: list[Path] = []
    try:
        with os.fdopen(fd, "wb") as out:
            sha, size, head = await receive(upload, out, settings.max_material_bytes)
        async with db.session() as s:
            existing = await s.scalar(select(MaterialFile).where(MaterialFile.sha256 == sha))
        if existing:
            return existing, False
        info = await run_in_threadpool(checks.inspect, tmp, head)
        item = MaterialFile(sha256=sha, type=info.type, ext=info.ext, mime=info.mime, size=size)
        folder = settings.materials_dir / sha[:2]
        folder.mkdir(parents=True, exist_ok=True)
        if info.previewable:
            written.append(folder / item.preview_name)
            try:
                await run_in_threadpool(checks.preview, tmp, info, folder / item.preview_name)
            except (OSError, ValueError, SyntaxError):  # Pillow's words for a damaged image
                raise Invalid(_("The file could not be opened to make its preview: it may be damaged.")) from None
            item.has_preview = True
        final = folder / item.file_name
        shutil.move(tmp, final)
        written.append(final)
        try:
            async with db.begin() as s:
                s.add(item)
        except IntegrityError:  # the same content, stored at the same moment by another request
            written.clear()
            async with db.session() as s:
                return await s.scalar(select(MaterialFile).where(MaterialFile.sha256 == sha)), False
        written.clear()
        return item, True
    finally:
        tmp.unlink(missing_ok=True)
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()


async def sweep(db, settings) -> int:
    """Remove the files no meeting uses (a material deleted, a room and its bookings deleted)."""
    async with db.begin() as s:
        unused = (
            await s.scalars(select(MaterialFile).where(MaterialFile.id.not_in(select(Material.file_id).distinct())))
        ).all()
        if not unused:
            return 0
        names = [n for f in unused for n in f.files()]
        await s.execute(delete(MaterialFile).where(MaterialFile.id.in_([f.id for f in unused])))
    for name in names:
        with contextlib.suppress(OSError):
            file_path(settings, name).unlink()
    return len(unused)
