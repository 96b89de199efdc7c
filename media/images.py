"""Image checks and variants with Pillow.

`inspect(path)` opens a file as an image or raises `Invalid`: not an image,
truncated or corrupt, or a decompression bomb (more than MAX_PIXELS pixels).
`thumbnail(src, dst)` writes an EXIF-oriented WebP thumbnail.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from signage.errors import Invalid
from signage.i18n import gettext as _

MAX_PIXELS = 50_000_000  # 50 megapixels: larger images are refused as decompression bombs
FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "GIF": ("gif", "image/gif"),
    "WEBP": ("webp", "image/webp"),
    "BMP": ("bmp", "image/bmp"),
}
THUMB_SIZE = (480, 480)


@dataclasses.dataclass
class ImageInfo:
    format: str
    ext: str
    mime: str
    width: int
    height: int


def _open(path: Path) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(path)


def inspect(path: Path) -> ImageInfo:
    try:
        with _open(path) as im:
            fmt = im.format or ""
            if fmt not in FORMATS:
                raise Invalid(_("This image format is not supported: %(format)s", format=fmt or "?"))
            if im.width * im.height > MAX_PIXELS:
                raise Invalid(_("The image is too large (more than %(mp)s megapixels).", mp=MAX_PIXELS // 1_000_000))
            im.verify()
        with _open(path) as im:
            im.load()  # verify() does not decode: this finds truncated data
            width, height = ImageOps.exif_transpose(im).size
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise Invalid(_("The image is too large (more than %(mp)s megapixels).", mp=MAX_PIXELS // 1_000_000)) from None
    except UnidentifiedImageError:
        raise Invalid(_("This file is not an image.")) from None
    except (OSError, SyntaxError, ValueError):
        raise Invalid(_("The image is damaged or incomplete.")) from None
    ext, mime = FORMATS[fmt]
    return ImageInfo(fmt, ext, mime, width, height)


def thumbnail(src: Path, dst: Path) -> None:
    with _open(src) as im:
        im = ImageOps.exif_transpose(im)
        im.thumbnail(THUMB_SIZE)
        if im.mode not in ("RGB", "RGBA"):
            im = im.convert("RGBA")
        im.save(dst, "WEBP", quality=82)
