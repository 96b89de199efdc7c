"""Media files over HTTP: range requests (video seeking), ETags, long-lived caching.

Every file name holds the SHA-256 of its item's content, so a URL never changes
meaning: the answer is cacheable for a year (`immutable`), and the ETag is the
file name itself. Files are read with aiofiles in chunks.

    GET /media/files/<sha>.mp4                     → 200, whole file
    GET … Range: bytes=100-199                     → 206, Content-Range: bytes 100-199/<size>
    GET … Range: bytes=999999999-                  → 416, Content-Range: bytes */<size>
    GET … If-None-Match: "<name>"                  → 304
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

import aiofiles
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from media.uploads import media_path
from signage.auth import PUBLIC, route
from signage.errors import NotFound
from signage.i18n import gettext as _

CHUNK = 256 * 1024
NAME = re.compile(r"^[0-9a-f]{64}\.[a-z0-9.]{2,20}$")
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
TYPES = {".webp": "image/webp", ".mkv": "video/x-matroska", ".webm": "video/webm", ".mp4": "video/mp4"}


def content_type(name: str) -> str:
    suffix = Path(name).suffix
    return TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) of a single `bytes=` range; None when unsatisfiable. Multiple ranges: the whole file."""
    match = RANGE.match(header.strip())
    if not match or not any(match.groups()):
        return (0, size - 1)
    first, last = match.groups()
    if not first:  # the last N bytes
        n = int(last)
        return (max(0, size - n), size - 1) if n else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start < size and start <= end else None


async def send(path: Path, start: int, length: int):
    async with aiofiles.open(path, "rb") as f:
        await f.seek(start)
        while length > 0:
            chunk = await f.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


async def media_file(request: Request) -> Response:
    name = request.path_params["name"]
    if not NAME.match(name):
        raise NotFound(_("Not found"))
    path = media_path(request.app.state.settings, name)
    if not path.is_file():
        raise NotFound(_("Not found"))
    size = path.stat().st_size
    etag = f'"{name}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    start, end, status = 0, size - 1, 200
    wanted = request.headers.get("range")
    if wanted and request.headers.get("if-range", etag) == etag:
        span = byte_range(wanted, size)
        if span is None:
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        (start, end), status = span, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    length = end - start + 1
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=content_type(name))
    return StreamingResponse(
        send(path, start, length), status_code=status, headers=headers, media_type=content_type(name)
    )


routes = [route("/media/files/{name}", media_file, allow=PUBLIC)]
