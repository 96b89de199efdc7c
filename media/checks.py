"""What an uploaded file is, told by its content (never by its name or the client's type).

    sniff(head) → "image" | "video"    or raises Invalid with the reason it is refused

`head` is the file's first bytes (HEAD_BYTES). Images are then opened by Pillow
(`media.images.inspect`), videos by ffprobe (`media.videos.inspect`). Every
upload is also scanned whole for script (`ScriptScanner`): SVG, HTML and any
file carrying `<script` are refused.
"""

from __future__ import annotations

import re

from signage.errors import Invalid
from signage.i18n import gettext as _

HEAD_BYTES = 4096

ARCHIVES = (
    (0, b"PK\x03\x04"),
    (0, b"PK\x05\x06"),
    (0, b"\x1f\x8b"),  # gzip
    (0, b"Rar!\x1a\x07"),
    (0, b"7z\xbc\xaf\x27\x1c"),
    (0, b"BZh"),
    (0, b"\xfd7zXZ\x00"),
    (0, b"\x28\xb5\x2f\xfd"),  # zstd
    (257, b"ustar"),  # tar
)
IMAGES = (
    (0, b"\xff\xd8\xff"),
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"GIF87a"),
    (0, b"GIF89a"),
    (0, b"BM"),
)
VIDEOS = (
    (4, b"ftyp"),  # MP4, MOV, M4V, 3GP
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska, WebM
    (0, b"OggS"),
    (0, b"FLV\x01"),
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
)
MARKUP = re.compile(rb"^\s*(<\?xml|<!doctype|<svg|<html|<!--|<script)", re.I)
SCRIPT = re.compile(rb"<\s*script|<\s*svg[\s>]|javascript:", re.I)


def _at(head: bytes, signatures) -> bool:
    return any(head[offset : offset + len(magic)] == magic for offset, magic in signatures)


def sniff(head: bytes) -> str:
    """The kind of file `head` starts, or Invalid saying why it is refused."""
    if not head:
        raise Invalid(_("The file is empty."))
    body = head.removeprefix(b"\xef\xbb\xbf")
    if MARKUP.match(body):
        raise Invalid(_("SVG and web pages are not accepted: they can carry script."))
    if _at(head, ARCHIVES):
        raise Invalid(_("Archives are not accepted: upload the images or videos inside them."))
    if head[:4] == b"RIFF":
        kind = head[8:12]
        if kind == b"WEBP":
            return "image"
        if kind == b"AVI ":
            return "video"
    if _at(head, IMAGES):
        return "image"
    if _at(head, VIDEOS) or _transport_stream(head):
        return "video"
    raise Invalid(_("This file is not an image or a video."))


def _transport_stream(head: bytes) -> bool:
    return len(head) >= 376 and head[0] == head[188] == 0x47


class ScriptScanner:
    """Finds `<script`, `<svg` or `javascript:` anywhere in a file fed chunk by chunk."""

    OVERLAP = 16

    def __init__(self) -> None:
        self.tail = b""
        self.found = False

    def feed(self, chunk: bytes) -> None:
        if not self.found:
            window = self.tail + chunk
            self.found = SCRIPT.search(window) is not None
            self.tail = window[-self.OVERLAP :]

    def check(self) -> None:
        if self.found:
            raise Invalid(_("The file carries script or markup, so it is not accepted."))
