"""Browser fixtures: one headless Debian Chromium per module, driven by Playwright (sync API).

- `browser`: a launched Chromium (module scope). Skips when /usr/bin/chromium or
  Playwright is missing, unless SIGNAGE_TEST_REQUIRE_SERVICES=1, where it fails.

Playwright's sync API keeps an event loop running in the test thread; test code
runs coroutines with `conftest.run_sync`, which copes with that.
"""

from __future__ import annotations

import os
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


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install playwright)")

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    """Pages in the browser run on SQLite: what they show does not depend on the database,
    and every page's requests are tested on both databases outside the browser. A test
    that crosses processes or the database's own behaviour asks for both with
    `@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)`."""
    if request.param == "postgresql":
        from conftest import need

        need("PostgreSQL", "127.0.0.1", 5432)
    return request.param
