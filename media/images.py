"""Image checks and variants with Pillow.

`inspect(path)` opens a file as an image or raises `Invalid`: not an image,
truncated or corrupt, or a decompression bomb (more pixels than the budget,
SIGNAGE_MAX_IMAGE_PIXELS). `derive(src, folder, sha)` writes, turned upright by its
EXIF orientation, a WebP thumbnail `<sha>.thumb.webp` and a WebP variant
`<sha>.w<width>.webp` for each screen width in VARIANT_WIDTHS narrower than the image;
the original is kept as is. `process` does both; the server runs it in a worker
process (`media.decoder`), so a large image's memory is returned when it is done.

Decoding is kept small where Pillow allows: a JPEG is decoded at the smallest
scale (1/2, 1/4, 1/8) still as wide as the widest variant (`draft`); other formats
are halved by `reduce` before the finer resampling.
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


def _open(path: Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow warns past it, and refuses past twice it
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(path)


def _too_large(max_pixels: int) -> Invalid:
    return Invalid(_("The image is too large (more than %(mp)s megapixels).", mp=round(max_pixels / 1_000_000, 1)))


@contextlib.contextmanager
def _checked(max_pixels: int = MAX_PIXELS):
    """Pillow's complaints about a file, as the message a person reads."""
    try:
        yield
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _too_large(max_pixels) from None
    except UnidentifiedImageError:
        raise Invalid(_("This file is not an image.")) from None
    except (OSError, SyntaxError, ValueError):
        raise Invalid(_("The image is damaged or incomplete.")) from None


def inspect(path: Path, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    """Format and upright size, read from the header (cheap). Truncated pixel data is
    found by `derive`, which decodes the image once for every file it writes."""
    with _checked(max_pixels):
        with _open(path, max_pixels) as im:
            fmt = im.format or ""
            if fmt not in FORMATS:
                raise Invalid(_("This image format is not supported: %(format)s", format=fmt or "?"))
            if im.width * im.height > max_pixels:
                raise _too_large(max_pixels)
            im.verify()
        with _open(path, max_pixels) as im:  # verify() leaves the image unusable: open it again (the header only)
            width, height = im.size
            if im.getexif().get(ORIENTATION) in (5, 6, 7, 8):  # turned a quarter: upright it is the other way round
                width, height = height, width
    ext, mime = FORMATS[fmt]
    return ImageInfo(fmt, ext, mime, width, height)


def _webp_ready(im: Image.Image) -> Image.Image:
    return im if im.mode in ("RGB", "RGBA") else im.convert("RGBA" if "A" in im.getbands() else "RGB")


def _decoded(im: Image.Image, widest: int) -> Image.Image:
    """The image decoded no larger than needed for a `widest`-pixel variant (either way round)."""
    if im.format == "JPEG":
        im.draft("RGB", (widest, widest))  # decodes at 1/2, 1/4 or 1/8 where that is still wide enough
    if im.getexif().get(ORIENTATION, 1) != 1:
        im = ImageOps.exif_transpose(im)  # a turned copy; an upright image is not copied
    im = _webp_ready(im)
    factor = 1
    while min(im.width, im.height) // (factor * 2) >= widest:
        factor *= 2
    return im.reduce(factor) if factor > 1 else im


def derive(src: Path, folder: Path, sha: str, max_pixels: int = MAX_PIXELS) -> list[dict]:
    """Thumbnail and screen-size variants of `src`; returns the variants as {"width", "height", "file"}."""
    variants = []
    with _checked(max_pixels), _open(src, max_pixels) as im:
        im = _decoded(im, VARIANT_WIDTHS[0])
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


def process(src: Path, folder: Path, sha: str, max_pixels: int = MAX_PIXELS) -> tuple[ImageInfo, list[dict]]:
    """`inspect` and `derive` in one go (one trip to the decoding worker)."""
    info = inspect(src, max_pixels)
    return info, derive(src, folder, sha, max_pixels)


def thumbnail(src: Path, dst: Path) -> None:
    """A WebP thumbnail of any image Pillow reads (a video's poster frame, for one)."""
    with _open(src) as im:
        im = _webp_ready(ImageOps.exif_transpose(im))
        im.thumbnail(THUMB_SIZE)
        im.save(dst, "WEBP", quality=WEBP_QUALITY)
