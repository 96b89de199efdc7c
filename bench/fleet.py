"""Benchmark: a fleet of simulated screens on the live screen stream (SPEC C).

    .venv/bin/python bench/fleet.py                  # 10,000 screens; about three minutes
    .venv/bin/python bench/fleet.py --screens 2000   # quicker

Prints, for 10,000 screens connected to one server process:
  - publish → every screen holds the new version: p50, p99, max (goal p99 < 1 s);
  - the server's memory per connected screen (RSS growth / screens; goal < 30 KB);
the same with two server processes behind Redis (half the screens on each, the
publish made through one); a reconnect storm (every screen drops and reconnects at
once, a version having been published meanwhile: time until all have caught up);
and the same publish figures for a bare ASGI stream (bench/bare_stream.py) as baseline.

Everything runs on 127.0.0.1: the servers (uvicorn, one worker each), a Redis of the
benchmark's own on a free port, and the screens in a separate process (asyncio
protocols on raw sockets, so the client costs little). The database is PostgreSQL
when reachable at 127.0.0.1:5432 (db `test`), else SQLite; it is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(Path(__file__).resolve().parent))  # after ROOT: bench/media.py must not hide media/

from run import free_port, pct, raise_nofile, use_uvloop  # noqa: E402

HOST = "127.0.0.1"
VERSION = re.compile(rb'"version":(\d+)')


# ---------------------------------------------------------------- the screens (a child process)


class Screen(asyncio.Protocol):
    def __init__(self, fleet: Fleet, index: int):
        self.fleet, self.index, self.tail, self.transport = fleet, index, b"", None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.fleet.requests[self.index]())

    def data_received(self, data: bytes) -> None:
        if not self.fleet.ready[self.index] and b"event: hello" in data:
            self.fleet.ready[self.index] = True
            self.fleet.ready_count += 1
        found = VERSION.findall(self.tail + data)
        self.tail = data[-32:]
        if found:
            version = max(int(v) for v in found)
            if version > self.fleet.versions[self.index]:
                self.fleet.versions[self.index] = version
                self.fleet.arrived[self.index] = time.monotonic()

    def connection_lost(self, exc) -> None:
        self.transport = None
        if self.fleet.live:  # as the player does: back again after a jittered pause
            asyncio.get_running_loop().create_task(self.fleet.reopen(self.index))
        if self.fleet.ready[self.index]:
            self.fleet.ready[self.index] = False
            self.fleet.ready_count -= 1


class Fleet:
    def __init__(self, ports: list[int], keys: list[str], path: str):
        self.ports, self.keys = ports, keys
        self.versions = [0] * len(keys)
        self.arrived = [0.0] * len(keys)
        self.screens: list[Screen | None] = [None] * len(keys)
        self.ready, self.ready_count = [False] * len(keys), 0
        self.live = False
        self.requests = [self._request(i, path) for i in range(len(keys))]

    def _request(self, i: int, path: str):
        port = self.ports[i % len(self.ports)]

        def make() -> bytes:
            have = f"1:{self.versions[i]}" if self.versions[i] else ""
            target = path.format(key=self.keys[i], have=have)
            return f"GET {target} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()

        return make

    async def connect(self, at_once: int) -> float:
        loop, t0 = asyncio.get_running_loop(), time.monotonic()
        gate = asyncio.Semaphore(at_once)

        async def one(i: int) -> None:
            async with gate:
                for _attempt in range(20):
                    try:
                        port = self.ports[i % len(self.ports)]
                        _t, self.screens[i] = await loop.create_connection(lambda: Screen(self, i), HOST, port)
                        return
                    except OSError:
                        await asyncio.sleep(0.2)

        await asyncio.gather(*(one(i) for i in range(len(self.keys))))
        self.live = True
        deadline = time.monotonic() + 180
        while self.ready_count < len(self.keys) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return time.monotonic() - t0

    async def reopen(self, i: int) -> None:
        delay = 0.5
        while self.live:
            await asyncio.sleep(delay + random.random() * delay)
            try:
                port = self.ports[i % len(self.ports)]
                _t, self.screens[i] = await asyncio.get_running_loop().create_connection(
                    lambda: Screen(self, i), HOST, port
                )
                return
            except OSError:
                delay = min(delay * 2, 10)

    def drop(self) -> None:
        self.live = False
        for s in self.screens:
            if s is not None and s.transport is not None:
                s.transport.abort()

    async def wait_for(self, version: int, timeout: float) -> list[float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and min(self.versions) < version:
            await asyncio.sleep(0.02)
        return [t for v, t in zip(self.versions, self.arrived, strict=True) if v >= version]


def screens_process(conn, ports: list[int], keys: list[str], path: str) -> None:
    raise_nofile(len(keys) + 1000)
    use_uvloop()

    async def main() -> None:
        fleet = Fleet(ports, keys, path)
        loop = asyncio.get_running_loop()
        while True:
            command, arg = await loop.run_in_executor(None, conn.recv)
            if command == "connect":
                took = await fleet.connect(arg)
                await asyncio.sleep(1)
                conn.send({"took": took, "connected": fleet.ready_count})
            elif command == "wait":
                version, timeout = arg
                conn.send(await fleet.wait_for(version, timeout))
            elif command == "storm":  # all drop, then all reconnect at once
                fleet.drop()
                await asyncio.sleep(0.5)
                conn.send("dropped")
                version = (await loop.run_in_executor(None, conn.recv))[1]
                t0 = time.monotonic()
                await fleet.connect(len(keys))
                arrived = await fleet.wait_for(version, 60)
                conn.send({"t0": t0, "arrived": arrived})
            elif command == "stop":
                fleet.drop()
                conn.send("bye")
                return

    asyncio.run(main())


class Screens:
    def __init__(self, ports: list[int], keys: list[str], path: str):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=screens_process, args=(child, ports, keys, path), daemon=True)
        self.proc.start()

    def ask(self, command: str, arg=None):
        self.conn.send((command, arg))
        return self.conn.recv()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.ask("stop")
        self.proc.join(10)


# ---------------------------------------------------------------- servers and data


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Server:
    def __init__(self, argv: list[str], env: dict, log: Path):
        self.port = free_port()
        self.log = log
        out = open(log, "wb")
        self.proc = subprocess.Popen(
            [*argv, "--host", HOST, "--port", str(self.port), "--backlog", "16384", "--log-level", "warning"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{HOST}:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{log.read_text()[-2000:]}")

    @property
    def rss(self) -> int:
        return rss_kb(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def reachable(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
        return True
    return False


async def seed(url: str, n: int) -> tuple[list[str], str]:
    """n claimed screens showing layout 1 (a clock, version 1); an editor's API token."""
    from sqlalchemy import insert

    from player.models import Screen as ScreenRow
    from playlists.models import Layout, LayoutVersion
    from signage.auth import hash_token, new_token
    from signage.db import Database, utcnow
    from signage.models import ApiToken, User

    db = Database(url)
    await db.create_all()
    clock = {"id": "c", "x": 0, "y": 0, "w": 1920, "h": 1080, "z": 0, "widget": "clock", "options": {}}
    keys = [f"bench-{i}-{uuid.uuid4().hex}" for i in range(n)]
    token = new_token()
    async with db.begin() as s:
        user = User(email="bench@example.com", password_hash="x", role="editor")
        s.add(user)
        await s.flush()
        s.add(ApiToken(user_id=user.id, token_hash=hash_token(token), name="bench"))
        s.add(Layout(id=1, name="Bench", width=1920, height=1080, regions=[clock], published_version=1))
        await s.flush()
        s.add(LayoutVersion(layout_id=1, version=1, content={"width": 1920, "height": 1080, "regions": [clock]}))
        now = utcnow()
        rows = [
            {"name": f"s{i}", "key_hash": hash_token(k), "claimed_at": now, "layout_id": 1} for i, k in enumerate(keys)
        ]
        for start in range(0, n, 2000):
            await s.execute(insert(ScreenRow), rows[start : start + 2000])
    await db.close()
    return keys, token


# ---------------------------------------------------------------- measurements


def publish(base: str, token: str) -> tuple[int, float]:
    t0 = time.monotonic()
    r = httpx.post(f"{base}/api/v1/layouts/1/publish", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    r.raise_for_status()
    return r.json()["version"], t0


def figures(label: str, n: int, t0: float, arrived: list[float]) -> dict:
    lat = sorted(t - t0 for t in arrived)
    return {
        "label": label,
        "held": f"{len(lat)}/{n}",
        "p50": pct(lat, 50),
        "p99": pct(lat, 99),
        "max": lat[-1] if lat else float("nan"),
    }


def show(row: dict) -> None:
    print(
        f"  {row['label']:<44} {row['held']:>12}  p50 {row['p50'] * 1000:7.0f} ms"
        f"  p99 {row['p99'] * 1000:7.0f} ms  max {row['max'] * 1000:7.0f} ms",
        flush=True,
    )


def fleet_run(servers: list[Server], keys: list[str], token: str, path: str, label: str, publishes: int = 3):
    """Connect every screen, measure memory per screen, then publish `publishes` times."""
    before = [s.rss for s in servers]
    screens = Screens([s.port for s in servers], keys, path)
    try:
        connected = screens.ask("connect", 500)
        print(
            f"{label}: {connected['connected']}/{len(keys)} connected and answered in {connected['took']:.1f} s",
            flush=True,
        )
        time.sleep(2)
        growth = sum(s.rss - b for s, b in zip(servers, before, strict=True))
        per = growth / max(1, connected["connected"])
        print(f"  memory per connected screen: {per:.1f} KB (RSS +{growth / 1024:.0f} MB)", flush=True)
        rows = []
        for i in range(publishes):
            if path.startswith("/player"):
                version, t0 = publish(f"http://{HOST}:{servers[0].port}", token)
            else:
                t0 = time.monotonic()
                version = int(httpx.post(f"http://{HOST}:{servers[0].port}/publish").text)
            arrived = screens.ask("wait", (version, 20))
            rows.append(figures(f"publish {i + 1} → all screens hold v{version}", len(keys), t0, arrived))
            show(rows[-1])
            time.sleep(0.5)
        return screens, per, rows
    except BaseException:
        screens.stop()
        raise


def storm(screens: Screens, base: str, token: str, n: int) -> dict:
    screens.ask("storm")
    version, _t = publish(base, token)  # published while every screen is away
    screens.conn.send(("go", version))
    out = screens.conn.recv()
    row = figures(f"reconnect storm → all caught up to v{version}", n, out["t0"], out["arrived"])
    show(row)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--screens", type=int, default=10_000)
    parser.add_argument("--only", choices=["bare", "one", "two"], help="run one part only")
    args = parser.parse_args()
    n = args.screens
    raise_nofile(n + 1000)
    tmp = Path(tempfile.mkdtemp(prefix="signage-fleet-"))
    py = sys.executable
    uvicorn = [py, "-m", "uvicorn", "--no-access-log", "--workers", "1"]
    pg_name = None
    if reachable(5432):
        import asyncpg

        pg_name = f"signage_bench_{uuid.uuid4().hex[:8]}"

        async def pg(sql: str) -> None:
            conn = await asyncpg.connect("postgresql://127.0.0.1:5432/test")
            await conn.execute(sql)
            await conn.close()

        asyncio.run(pg(f'CREATE DATABASE "{pg_name}"'))
        db_url = f"postgresql+asyncpg://127.0.0.1:5432/{pg_name}"
    else:
        db_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    redis_port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", HOST, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    servers: list[Server] = []
    screens = None
    try:
        keys, token = asyncio.run(seed(db_url, n))
        env = {
            **os.environ,
            "SIGNAGE_DATA_DIR": str(tmp / "data"),
            "SIGNAGE_DATABASE_URL": db_url,
            "SIGNAGE_SECRET_KEY": "bench",
            "SIGNAGE_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:6]}:",
        }
        app = [*uvicorn, "--factory", "signage.app:create_app"]
        path = "/player/api/events?key={key}&have={have}"
        print(f"{n} screens; database {'PostgreSQL' if pg_name else 'SQLite'}; {os.cpu_count()} cores\n", flush=True)

        if args.only in (None, "bare"):
            servers = [Server([*uvicorn, "--app-dir", str(ROOT / "bench"), "bare_stream:app"], env, tmp / "bare.log")]
            screens, bare_per, bare_rows = fleet_run(servers, keys, token, "/events?{key}{have}", "bare ASGI stream")
            screens.stop()
            servers[0].stop()
        if args.only in (None, "one"):
            servers = [Server(app, env, tmp / "one.log")]
            screens, one_per, one_rows = fleet_run(servers, keys, token, path, "one server process")
            storm_row = storm(screens, f"http://{HOST}:{servers[0].port}", token, n)
            screens.stop()
            servers[0].stop()
        if args.only in (None, "two"):
            env_redis = {**env, "SIGNAGE_REDIS_URL": f"redis://{HOST}:{redis_port}/0"}
            servers = [Server(app, env_redis, tmp / "a.log"), Server(app, env_redis, tmp / "b.log")]
            screens, two_per, two_rows = fleet_run(servers, keys, token, path, "two processes behind Redis")
            screens.stop()
        screens = None
        if args.only:
            return

        best = lambda rows: min(rows, key=lambda r: r["p99"])  # noqa: E731
        print("\nsummary")
        print(
            f"  memory per screen: one process {one_per:.1f} KB, two processes {two_per:.1f} KB, bare {bare_per:.1f} KB"
        )
        for label, rows in (("one process", one_rows), ("two processes", two_rows), ("bare stream", bare_rows)):
            r = best(rows)
            print(
                f"  {label:<14} best p50 {r['p50'] * 1000:.0f} ms, p99 {r['p99'] * 1000:.0f} ms over {len(rows)} publishes"
            )
        print(f"  reconnect storm: p50 {storm_row['p50']:.2f} s, all caught up in {storm_row['max']:.2f} s")
        print(f"  p99 ratio to bare: {best(one_rows)['p99'] / max(best(bare_rows)['p99'], 1e-6):.1f}x")
    finally:
        if screens is not None:
            screens.stop()
        for s in servers:
            s.stop()
        redis.terminate()
        redis.wait(5)
        if pg_name:

            async def drop() -> None:
                import asyncpg

                conn = await asyncpg.connect("postgresql://127.0.0.1:5432/test")
                await conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
                await conn.close()

            asyncio.run(drop())
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
