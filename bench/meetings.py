"""Benchmark: a 20 MB PDF from upload to preview, against pypdfium2 run directly on the same file.

    .venv/bin/python bench/meetings.py [--mb 20] [--rounds 5]

Upload to preview: `POST /api/v1/bookings/{id}/materials` of the file to a real server
(uvicorn, SQLite, over 127.0.0.1) until its 201 (the file is streamed to disk, hashed,
told by its content, opened by pdfium, its first page rendered to WebP and stored), then
`GET` of its `preview_url`. Then the file is removed (so the next round stores it anew).
Directly: pypdfium2 opens the same file, renders its first page at the same width and
Pillow saves the WebP, in this process. Each figure is the median of the rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after the root: bench/media.py is not the media package

from booking import PY, cli, start, stop  # noqa: E402

from booking_api.meetings import checks  # noqa: E402


def make_pdf(path: Path, mb: int) -> None:
    """A PDF of about `mb` MB: A4 pages of photographic noise (JPEG), as scanned documents are."""
    rng = random.Random(7)

    def page() -> Image.Image:
        return Image.frombytes("RGB", (1240, 1754), rng.randbytes(1240 * 1754 * 3))  # A4 at 150 dpi

    one = io.BytesIO()
    page().save(one, "PDF", quality=92)
    pages = [page() for _ in range(max(1, round(mb * 1024 * 1024 / one.tell())))]
    pages[0].save(path, "PDF", save_all=True, append_images=pages[1:], quality=92)


def direct(src: Path, dst: Path) -> float:
    import pypdfium2 as pdfium

    t = time.perf_counter()
    pdf = pdfium.PdfDocument(src)
    page = pdf[0]
    im = page.render(scale=checks.PREVIEW_WIDTH / page.get_width()).to_pil()
    page.close()
    pdf.close()
    im.convert("RGB").save(dst, "WEBP", quality=82)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pdf = tmp / "board-pack.pdf"
        make_pdf(pdf, args.mb)
        size = pdf.stat().st_size
        env = {
            **os.environ,
            "SIGNAGE_DATA_DIR": str(tmp / "data"),
            "SIGNAGE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
            "SIGNAGE_SECRET_KEY": "bench",
            "SIGNAGE_REDIS_URL": "",
        }
        cli(env, "db", "upgrade")
        cli(env, "user", "create", "--email", "bench@example.com", "--password", "benchmark", "--role", "admin")
        token = {"Authorization": "Bearer " + cli(env, "token", "create", "--email", "bench@example.com")}
        proc, url = start([PY, "-m", "uvicorn", "signage.app:create_app", "--factory"], env, tmp / "server.log")
        try:
            with httpx.Client(base_url=url, headers=token, timeout=120) as c:
                room = c.post("/api/v1/rooms", json={"name": "Bench", "capacity": 8}).json()
                start_at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
                body = {"room_id": room["id"], "title": "Board", "start": start_at.isoformat(),
                        "end": (start_at + dt.timedelta(hours=1)).isoformat()}  # fmt: skip
                booking = c.post("/api/v1/bookings", json=body).json()
                path = f"/api/v1/bookings/{booking['id']}/materials"
                ours, bare, posts = [], [], []
                for _ in range(args.rounds):
                    bare.append(direct(pdf, tmp / "direct.webp"))
                    t = time.perf_counter()
                    with pdf.open("rb") as f:
                        r = c.post(path, files={"files": (pdf.name, f, "application/pdf")}, data={"kind": "before"})
                    posts.append(time.perf_counter() - t)
                    assert r.status_code == 201, r.text
                    item = r.json()["items"][0]
                    preview = c.get(item["preview_url"])
                    ours.append(time.perf_counter() - t)
                    assert preview.status_code == 200 and preview.headers["content-type"] == "image/webp"
                    assert c.delete(f"{path}/{item['id']}").status_code == 204
        finally:
            stop(proc)
    o, b, p = (statistics.median(x) * 1000 for x in (ours, bare, posts))
    print(f"PDF {size / 1024 / 1024:.1f} MB, first page previewed at {checks.PREVIEW_WIDTH} px, {args.rounds} rounds")
    print(f"  upload to preview (POST 201 + GET preview): {o:7.0f} ms   (of which the POST: {p:.0f} ms)")
    print(f"  pypdfium2 directly (open, render, WebP):    {b:7.0f} ms")
    print(f"  difference: {o - b:.0f} ms (receiving, hashing and storing {size / 1024 / 1024:.0f} MB, the checks)")


if __name__ == "__main__":
    main()
