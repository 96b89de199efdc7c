"""Image checks and variants with Pillow.

`inspect(path)` opens a file as an image or raises `Invalid`: not an image,
truncated or corrupt, or a decompression bomb (more than MAX_PIXELS pixels).
`derive(src, folder, sha)` writes, turned upright by its EXIF orientation, a WebP
thumbnail `<sha>.thumb.webp` and a WebP variant `<sha>.w<width>.webp` for each
screen width in VARIANT_WIDTHS narrower than the image; the original is kept as is.
"""

from __future__ import annotations

import contextlib
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
ORIENTATION = 0x0112  # EXIF tag
THUMB_SIZE = (480, 480)
VARIANT_WIDTHS = (3840, 1920, 1280)  # 4K, full HD and door-tablet screens
WEBP_QUALITY = 82


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


@contextlib.contextmanager
def _checked():
    """Pillow's complaints about a file, as the message a person reads."""
    try:
        yield
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise Invalid(_("The image is too large (more than %(mp)s megapixels).", mp=MAX_PIXELS // 1_000_000)) from None
    except UnidentifiedImageError:
        raise Invalid(_("This file is not an image.")) from None
    except (OSError, SyntaxError, ValueError):
        raise Invalid(_("The image is damaged or incomplete.")) from None


def inspect(path: Path) -> ImageInfo:
    """Format and upright size, read from the header (cheap). Truncated pixel data is
    found by `derive`, which decodes the image once for every file it writes."""
    with _checked():
        with _open(path) as im:
            fmt = im.format or ""
            if fmt not in FORMATS:
                raise Invalid(_("This image format is not supported: %(format)s", format=fmt or "?"))
            if im.width * im.height > MAX_PIXELS:
                raise Invalid(_("The image is too large (more than %(mp)s megapixels).", mp=MAX_PIXELS // 1_000_000))
            im.verify()
        with _open(path) as im:  # verify() leaves the image unusable: open it again (the header only)
            width, height = im.size
            if im.getexif().get(ORIENTATION) in (5, 6, 7, 8):  # turned a quarter: upright it is the other way round
                width, height = height, width
    ext, mime = FORMATS[fmt]
    return ImageInfo(fmt, ext, mime, width, height)


def _webp_ready(im: Image.Image) -> Image.Image:
    return im if im.mode in ("RGB", "RGBA") else im.convert("RGBA" if "A" in im.getbands() else "RGB")


def derive(src: Path, folder: Path, sha: str) -> list[dict]:
    """Thumbnail and screen-size variants of `src`; returns the variants as {"width", "height", "file"}."""
    variants = []
    with _checked(), _open(src) as im:
        im = _webp_ready(ImageOps.exif_transpose(im))
        for width in VARIANT_WIDTHS:
            if im.width <= width:
                continue
            height = max(1, round(im.height * width / im.width))
            name = f"{sha}.w{width}.webp"
            im = im.resize((width, height), Image.Resampling.LANCZOS)
            im.save(folder / name, "WEBP", quality=WEBP_QUALITY)
            variants.append({"width": width, "height": height, "file": name})
        im.thumbnail(THUMB_SIZE)
        im.save(folder / f"{sha}.thumb.webp", "WEBP", quality=WEBP_QUALITY)
    return variants


def thumbnail(src: Path, dst: Path) -> None:
    """A WebP thumbnail of any image Pillow reads (a video's poster frame, for one)."""
    with _open(src) as im:
        im = _webp_ready(ImageOps.exif_transpose(im))
        im.thumbnail(THUMB_SIZE)
        im.save(dst, "WEBP", quality=WEBP_QUALITY)
