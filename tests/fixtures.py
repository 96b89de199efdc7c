"""Fixtures and helpers of every test: real SQLite and PostgreSQL, real Redis, real server processes.

Tests import helpers from here (`from fixtures import login, rows`); tests/conftest.py
hands the fixtures and hooks to pytest.

- `backend`: every test that asks for an app runs on "sqlite" and on "postgresql".
  PostgreSQL and Redis are used whenever reachable; without them those cases skip,
  unless SIGNAGE_TEST_REQUIRE_SERVICES=1 (as in CI), where they fail.
- `make_client(**settings)`: a TestClient on a fresh database of the current backend.
- `client`: one made with defaults. `login(client, role)` signs in a new user.
- `make_server(**env)`: a real `signage serve` process on a free port.
- Every test fails at teardown when its app (TestClient or server process) logged an error
  or a traceback it did not expect: `@pytest.mark.expect_errors(regex, ...)` names those it does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from signage.app import create_app
from signage.db import Database
from signage.settings import Settings
from signage.users.store import create_or_update

PG_ADMIN = "postgresql://127.0.0.1:5432/test"
PG_URL = "postgresql+asyncpg://127.0.0.1:5432/{db}"
REDIS_URL = os.environ.get("SIGNAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Each test run its own Redis channels, so runs side by side never hear each other.
if "SIGNAGE_REDIS_PREFIX" not in os.environ or os.environ.get("PYTEST_XDIST_WORKER"):
    # each test process its own channels (xdist workers inherit the controller's environment)
    os.environ["SIGNAGE_REDIS_PREFIX"] = f"signage-test-{uuid.uuid4().hex[:8]}:"
REQUIRE = os.environ.get("SIGNAGE_TEST_REQUIRE_SERVICES") == "1"
QUICK = os.environ.get("SIGNAGE_TEST_QUICK") == "1"  # scripts/test --quick
ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


def run_sync(coro):
    """Run a coroutine to completion from test code.

    Playwright's sync API keeps an event loop running in the test thread between
    its calls, where `asyncio.run` refuses to start; there the coroutine runs on a
    short-lived thread of its own.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:  # handed back to the caller below
            result["error"] = exc

    worker = threading.Thread(target=target)
    worker.start()
    worker.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def make_user(settings: Settings, role: str, email: str | None = None) -> str:
    """A new user of `role` in the database of `settings`; returns its email (password PASSWORD)."""
    email = email or f"{role}-{uuid.uuid4().hex[:6]}@example.com"
    run_sync(create_or_update(settings, email, PASSWORD, role))
    return email


def make_token(settings: Settings, role: str) -> dict:
    """Authorization headers with a Bearer token of a new user of `role`."""
    from signage.users.store import create_token

    token = run_sync(create_token(settings, make_user(settings, role)))
    return {"Authorization": f"Bearer {token}"}


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def unavailable(reason: str) -> None:
    """Skip the test for want of `reason`; fail instead when services are required (CI)."""
    if REQUIRE:
        pytest.fail(f"{reason} (required: SIGNAGE_TEST_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def need(service: str, host: str, port: int) -> None:
    if not reachable(host, port):
        unavailable(f"{service} at {host}:{port} not reachable")


def pg_admin(sql: str) -> None:
    import asyncpg

    async def run():
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run_sync(run())


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    if request.param == "postgresql":
        need("PostgreSQL", "127.0.0.1", 5432)
    return request.param


@pytest.fixture
def redis_url() -> str:
    where = urlsplit(REDIS_URL)
    need("Redis", where.hostname or "127.0.0.1", where.port or 6379)
    return REDIS_URL


def create_tables(url: str) -> None:
    async def create():
        db = Database(url)
        await db.create_all()
        await db.close()

    run_sync(create())


@pytest.fixture(scope="session")
def pg_template():
    """A PostgreSQL database with every table, made once; each test's database is a copy
    (CREATE DATABASE ... TEMPLATE copies files: much quicker than creating the tables)."""
    name = f"signage_tmpl_{uuid.uuid4().hex[:12]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    try:
        create_tables(PG_URL.format(db=name))
        yield name
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file with every table, made once; each test's database is a copy of it."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    create_tables(f"sqlite+aiosqlite:///{folder / 'signage.db'}")
    return folder


@pytest.fixture
def database_url(backend, tmp_path, request):
    """A fresh, empty database with every table, on the current backend."""
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        for name in ("signage.db", "signage.db-wal"):
            if (template / name).exists():
                shutil.copy(template / name, tmp_path / name)
        yield f"sqlite+aiosqlite:///{tmp_path / 'signage.db'}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"signage_t_{uuid.uuid4().hex[:12]}"
    pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield PG_URL.format(db=name)
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_settings(database_url, tmp_path):
    def make(**overrides) -> Settings:
        values = dict(
            data_dir=tmp_path / "data",
            database_url=database_url,
            secret_key="test-secret",
            default_locale="en",
            redis_prefix=os.environ["SIGNAGE_REDIS_PREFIX"],
        )
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def make_client(make_settings):
    clients = []

    def make(**overrides) -> TestClient:
        client = TestClient(create_app(make_settings(**overrides)), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def add_user(client: TestClient, role: str, email: str | None = None) -> str:
    return make_user(client.app.state.settings, role, email)


def csrf_of(client: TestClient, path: str = "/login") -> str:
    html = client.get(path).text
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, f"no csrf meta on {path}"
    return match.group(1)


def login(client: TestClient, role: str, email: str | None = None) -> str:
    """Sign in as a new user of `role`; returns its email. The client keeps the cookie."""
    email = add_user(client, role, email)
    token = csrf_of(client)
    r = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return email


def csrf(client: TestClient) -> str:
    """The signed-in client's CSRF token (from any page's meta tag)."""
    return csrf_of(client, "/")


def api_token(client: TestClient, role: str) -> dict:
    """Authorization headers with a Bearer token of a new user of `role`."""
    return make_token(client.app.state.settings, role)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, env: dict, log: Path, host: str = "127.0.0.1"):
        self.port, self.host = free_port(), host
        self.url = f"http://{host}:{self.port}"
        self.env, self.log = env, log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Server:  # generous: a busy CI machine starts it slowly
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signage", "serve", "--host", self.host, "--port", str(self.port)],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code in (200, 503):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop(grace=2)  # not left running after the test
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self, grace: float = 10) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def make_server(database_url, tmp_path, server_errors):
    """`make_server(SIGNAGE_REDIS_URL=...)`: a started server process on the test's database
    (`host=` another local address to listen on instead of 127.0.0.1).

    Every server of one test shares the database, data dir and secret key.
    """
    servers: list[Server] = []

    def make(host: str = "127.0.0.1", **env) -> Server:
        full = {
            **os.environ,
            "SIGNAGE_DATA_DIR": str(tmp_path / "data"),
            "SIGNAGE_DATABASE_URL": database_url,
            "SIGNAGE_SECRET_KEY": "test-secret",
            "SIGNAGE_DEFAULT_LOCALE": "en",
            **env,
        }
        server = Server(full, tmp_path / f"server-{len(servers)}.log", host).start()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop(grace=2)  # the test is over: no need to wait out open streams
        server_errors.extend(f"{s.log.name}: {e}" for e in errors_in_log(s.log.read_text(errors="replace")))


def server_settings(server: Server) -> Settings:
    return Settings(
        data_dir=Path(server.env["SIGNAGE_DATA_DIR"]),
        database_url=server.env["SIGNAGE_DATABASE_URL"],
        secret_key="test-secret",
    )


def in_app(client: TestClient, fn, *args):
    """Run `await fn(*args)` on the app's own event loop (its database pool lives there)."""
    return client.portal.call(fn, *args)


def rows(client: TestClient, query):
    """All ORM rows of a select, read through the app's database."""

    async def fetch():
        async with client.app.state.db.session() as s:
            return (await s.scalars(query)).all()

    return in_app(client, fetch)


def pages(client: TestClient, url: str, headers: dict, items: str | None = None) -> list[list]:
    """Every page of a list that pages, following its `Link: <…>; rel="next"` to the end:
    each page's JSON array, or its `items` when the list answers an object."""
    out = []
    while url:
        r = client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        out.append(r.json()[items] if items else r.json())
        link = r.headers.get("link")
        assert not link or (link.startswith("</api/v1/") and link.endswith('>; rel="next"')), link
        url = link[1 : link.index(">")] if link else None
    return out


def refuses_bad_paging(client: TestClient, url: str, headers: dict, forged: list[str]) -> None:
    """`limit` 0, over 1,000 or not a number, a parameter the list does not know, and a cursor
    it did not give (`forged`: another list's, or its own with keys changed) are a 400 naming it."""
    bad = [({"limit": v}, "limit") for v in ("0", "1001", "ten", "-1", "1.5", "10000000000000000000000")]
    bad += [({"colour": "red"}, "colour"), ({"cursor": "nonsense"}, "cursor"), ({"cursor": "e30"}, "cursor")]
    bad += [({"cursor": cursor}, "cursor") for cursor in forged]
    for params, field in bad:
        r = client.get(url, params=params, headers=headers)
        assert r.status_code == 400 and r.json()["detail"]["field"] == field, (params, r.text)
    for limit in ("1", "1000"):
        assert client.get(url, params={"limit": limit}, headers=headers).status_code == 200


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> dict:
    """One small test video per kind in tests/videos.py KINDS, made once per run."""
    from videos import KINDS, make_video

    folder = tmp_path_factory.mktemp("videos")
    return {name: make_video(folder / name, options) for name, (options, _transcode) in KINDS.items()}


# Tables only the background workers read on their rounds (the event dispatcher, the
# notification outbox, the webhook worker, importers): a test counting a request's queries
# leaves their statements out (`foreground`).
BACKGROUND_TABLES = ("event_consumers", "FROM events", "notify_messages", "webhook_deliveries", "import_sources")


def foreground(statements: list[str]) -> list[str]:
    return [s for s in statements if not any(t in s for t in BACKGROUND_TABLES)]


def request_statements(client: TestClient, fn) -> list[str]:
    """The SQL statements `fn()` made its app run for its requests: those of the app's own
    background tasks (named "signage-…": the room timer, the dispatcher's consumers, the
    outbox, …) are left out whatever tables they read, and so are the rounds `foreground`
    knows (children of those tasks)."""
    seen: list[str] = []
    engine = client.app.state.db.engine.sync_engine

    def hook(_conn, _cursor, statement, *_args):
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        if not (task is not None and task.get_name().startswith("signage-")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", hook)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", hook)
    return foreground(seen)


def wait_for(check, timeout: float = 30, every: float = 0.1):
    """Call `check()` until it returns something true; that value. Fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {check.__name__}")
        time.sleep(every)


def sign_in_page(page, base: str, email: str) -> None:
    """Sign a Playwright page in as `email` (password PASSWORD) through the login form."""
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.locator("form[action='/login'] button[type=submit]").click()


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []  # the page's tables, each a list of rows of cell texts
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("")
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth and self.tables and self.tables[-1] and self.tables[-1][-1]:
            row = self.tables[-1][-1]
            row[-1] = " ".join((row[-1] + " " + data).split())


def table_rows(html: str, index: int = 0) -> list[dict[str, str]]:
    """The body rows of the page's `index`-th table, each as {column heading: cell text};
    a row with fewer cells than headings (such as "Nothing matches") is left out."""
    parser = _Tables()
    parser.feed(html)
    heading, *body = parser.tables[index]
    return [dict(zip(heading, row, strict=True)) for row in body if len(row) == len(heading)]


def pytest_collection_modifyitems(config, items) -> None:
    """SIGNAGE_TEST_QUICK=1 (`scripts/test --quick`): SQLite only, no browser or slow tests.
    Always: a module marked `one_database` (its subject is not the database: roles, widgets,
    the OpenAPI document...) runs on SQLite only, which keeps CI's whole run under 30 minutes;
    whatever touches the database's own behaviour (locks, constraints, the event log, the
    writer, processes) runs on both."""
    keep, drop = [], []
    for item in items:
        on_pg = getattr(item, "callspec", None) and item.callspec.params.get("backend") == "postgresql"
        if on_pg and item.get_closest_marker("one_database"):
            drop.append(item)
        elif QUICK and (on_pg or item.get_closest_marker("browser") or item.get_closest_marker("slow")):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


SKIPPED: list[str] = []


def pytest_runtest_logreport(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus) -> None:
    """With SIGNAGE_TEST_REQUIRE_SERVICES=1 (CI) a skipped test fails the run."""
    if REQUIRE and SKIPPED and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(f"skipped tests: {len(SKIPPED)}")
    if REQUIRE and SKIPPED:
        terminalreporter.write_line(
            "SIGNAGE_TEST_REQUIRE_SERVICES=1: every test must run, so these skips fail the run:"
        )
        for nodeid in SKIPPED:
            terminalreporter.write_line(f"  {nodeid}")


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.formatter = logging.Formatter("%(name)s: %(message)s")
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


# A server stopped while players or pages still hold their event streams: uvicorn waits
# its graceful time (5 s), then cancels those streams and says so at ERROR. That is how a
# stop ends a stream, not an error of the app (tests stop servers under open browsers).
# (Page streams end properly when told to stop: signage.live.Stream.)
SHUTDOWN_WITH_STREAMS = re.compile(r"timeout graceful shutdown exceeded")
# A stream closed by its client while its request read the database: SQLAlchemy invalidates
# the connection and closes it in `asyncio.shield(_terminate_graceful_close())`; the request
# task is gone, nothing holds the shielded task, and asyncio reports it when it is collected
# (SQLAlchemy's connectors/asyncio.py, seen in tests that open and close /widgets/live). The
# connection is closed all the same; no request of the app fails.
SHIELDED_CLOSE_COLLECTED = re.compile(r"Task was destroyed but it is pending!\ntask: <Task pending [^>]*_terminate_graceful_close")
# A PostgreSQL connection of an app of an earlier test in this process, cut when that test's
# database was dropped (WITH (FORCE)) after its app had stopped: asyncpg sets the lost
# connection's waiter to ConnectionError and asyncio reports the future when it is collected,
# during whichever test runs then (seen twice in 1,046 tests, in tests that do not cause it).
# No request of any app fails; where such connections come from is still to be found.
LOST_AFTER_DROP = re.compile(r"Future exception was never retrieved\nfuture: <Future finished exception=ConnectionError\('unexpected connection_lost\(\) call'\)>")


def errors_in_log(text: str) -> list[str]:
    """The errors a server process printed: each traceback (with the line before it, the
    message of `log.exception`, and its last line, the exception) and uvicorn's ERROR lines."""
    lines, found = text.splitlines(), []
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            end = i + 1
            while end < len(lines) and (lines[end].startswith(" ") or not lines[end]):
                end += 1
            before = lines[i - 1] if i else ""
            found.append(f"{before} | {lines[end] if end < len(lines) else ''}")
        elif line.startswith("ERROR:") and not (i + 1 < len(lines) and lines[i + 1].startswith("Traceback")):
            found.append(line)
    return found


@pytest.fixture(autouse=True)
def server_errors(request):
    """Errors the test's apps logged (ERROR records in this process, from TestClient apps and
    anything else) and its server processes printed (make_server adds them); the test fails
    at teardown on any that no `expect_errors` pattern of the test matches."""
    handler, found = _ErrorRecords(), []
    logging.getLogger().addHandler(handler)
    try:
        yield found
    finally:
        logging.getLogger().removeHandler(handler)
    expected = [re.compile(p) for m in request.node.iter_markers("expect_errors") for p in m.args]
    expected += [SHUTDOWN_WITH_STREAMS, SHIELDED_CLOSE_COLLECTED, LOST_AFTER_DROP]
    unexpected = [e for e in handler.texts + found if not any(p.search(e) for p in expected)]
    if unexpected:
        shown = "\n\n".join(e if len(e) < 3000 else e[:1500] + "\n...\n" + e[-1500:] for e in unexpected)
        pytest.fail(
            f"the server logged errors the test did not expect (mark them expect_errors):\n{shown}", pytrace=False
        )
