"""Browser fixtures: one headless Debian Chromium per module, driven by Playwright (sync API).

- `browser`: a launched Chromium (module scope). Skips when /usr/bin/chromium or
  Playwright is missing, unless SIGNAGE_TEST_REQUIRE_SERVICES=1, where it fails.
- Every page a test opens is watched for Content-Security-Policy violations (each
  frame reports its `securitypolicyviolation` events): a test with one fails.

Playwright's sync API keeps an event loop running in the test thread; test code
runs coroutines with `fixtures.run_sync`, which copes with that.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fixtures import unavailable

CHROMIUM = Path("/usr/bin/chromium")
LAN_NAME = "signage-lan.test"  # a plain-http address that is not this machine's loopback, for any machine
CHROMIUM_ARGS = [
    f"--host-resolver-rules=MAP {LAN_NAME} 127.0.0.1",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install playwright)")

    _patch_wait_for_function()
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield Watched(browser)
        finally:
            browser.close()
    finally:
        pw.stop()


def _wait_for_function(self, expression, *, arg=None, timeout=None, polling=None):
    """`wait_for_function` that polls with `evaluate` from here. Playwright's own polls in
    the page by compiling the string with `new Function`, which the site's policy (no
    'unsafe-eval') rightly refuses; `evaluate` is the DevTools protocol's, outside it."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + (30_000 if timeout is None else timeout) / 1000
    interval = polling if isinstance(polling, (int, float)) else 50
    while True:
        try:
            value = self.evaluate(expression, arg)
        except PlaywrightError as exc:  # the page navigated meanwhile: ask the new one
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
            value = None
        if value:
            return value
        if timeout != 0 and time.monotonic() > deadline:
            raise PlaywrightTimeout(f"wait_for_function timed out: {expression}")
        self.wait_for_timeout(interval)


def _patch_wait_for_function() -> None:
    from playwright.sync_api import Frame, Page

    Page.wait_for_function = Frame.wait_for_function = _wait_for_function


REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} on ${e.documentURI}`);
});
"""


class Watched:
    """The browser, with every context it makes watched for CSP violations (`violations`)."""

    def __init__(self, browser):
        self._browser, self.violations = browser, []

    def __getattr__(self, name):
        return getattr(self._browser, name)

    def _heard(self, message) -> None:
        if message.text.startswith("CSP violation:"):
            self.violations.append(message.text)

    def new_context(self, **kwargs):
        context = self._browser.new_context(**kwargs)
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("console", self._heard)
        return context

    def new_page(self, **kwargs):
        context = self.new_context(**kwargs)
        page = context.new_page()
        page.on("close", lambda _page: context.close())
        return page


@pytest.fixture(autouse=True)
def no_csp_violations(request):
    """Fails a browser test whose pages broke the Content-Security-Policy."""
    if "browser" not in request.fixturenames:
        yield
        return
    watched = request.getfixturevalue("browser")
    watched.violations.clear()
    yield
    assert watched.violations == [], "Content-Security-Policy violations in the browser"


@pytest.fixture(params=["sqlite"])
def backend(request) -> str:
    """Pages in the browser run on SQLite: what they show does not depend on the database,
    and every page's requests are tested on both databases outside the browser. A test
    that crosses processes or the database's own behaviour asks for both with
    `@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)`."""
    if request.param == "postgresql":
        from fixtures import need

        need("PostgreSQL", "127.0.0.1", 5432)
    return request.param


def pytest_collection_modifyitems(config, items):
    """Every test that starts Chromium carries the `browser` mark, so `-m "not browser"`
    really runs none (a module that reassigned `pytestmark` once lost it for two tests)."""
    unmarked = [i.nodeid for i in items if "browser" in i.fixturenames and i.get_closest_marker("browser") is None]
    if unmarked:
        raise pytest.UsageError(f"tests that start Chromium without the browser mark: {unmarked}")
