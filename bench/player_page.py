"""Benchmark: the player page's size and its time to first paint in Chromium.

    .venv/bin/python bench/player_page.py

Starts one server on 127.0.0.1 (SQLite in a temporary directory), opens `/player`
in headless Chromium five times (a fresh browser context each time, so nothing is
cached) and prints the bytes transferred and first-contentful-paint.
"""

from __future__ import annotations

import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(Path(__file__).resolve().parent))
from run import free_port  # noqa: E402

PARTS = ["/player", "/static/player/player.js", "/static/player/player.css", "/static/widgets/widgets.js"]


def main() -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="signage-page-"))
    port = free_port()
    env = {**os.environ, "SIGNAGE_DATA_DIR": str(tmp), "SIGNAGE_SECRET_KEY": "bench", "SIGNAGE_DEFAULT_LOCALE": "en"}
    argv = [sys.executable, "-m", "uvicorn", "--factory", "signage.app:create_app", "--no-access-log"]
    server = subprocess.Popen([*argv, "--port", str(port), "--log-level", "warning"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        subprocess.run([sys.executable, "-m", "signage", "db", "upgrade"], env=env, cwd=ROOT, check=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        sizes = {p: len(httpx.get(base + p).content) for p in PARTS}
        total = sum(sizes.values())
        zipped = sum(len(gzip.compress(httpx.get(base + p).content)) for p in PARTS)
        print("player page: " + ", ".join(f"{p} {n / 1024:.1f} KB" for p, n in sizes.items()))
        print(f"  total {total / 1024:.1f} KB ({zipped / 1024:.1f} KB gzipped)")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            paints = []
            for _ in range(5):
                ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
                page = ctx.new_page()
                page.goto(base + "/player")
                page.wait_for_function("/^\\d{6}$/.test(document.getElementById('code').textContent)")
                fcp = page.evaluate(
                    "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? "
                    "performance.getEntriesByType('paint').at(-1)?.startTime"
                )
                code = page.evaluate("performance.now()")
                paints.append((fcp, code))
                ctx.close()
            browser.close()
        fcps = sorted(p[0] for p in paints)
        codes = sorted(p[1] for p in paints)
        print(
            f"  first contentful paint: median {statistics.median(fcps):.0f} ms (min {fcps[0]:.0f}, max {fcps[-1]:.0f})"
        )
        print(f"  pairing code on screen by: median {statistics.median(codes):.0f} ms")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
