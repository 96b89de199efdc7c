"""Bounded image decoding (issue 20, point 4): large images are decoded one at a time in a
worker process whose memory is returned, so a server's memory after 20 uploads of a
7000×7000 PNG (small on disk, 49 megapixels decoded) is back near where it started.

Before: one such upload took a server from 125 MB to 514 MB, and it stayed there."""

import io
import struct
import threading
import zlib

import httpx
import pytest
from fixtures import make_token, server_settings
from PIL import Image

MB = 1024 * 1024


def rss(pid: int) -> int:
    """Resident memory of a process, in bytes (Linux)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def tree_rss(pid: int) -> int:
    """A process's memory and its children's (the decoding worker)."""
    total = rss(pid)
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        return total
    for child in children:
        try:
            total += tree_rss(int(child))
        except (OSError, AssertionError):
            pass
    return total


def big_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (7000, 7000), (10, 100, 200)).save(buf, "PNG")
    return buf.getvalue()


def variant(png: bytes, i: int) -> bytes:
    """The same picture as another file: a text chunk after the header (encoding 49
    megapixels anew for each upload took longer than the server's decoding)."""
    data = b"Comment\x00" + str(i).encode()
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    end_of_header = 8 + 25  # the signature, then IHDR: length, type, 13 bytes, CRC
    return png[:end_of_header] + chunk + png[end_of_header:]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # decoding does not touch the database
def test_twenty_large_images_leave_the_servers_memory_where_it_was(make_server):
    server = make_server()
    headers = make_token(server_settings(server), "editor")
    pid = server.proc.pid
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as c:
        assert c.get("/api/v1/media").status_code == 200  # warm: the first request's imports and pools
        before = rss(pid)
        peak, done = [before], threading.Event()

        def watch():
            while not done.wait(0.05):
                peak.append(tree_rss(pid))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            png = big_png()
            for i in range(20):
                data = variant(png, i)
                r = c.post("/api/v1/media", files=[("files", (f"big{i}.png", data, "image/png"))])
                assert r.status_code == 201, r.text
                assert r.json()["items"][0]["width"] == 7000
        finally:
            done.set()
            watcher.join()
        after = rss(pid)
    print(
        f"server RSS before {before / MB:.0f} MB, after 20 uploads {after / MB:.0f} MB, peak with worker {max(peak) / MB:.0f} MB"
    )
    assert after - before < 50 * MB
