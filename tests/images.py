"""Real image files for tests, made with Pillow."""

import io

from PIL import Image


def png(width=64, height=48, color="red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def jpeg_rotated(width=80, height=40) -> bytes:
    """A landscape JPEG whose EXIF says "rotate 90°": shown as 40×80."""
    im = Image.new("RGB", (width, height), "blue")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def bomb() -> bytes:
    """A small PNG (about 10 KB) that unpacks to 9,000 × 9,000 pixels: over our 50-megapixel limit."""
    im = Image.new("1", (9000, 9000))
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=True)
    return buf.getvalue()
