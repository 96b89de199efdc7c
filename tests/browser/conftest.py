"""Browser fixtures: one headless Debian Chromium per module, driven by Playwright (sync API).

- `browser`: a launched Chromium (module scope). Skips when /usr/bin/chromium or
  Playwright is missing, unless SIGNAGE_TEST_REQUIRE_SERVICES=1, where it fails.

Playwright's sync API parks its own event loop in the test thread: between two
Playwright calls that thread counts as "inside a running loop", so `asyncio.run`
(used by the shared fixtures, e.g. `database_url`, and by tests to create users)
would refuse to start there. While the browser is up, `asyncio.run` called in such
a thread runs its coroutine to completion on a short-lived thread of its own;
elsewhere it is the plain `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRE = os.environ.get("SIGNAGE_TEST_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"{reason} (required: SIGNAGE_TEST_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def _run_beside_playwright(real_run):
    def run(main, **kwargs):
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread: the ordinary case
            return real_run(main, **kwargs)
        result: dict = {}

        def target() -> None:
            try:
                result["value"] = real_run(main, **kwargs)
            except BaseException as exc:  # handed back to the caller below
                result["error"] = exc

        worker = threading.Thread(target=target, name="asyncio.run beside Playwright")
        worker.start()
        worker.join()
        if "error" in result:
            raise result["error"]
        return result["value"]

    return run


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install playwright)")

    patch = pytest.MonkeyPatch()
    patch.setattr(asyncio, "run", _run_beside_playwright(asyncio.run))
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()
        patch.undo()
