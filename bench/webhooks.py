"""Benchmark: webhook deliveries per second from one server process to a local receiver, and
the time from a booking to its signed delivery (p50, p99), on SQLite and PostgreSQL.

    .venv/bin/python bench/webhooks.py [--deliveries 2000] [--bookings 200] [--interval 0.05]
                                       [--backends sqlite,postgresql]

The server is one `signage serve` process (SIGNAGE_WEBHOOK_ALLOW_PRIVATE=1); the receiver is
an asyncio HTTP server in this process that checks every signature with the
`standardwebhooks` library before answering 200 (as an OA would).

Throughput: `--deliveries` messages are queued for a paused subscription (written straight
into the delivery table), then the subscription is turned on (`PATCH {"enabled": true}`):
deliveries/s is their count over the time until the receiver has them all (one subscription:
its messages leave in order, one after the other).

Latency: `--bookings` bookings are made one after another through the API, `--interval`
apart (so each is timed on its own, not behind a queue); for each, the time from sending
`POST /api/v1/bookings` to the receiver having its signed `booking.created`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    def __init__(self):
        self.port, self.arrived, self.secret, self.bad = free_port(), {}, "", 0
        self.count = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                try:
                    data = Webhook(self.secret).verify(body, headers)
                except Exception:
                    self.bad += 1
                    data = None
                now = time.perf_counter()
                self.count += 1
                if data and data["type"] == "booking.created":
                    self.arrived[data["data"]["title"]] = now
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()


def start_server(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "signage", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code in (200, 503):
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(log.read_text()[-2000:])


async def queue_paused(settings, endpoint_id: int, n: int) -> None:
    from signage.db import Database
    from signage.webhooks.deliveries import body_of
    from signage.webhooks.models import Delivery

    db = Database(settings.db_url)
    async with db.begin() as s:
        now = dt.datetime.now(dt.UTC)
        s.add_all(
            Delivery(endpoint_id=endpoint_id, msg_id=f"bench_{i}", type="webhook.test",
                     body=body_of("webhook.test", now, {"n": i, "padding": "x" * 200}))
            for i in range(n)
        )  # fmt: skip
    await db.close()


async def bench(backend: str, args) -> dict:
    from signage.settings import Settings
    from signage.users.store import create_or_update, create_token

    tmp = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    pg_name = None
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'signage.db'}"
    else:
        import asyncpg

        pg_name = f"bench_webhooks_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect("postgresql://127.0.0.1:5432/test")
        await conn.execute(f'CREATE DATABASE "{pg_name}"')
        await conn.close()
        url = f"postgresql+asyncpg://127.0.0.1:5432/{pg_name}"
    env = {**os.environ, "SIGNAGE_DATA_DIR": str(tmp), "SIGNAGE_DATABASE_URL": url, "SIGNAGE_SECRET_KEY": "bench",
           "SIGNAGE_WEBHOOK_ALLOW_PRIVATE": "1", "SIGNAGE_DEFAULT_LOCALE": "en"}  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "signage", "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    settings = Settings(data_dir=tmp, database_url=url, secret_key="bench")
    await create_or_update(settings, "bench@example.com", "bench password 1", "admin")
    headers = {"Authorization": f"Bearer {await create_token(settings, 'bench@example.com')}"}
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", receiver.port)
    proc, base = start_server(env, tmp / "server.log")
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            room = (await http.post("/api/v1/rooms", json={"name": "Bench", "capacity": 8})).json()
            hook = {"url": f"http://127.0.0.1:{receiver.port}/hooks", "events": ["booking.created"]}
            made = (await http.post("/api/v1/webhooks", json=hook)).json()
            receiver.secret = made["secret"]
            await http.patch(f"/api/v1/webhooks/{made['id']}", json={"enabled": False})
            await queue_paused(settings, made["id"], args.deliveries)
            started = time.perf_counter()
            await http.patch(f"/api/v1/webhooks/{made['id']}", json={"enabled": True})
            while receiver.count < args.deliveries:
                await asyncio.sleep(0.01)
            rate = args.deliveries / (time.perf_counter() - started)

            sent: dict[str, float] = {}
            answered: list[float] = []
            day = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=2)
            for i in range(args.bookings):
                start = day + dt.timedelta(minutes=30 * i)
                title = f"B{i}"
                sent[title] = time.perf_counter()
                r = await http.post("/api/v1/bookings", json={"room_id": room["id"], "title": title,
                                    "start": start.isoformat(), "end": (start + dt.timedelta(minutes=25)).isoformat()})  # fmt: skip
                assert r.status_code == 201, r.text
                answered.append(time.perf_counter() - sent[title])
                await asyncio.sleep(args.interval)  # apart: each one's own delay, not a queue's
            deadline = time.perf_counter() + 60
            while len(receiver.arrived) < args.bookings and time.perf_counter() < deadline:
                await asyncio.sleep(0.01)
        waits = sorted((receiver.arrived[t] - sent[t]) * 1000 for t in sent if t in receiver.arrived)
        return {
            "backend": backend,
            "deliveries_per_s": round(rate),
            "booking_to_delivery_ms": {
                "p50": round(statistics.median(waits), 1),
                "p99": round(waits[int(len(waits) * 0.99) - 1], 1),
                "max": round(waits[-1], 1),
                "n": len(waits),
            },
            "booking_answer_ms_p50": round(statistics.median(answered) * 1000, 1),
            "bad_signatures": receiver.bad,
        }
    finally:
        proc.terminate()
        proc.wait(10)
        server.close()
        if pg_name:
            import asyncpg

            conn = await asyncpg.connect("postgresql://127.0.0.1:5432/test")
            await conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between bookings")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "postgresql":
            try:
                socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
            except OSError:
                print("postgresql: not reachable, skipped")
                continue
        print(json.dumps(asyncio.run(bench(backend, args))))


if __name__ == "__main__":
    main()
