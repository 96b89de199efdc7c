"""Fixtures: real SQLite and PostgreSQL, real Redis, real server processes.

- `backend`: every test that asks for an app runs on "sqlite" and on "postgresql".
  PostgreSQL and Redis are used whenever reachable; without them those cases skip,
  unless SIGNAGE_TEST_REQUIRE_SERVICES=1 (as in CI), where they fail.
- `make_client(**settings)`: a TestClient on a fresh database of the current backend.
- `client`: one made with defaults. `login(client, role)` signs in a new user.
- `make_server(**env)`: a real `signage serve` process on a free port.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from signage.app import create_app
from signage.db import Database
from signage.settings import Settings
from signage.users import create_or_update

PG_ADMIN = "postgresql://127.0.0.1:5432/test"
PG_URL = "postgresql+asyncpg://127.0.0.1:5432/{db}"
REDIS_URL = os.environ.get("SIGNAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Each test run its own Redis channels, so runs side by side never hear each other.
os.environ.setdefault("SIGNAGE_REDIS_PREFIX", f"signage-test-{uuid.uuid4().hex[:8]}:")
REQUIRE = os.environ.get("SIGNAGE_TEST_REQUIRE_SERVICES") == "1"
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
    from signage.users import create_token

    token = run_sync(create_token(settings, make_user(settings, role)))
    return {"Authorization": f"Bearer {token}"}


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need(service: str, host: str, port: int) -> None:
    if not reachable(host, port):
        if REQUIRE:
            pytest.fail(f"{service} at {host}:{port} is required (SIGNAGE_TEST_REQUIRE_SERVICES=1) but not reachable")
        pytest.skip(f"{service} at {host}:{port} not reachable")


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
    need("Redis", "127.0.0.1", 6379)
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


@pytest.fixture
def database_url(backend, tmp_path, request):
    """A fresh, empty database with every table, on the current backend."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'signage.db'}"
        create_tables(url)
        yield url
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

    def start(self, timeout: float = 20) -> Server:
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
def make_server(database_url, tmp_path):
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


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> dict:
    """One small test video per kind in tests/videos.py KINDS, made once per run."""
    from videos import KINDS, make_video

    folder = tmp_path_factory.mktemp("videos")
    return {name: make_video(folder / name, options) for name, (options, _transcode) in KINDS.items()}


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
