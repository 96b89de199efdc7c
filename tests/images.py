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


def sized(width, height, color="green", fmt="JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, fmt)
    return buf.getvalue()


def png_with_script() -> bytes:
    """A valid PNG whose text chunk carries a script (a polyglot a browser might run as HTML)."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(document.cookie)</script>")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
SVG_PLAIN = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


def zip_archive() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("red.png", png())
    return buf.getvalue()


def gzip_archive() -> bytes:
    import gzip

    return gzip.compress(png())
