"""Benchmark: the write load of a fleet's heartbeats and acks (SPEC A8, C).

    .venv/bin/python bench/heartbeats.py [--screens 10000] [--clients 50] [--seconds 6] [--backends sqlite,postgresql]

10,000 screens send a heartbeat a minute (167 a second) and, after every publish, two
acks each (received, applied): 20,000 writes within seconds. This measures how many
of those reports a server process stores per second when 50 connections send them
as fast as they can, ours against a bare Starlette endpoint in the same run (it reads
the JSON body and answers, no database), and from that how long the acks of one
publish to the whole fleet take to be stored. Each answered report is committed
(`player/seen.py` batches them; a request returns once its batch is stored).

Servers are uvicorn processes (one worker, no access log); the load client is the one of
bench/booking.py (raw keep-alive HTTP/1.1). PostgreSQL is used when 127.0.0.1:5432 answers.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))
from booking import HOST, PY, ROOT, cli, pg_database, post, start, stop  # noqa: E402

HEARTBEAT_SECONDS = 60


async def load(url: str, path: str, keys: list[str], body, clients: int, seconds: float) -> dict:
    """`clients` connections POST `body(n)` to `path` with a random screen's key, for `seconds`."""
    port = int(url.rsplit(":", 1)[1])
    stop_at = time.perf_counter() + seconds
    ok, other, n = 0, {}, 0

    async def worker() -> None:
        nonlocal ok, n
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < stop_at:
                n += 1
                data = json.dumps(body(n)).encode()
                status = await post(reader, writer, path, f"X-Screen-Key: {random.choice(keys)}", data)
                if status == "200":
                    ok += 1
                else:
                    other[status] = other.get(status, 0) + 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return {"per_second": ok / (time.perf_counter() - t0), "other": other}


def seed_screens(db_url: str, count: int) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import insert

    from player.models import Screen
    from signage.db import Database, all_models

    all_models()
    keys = [f"bench-screen-{i}" for i in range(count)]

    async def write() -> None:
        db = Database(db_url)
        try:
            async with db.begin() as s:
                await s.execute(
                    insert(Screen),
                    [
                        {"name": f"Screen {i}", "key_hash": hashlib.sha256(k.encode()).hexdigest()}
                        for i, k in enumerate(keys)
                    ],
                )
        finally:
            await db.close()

    asyncio.run(write())
    return keys


def heartbeat(n: int) -> dict:
    return {"resolution": "1920x1080", "player_version": "bench"}


def ack(n: int) -> dict:
    return {"version": n % 1000 + 1, "layout": "1"} if n % 2 else {"received": n % 1000 + 1}


def run_backend(backend: str, args, tmp: Path, bare: float) -> None:
    drop = None
    if backend == "postgresql":
        found = pg_database()
        if found is None:
            print("postgresql: not reachable, skipped")
            return
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
        keys = seed_screens(db_url, args.screens)
        proc, url = start([PY, "-m", "uvicorn", "signage.app:create_app", "--factory"], env, tmp / f"{backend}.log")
        try:
            asyncio.run(load(url, "/player/api/heartbeat", keys, heartbeat, args.clients, 1.0))
            beats = asyncio.run(load(url, "/player/api/heartbeat", keys, heartbeat, args.clients, args.seconds))
            acks = asyncio.run(load(url, "/player/api/ack", keys, ack, args.clients, args.seconds))
        finally:
            stop(proc)
    finally:
        if drop:
            drop()
    need = args.screens / HEARTBEAT_SECONDS
    print(
        f"{backend:>10}: heartbeats {beats['per_second']:6.0f}/s (ratio to bare {beats['per_second'] / bare:.2f}); "
        f"acks {acks['per_second']:6.0f}/s (ratio {acks['per_second'] / bare:.2f}); other answers "
        f"{({**beats['other'], **acks['other']}) or 'none'}"
    )
    print(
        f"{'':>10}  {args.screens:,} screens need {need:.0f} heartbeats/s: {need / beats['per_second']:.0%} of what one "
        f"process stores; the {2 * args.screens:,} acks of one publish are stored in "
        f"{2 * args.screens / acks['per_second']:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screens", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-heartbeats-") as tmp_name:
        tmp = Path(tmp_name)
        proc, url = start(
            [PY, "-m", "uvicorn", "--app-dir", "bench", "bare_booking:app"], dict(os.environ), tmp / "bare.log"
        )
        try:
            asyncio.run(load(url, "/player/api/heartbeat", ["x"], heartbeat, args.clients, 1.0))
            bare = asyncio.run(load(url, "/player/api/heartbeat", ["x"], heartbeat, args.clients, args.seconds))
        finally:
            stop(proc)
        print(
            f"{'bare':>10}: {bare['per_second']:6.0f}/s (bare Starlette: reads the JSON body, answers; {args.clients} clients)"
        )
        for backend in args.backends.split(","):
            run_backend(backend.strip(), args, tmp, bare["per_second"])


if __name__ == "__main__":
    main()
