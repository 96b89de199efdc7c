"""What a meeting's file is, told by its content (never by its name), and its preview.

    inspect(path, head) → FileInfo(type, ext, mime)      or Invalid saying why it is refused

Accepted: PDF (opened by pdfium, and complete: a truncated file is refused), Office
documents (docx, xlsx, pptx), images (as the media library takes them: `media.images`)
and plain text (UTF-8 or GB18030, no markup). An Office document is a zip: its entries
are read before anything else, and archives that hold macros (`vbaProject.bin`, a
macro-enabled content type), executables, more than MAX_ENTRIES entries, a zip bomb
(an entry expanding more than MAX_RATIO times, or more than MAX_UNZIPPED in all) or
path tricks (absolute names, `..`, backslashes, a name twice) are refused.

`preview(path, info, dst)` writes a WebP of the first page (PDF) or of the image.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
import threading
import zipfile
from pathlib import Path, PurePosixPath

from media import checks as media_checks
from media import images
from signage.errors import Invalid
from signage.i18n import gettext as _

MAX_ENTRIES = 10_000
MAX_RATIO = 100  # an entry larger than RATIO_FROM may expand at most this many times
RATIO_FROM = 1024 * 1024
MAX_UNZIPPED = 500 * 1024 * 1024
PREVIEW_WIDTH = 480
OFFICE = {  # the part every document of a type has → (type, mime)
    "word/document.xml": ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xl/workbook.xml": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "ppt/presentation.xml": ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
}
EXECUTABLE_NAMES = re.compile(
    r"\.(exe|dll|com|scr|msi|bat|cmd|ps1|vbs|vbe|js|jse|wsf|hta|jar|sh|so|dylib|lnk|cpl)$", re.I
)
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xcf")
PDFIUM = threading.Lock()  # pdfium is not thread-safe: one call at a time in the process


@dataclasses.dataclass(frozen=True)
class FileInfo:
    type: str  # pdf, docx, xlsx, pptx, image, text
    ext: str
    mime: str

    @property
    def previewable(self) -> bool:
        return self.type in ("pdf", "image")


def inspect(path: Path, head: bytes) -> FileInfo:
    if not head:
        raise Invalid(_("The file is empty."))
    if head.startswith(b"%PDF-"):
        return _pdf(path)
    if head.startswith(b"PK\x03\x04"):
        return _office(path)
    if media_checks.MARKUP.match(head.removeprefix(b"\xef\xbb\xbf")):
        raise Invalid(_("Web pages, SVG and XML files are not accepted: they can carry script."))
    if any(head[o : o + len(m)] == m for o, m in media_checks.IMAGES) or head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        info = images.inspect(path)
        return FileInfo("image", info.ext, info.mime)
    encoding = _text(path)
    if encoding:
        return FileInfo("text", "txt", f"text/plain; charset={encoding}")
    raise Invalid(_("Meetings take PDF, Word, Excel and PowerPoint documents (docx, xlsx, pptx), images and text."))


def _pdf(path: Path) -> FileInfo:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 1024))
        if b"%%EOF" not in f.read():
            raise Invalid(_("The PDF is incomplete (it has no end): upload it again."))
    import pypdfium2 as pdfium

    try:
        with PDFIUM:
            pdf = pdfium.PdfDocument(path)
            try:
                if len(pdf) < 1:
                    raise Invalid(_("The PDF has no pages."))
            finally:
                pdf.close()
    except pdfium.PdfiumError:
        raise Invalid(_("The PDF is damaged, or locked with a password.")) from None
    return FileInfo("pdf", "pdf", "application/pdf")


def _office(path: Path) -> FileInfo:
    try:
        with zipfile.ZipFile(path) as z:
            entries = z.infolist()
            _check_entries(entries)
            names = {e.filename for e in entries}
            if "[Content_Types].xml" not in names:
                raise Invalid(_("This archive is not an Office document: archives are not accepted."))
            types = z.read("[Content_Types].xml")
            if b"macroenabled" in types.lower() or b"vbaproject" in types.lower():
                raise Invalid(_("Documents with macros are not accepted: save it without macros (docx, xlsx, pptx)."))
            for e in entries:
                if not e.is_dir() and e.file_size:
                    with z.open(e) as member:
                        if member.read(4).startswith(EXECUTABLE_MAGIC):
                            raise Invalid(_("The document holds a program, so it is not accepted."))
    except zipfile.BadZipFile:
        raise Invalid(_("The document is damaged (not a readable zip).")) from None
    except (zipfile.LargeZipFile, NotImplementedError, RuntimeError):  # zip64 oddities, unknown compression, encryption
        raise Invalid(_("The document is encrypted or packed in a way that is not accepted.")) from None
    for part, (kind, mime) in OFFICE.items():
        if part in names:
            return FileInfo(kind, kind, mime)
    raise Invalid(_("This archive is not an Office document: archives are not accepted."))


def _check_entries(entries: list[zipfile.ZipInfo]) -> None:
    if len(entries) > MAX_ENTRIES:
        raise Invalid(_("The document holds too many parts (more than %(n)s).", n=MAX_ENTRIES))
    seen: set[str] = set()
    total = 0
    for e in entries:
        name = e.filename
        parts = PurePosixPath(name).parts
        if name.startswith("/") or "\\" in name or ".." in parts or (parts and ":" in parts[0]) or name in seen:
            raise Invalid(_("The document holds a file with a dangerous path (%(name)s).", name=name[:100]))
        seen.add(name)
        if PurePosixPath(name).name.lower() == "vbaproject.bin":
            raise Invalid(_("Documents with macros are not accepted: save it without macros (docx, xlsx, pptx)."))
        if EXECUTABLE_NAMES.search(name) or e.flag_bits & 0x1:
            if e.flag_bits & 0x1:
                raise Invalid(_("The document is encrypted or packed in a way that is not accepted."))
            raise Invalid(_("The document holds a program, so it is not accepted."))
        total += e.file_size
        if total > MAX_UNZIPPED or (e.file_size > RATIO_FROM and e.file_size > MAX_RATIO * max(1, e.compress_size)):
            raise Invalid(_("The document expands to far more than its size (a zip bomb), so it is not accepted."))


def _text(path: Path) -> str | None:
    """Plain text's encoding: UTF-8, or GB18030 (as Chinese Windows writes it); None when it is
    not text (a NUL, or neither). Script or markup anywhere is refused."""
    scanner = media_checks.ScriptScanner()
    decoders = {e: codecs.getincrementaldecoder(e)() for e in ("utf-8", "gb18030")}
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1024 * 1024)
            if b"\x00" in chunk:
                return None
            scanner.feed(chunk)
            decoders = {e: d for e, d in decoders.items() if _decodes(d, chunk, final=not chunk)}
            if not decoders:
                return None
            if not chunk:
                break
    scanner.check()
    return next(iter(decoders))


def _decodes(decoder, chunk: bytes, final: bool) -> bool:
    try:
        decoder.decode(chunk, final)
        return True
    except UnicodeDecodeError:
        return False


def preview(path: Path, info: FileInfo, dst: Path) -> None:
    """A WebP of the first page (PDF) or of the image, PREVIEW_WIDTH wide at most."""
    if info.type == "image":
        images.thumbnail(path, dst)
        return
    import pypdfium2 as pdfium

    try:
        with PDFIUM:
            pdf = pdfium.PdfDocument(path)
            try:
                page = pdf[0]
                bitmap = page.render(scale=min(4.0, PREVIEW_WIDTH / (page.get_width() or 1)))
                im = bitmap.to_pil()
                page.close()
            finally:
                pdf.close()
    except pdfium.PdfiumError:
        raise Invalid(_("The PDF is damaged, or locked with a password.")) from None
    im.convert("RGB").save(dst, "WEBP", quality=images.WEBP_QUALITY)
