"""Benchmark: bookings created per second under 50 concurrent clients, ours vs a bare
Starlette endpoint in the same run, on SQLite and PostgreSQL; the availability of a day
for 1,000 rooms; and how soon a committed booking reaches a live reader of the event log.

    .venv/bin/python bench/booking.py [--clients 50] [--seconds 8] [--rounds 4] [--rooms 1000]
                                      [--history-days 100] [--backends sqlite,postgresql]
                                      [--delivery-seconds 4]

Servers are uvicorn processes (one worker, no access log) on 127.0.0.1, all started first,
then loaded in alternating rounds (bare, SQLite, PostgreSQL, bare, ...); the clients
speak raw keep-alive HTTP/1.1 on asyncio streams (httpx's pool would be the bottleneck).
Every request books a distinct free slot, so each answer is a real 201 with its write,
and its `booking.created` event (the event log is always on).

Delivery: a child process holds `GET /api/v1/events` open as a stream (Accept:
text/event-stream) while the same 50 clients post bookings; for every event it reads,
the time from the event's `at` (written in the booking's transaction, just before its
commit) to the moment the client has read it: commit, the dispatcher's "live" consumer,
the bus and the stream's read of the log. p50, p99 and max over every event.
PostgreSQL is used when 127.0.0.1:5432 answers (database `bench_booking_<random>`, dropped after).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PY = sys.executable
TZ = ZoneInfo("Asia/Shanghai")
UVICORN = ["--workers", "1", "--log-level", "warning", "--no-access-log", "--host", HOST]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start(argv: list[str], env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [*argv, *UVICORN, "--port", str(port)], env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start:\n" + log.read_text()[-3000:])


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def cli(env: dict, *args: str) -> str:
    out = subprocess.run([PY, "-m", "signage", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if out.returncode:
        raise RuntimeError(out.stdout + out.stderr)
    return out.stdout.strip()


def slot_body(k: int, rooms: list[int]) -> bytes:
    """Request k books room k % len(rooms), its (k // len(rooms))-th 15-minute slot from tomorrow 00:00 on."""
    day = dt.datetime.now(TZ).date() + dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(), TZ) + dt.timedelta(minutes=15 * (k // len(rooms)))
    body = {
        "room_id": rooms[k % len(rooms)],
        "title": f"bench {k}",
        "start": start.isoformat(),
        "end": (start + dt.timedelta(minutes=15)).isoformat(),
    }
    return json.dumps(body).encode()


async def post(reader, writer, path: str, header: str, body: bytes) -> str:
    """One JSON POST on a keep-alive connection (raw HTTP/1.1); its status, the answer read and dropped."""
    return (await post_answer(reader, writer, path, header, body))[0]


async def post_answer(reader, writer, path: str, header: str, body: bytes) -> tuple[str, bytes]:
    """One JSON POST on a keep-alive connection (raw HTTP/1.1); its status and its answer."""
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\n{header}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
    )
    status = (await reader.readline())[9:12].decode()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def post_load(
    url: str, token: str, rooms: list[int], clients: int, seconds: float, first: int = 0, answered=None
) -> dict:
    """`clients` connections POST bookings in a loop for `seconds`; counts 201s and anything else
    (and with `answered`, a dict, notes there when each booking's 201 was read: id → time.time())."""
    port = int(url.rsplit(":", 1)[1])
    counter = iter(range(first, 10**9))
    stop_at = time.perf_counter() + seconds
    ok, other = 0, {}

    async def worker() -> None:
        nonlocal ok
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < stop_at:
                body = slot_body(next(counter), rooms)
                status, answer = await post_answer(
                    reader, writer, "/api/v1/bookings", f"Authorization: Bearer {token}", body
                )
                if status == "201":
                    ok += 1
                    if answered is not None:
                        answered[json.loads(answer)["id"]] = time.time()
                else:
                    other[status] = other.get(status, 0) + 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - t0
    return {"per_second": ok / elapsed, "created": ok, "other": other}


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    if not values:
        return float("nan")
    return values[max(0, min(len(values) - 1, int(round(p / 100 * len(values) + 0.5)) - 1))]


def stream_child(port: int, token: str, after: int, ready, stop, conn) -> None:
    """Reads `GET /api/v1/events?after=…` as a stream; sends back (read at, event at, booking id) per event."""
    got: list[tuple[float, float, int]] = []
    problems: list[str] = []

    async def read() -> None:
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
        writer.write(
            f"GET /api/v1/events?after={after} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        status = await reader.readline()
        if b" 200 " not in status:
            problems.append(status.decode(errors="replace").strip())
            return
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        ready.set()
        while not stop.is_set():
            try:
                line = await asyncio.wait_for(reader.readline(), 0.2)
            except TimeoutError:
                continue
            if not line:
                problems.append("stream closed by the server")
                return
            if line.startswith(b"data:"):
                now = time.time()
                event = json.loads(line[5:])
                got.append((now, dt.datetime.fromisoformat(event["at"]).timestamp(), event["data"].get("id")))
        writer.close()

    try:
        asyncio.run(read())
    finally:
        conn.send({"got": got, "problems": problems})
        conn.close()


def delivery(target: Target, clients: int, seconds: float) -> dict:
    """Bookings posted by `clients` for `seconds` while a stream of the event log is read:
    per event, the time from its `at` (in the committing transaction) to the stream's read."""
    after = httpx.get(target.url + "/healthz", timeout=10).json()["event_log"]["last_event"]
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    parent, child_conn = ctx.Pipe(duplex=False)
    child = ctx.Process(target=stream_child, args=(int(target.url.rsplit(":", 1)[1]), target.token, after, ready, stop, child_conn))  # fmt: skip
    child.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the event stream did not open")
        answered: dict[int, float] = {}
        result = asyncio.run(
            post_load(target.url, target.token, target.rooms, clients, seconds, first=target.next, answered=answered)
        )
        target.next += result["created"] + sum(result["other"].values()) + clients
        time.sleep(1.0)  # the last commits' events reach the stream
    finally:
        stop.set()
        got = parent.recv() if parent.poll(30) else {"got": [], "problems": ["no answer from the stream reader"]}
        child.join(10)
        if child.is_alive():
            child.terminate()
    late = sorted((read - at) * 1000 for read, at, _id in got["got"])
    # the 201 is read after the commit: from it, a lower bound (negative when the stream was first)
    after_answer = sorted((read - answered[i]) * 1000 for read, _at, i in got["got"] if i in answered)
    return {
        "events": len(late),
        "created": result["created"],
        "per_second": result["per_second"],
        "p50_ms": pct(late, 50),
        "p99_ms": pct(late, 99),
        "max_ms": late[-1] if late else float("nan"),
        "answer_p50_ms": pct(after_answer, 50),
        "answer_p99_ms": pct(after_answer, 99),
        "problems": got["problems"],
        "other": result["other"],
    }


def seed_rooms(db_url: str, count: int, history_days: int = 0) -> list[int]:
    """`count` rooms, two meetings in each tomorrow afternoon, and one meeting a day in
    each over the past `history_days` (what years of use leave behind), written directly."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import insert

    from booking_api.models import Booking, Room
    from signage.db import Database, all_models

    all_models()

    async def write() -> list[int]:
        db = Database(db_url)
        try:
            async with db.begin() as s:
                rows = [
                    {
                        "name": f"Room {i:04d}",
                        "floor": f"{i % 20 + 1}F",
                        "capacity": 4 + i % 16,
                        "equipment": ["tv"] if i % 3 else [],
                    }
                    for i in range(count)
                ]
                ids = [r[0] for r in await s.execute(insert(Room).returning(Room.id), rows)]
                day = dt.datetime.now(TZ).date() + dt.timedelta(days=1)
                bookings = []
                for n, rid in enumerate(ids):
                    for hour in (14 + n % 3, 18):
                        start = dt.datetime.combine(day, dt.time(hour), TZ).astimezone(dt.UTC)
                        end = start + dt.timedelta(minutes=45)
                        bookings.append(
                            Booking(
                                room_id=rid,
                                title="seeded",
                                organizer_id=None,
                                start_at=start,
                                end_at=end,
                                blocked_until=end,
                            )
                        )
                s.add_all(bookings)
                now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
                for back in range(1, history_days + 1):
                    rows = []
                    for n, rid in enumerate(ids):
                        start = now - dt.timedelta(days=back, hours=n % 8)
                        end = start + dt.timedelta(hours=1)
                        rows.append(
                            {"room_id": rid, "title": "past", "organizer_id": None, "start_at": start, "end_at": end,
                             "blocked_until": end, "status": "confirmed", "created_at": start, "updated_at": start}
                        )  # fmt: skip
                    await s.execute(insert(Booking), rows)
            return ids
        finally:
            await db.close()

    return asyncio.run(write())


def availability_ms(url: str, token: str, repeat: int = 20) -> tuple[float, int]:
    day = (dt.datetime.now(TZ).date() + dt.timedelta(days=1)).isoformat()
    times, rooms = [], 0
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        c.get(f"{url}/api/v1/availability", params={"date": day})  # warm
        for _ in range(repeat):
            t0 = time.perf_counter()
            r = c.get(f"{url}/api/v1/availability", params={"date": day})
            times.append((time.perf_counter() - t0) * 1000)
            rooms = len(r.json()["rooms"])
    return statistics.median(times), rooms


def pg_database() -> tuple[str, callable] | None:
    try:
        socket.create_connection((HOST, 5432), timeout=1).close()
    except OSError:
        return None
    import asyncpg

    name = f"bench_booking_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(f"postgresql://{HOST}:5432/test")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    return f"postgresql+asyncpg://{HOST}:5432/{name}", lambda: asyncio.run(
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    )


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time so far of this machine's PostgreSQL processes (server, backends, writers)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        if text.split(" (", 1)[1].startswith("postgres"):
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class Target:
    """A server under load, with what the rounds measured of it."""

    def __init__(self, name: str, url: str, token: str, rooms: list[int], proc, drop=None):
        self.name, self.url, self.token, self.rooms, self.proc, self.drop = name, url, token, rooms, proc, drop
        self.created, self.seconds, self.other, self.next, self.cpu, self.pg_cpu = 0, 0.0, {}, 0, 0.0, 0.0

    def load(self, clients: int, seconds: float) -> None:
        t0, cpu0, pg0 = time.perf_counter(), cpu_seconds(self.proc.pid), postgres_cpu_seconds()
        result = asyncio.run(post_load(self.url, self.token, self.rooms, clients, seconds, first=self.next))
        self.seconds += time.perf_counter() - t0
        self.cpu += cpu_seconds(self.proc.pid) - cpu0
        self.pg_cpu += postgres_cpu_seconds() - pg0
        self.created += result["created"]
        self.next += result["created"] + sum(result["other"].values()) + clients  # fresh slots next round
        for k, v in result["other"].items():
            self.other[k] = self.other.get(k, 0) + v

    @property
    def cpu_per_booking(self) -> float:
        """Microseconds of the server process's CPU (all its threads) per booking made."""
        return self.cpu / self.created * 1e6 if self.created else 0.0

    @property
    def rate(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0

    def close(self) -> None:
        stop(self.proc)
        if self.drop:
            self.drop()


def start_backend(backend: str, args, tmp: Path) -> Target | None:
    drop = None
    if backend == "postgresql":
        found = pg_database()
        if found is None:
            print("postgresql: not reachable, skipped")
            return None
        db_url, drop = found
    else:
        db_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    env = {
        **os.environ,
        "SIGNAGE_DATA_DIR": str(tmp / backend),
        "SIGNAGE_DATABASE_URL": db_url,
        "SIGNAGE_SECRET_KEY": "bench",
        "SIGNAGE_REDIS_URL": "",
    }
    try:
        cli(env, "db", "upgrade")
        cli(env, "user", "create", "--email", "bench@example.com", "--password", "benchmark", "--role", "member")
        token = cli(env, "token", "create", "--email", "bench@example.com")
        rooms = seed_rooms(db_url, args.rooms, args.history_days)
        proc, url = start([PY, "-m", "uvicorn", "signage.app:create_app", "--factory"], env, tmp / f"{backend}.log")
    except BaseException:
        if drop:
            drop()
        raise
    return Target(backend, url, token, rooms, proc, drop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8, help="load per server, split over the rounds")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--history-days", type=int, default=100, help="past days of bookings in every room")
    parser.add_argument("--delivery-seconds", type=float, default=4, help="load while the event stream is read")
    args = parser.parse_args()
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="bench-booking-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            proc, url = start(
                [PY, "-m", "uvicorn", "--app-dir", "bench", "bare_booking:app"], dict(os.environ), tmp / "bare.log"
            )
            targets.append(Target("bare", url, "x", list(range(1, 1001)), proc))
            for backend in args.backends.split(","):
                if (target := start_backend(backend.strip(), args, tmp)) is not None:
                    targets.append(target)
            availability = {t.name: availability_ms(t.url, t.token) for t in targets[1:]}
            for t in targets:  # warm-up, slots of their own
                asyncio.run(post_load(t.url, t.token, t.rooms, args.clients, 1.0, first=10**6))
            # Rounds alternate between the servers, so a slower moment of this shared machine
            # falls on all of them alike rather than on whichever ran then.
            for _round in range(args.rounds):
                for t in targets:
                    t.load(args.clients, args.seconds / args.rounds)
            delivered = {t.name: delivery(t, args.clients, args.delivery_seconds) for t in targets[1:]}
        finally:
            for t in targets:
                t.close()
    bare = targets[0]
    print(
        f"{'bare':>10}: {bare.rate:7.0f} bookings/s (bare Starlette, same client, {args.clients} clients); "
        f"server CPU {bare.cpu_per_booking:.0f} µs per request"
    )
    for t in targets[1:]:
        ms, seen = availability[t.name]
        print(
            f"{t.name:>10}: {t.rate:7.0f} bookings/s ({t.created} created, other answers {t.other or 'none'}); "
            f"ratio to bare {t.rate / bare.rate:.2f} (goal ≥ 0.25); server CPU {t.cpu_per_booking:.0f} µs per booking"
        )
        if t.name == "postgresql":
            print(f"{'':>10}  PostgreSQL's own CPU: {t.pg_cpu / max(t.created, 1) * 1e6:.0f} µs per booking")
        print(
            f"{'':>10}  availability of {seen} rooms: median {ms:.1f} ms (goal < 50 ms), "
            f"with {args.history_days} past days of bookings in every room"
        )
        d = delivered[t.name]
        print(
            f"{'':>10}  commit→event stream: p50 {d['p50_ms']:.0f} ms, p99 {d['p99_ms']:.0f} ms, "
            f"max {d['max_ms']:.0f} ms (201 read→event read: p50 {d['answer_p50_ms']:.0f} ms, "
            f"p99 {d['answer_p99_ms']:.0f} ms); {d['events']} events read of {d['created']} bookings made"
        )
        print(
            f"{'':>10}  meanwhile {d['per_second']:.0f} bookings/s by {args.clients} clients, "
            f"other answers {d['other'] or 'none'}{'; stream: ' + str(d['problems']) if d['problems'] else ''}"
        )


if __name__ == "__main__":
    main()
