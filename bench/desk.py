"""Benchmark: from a door screen's "Call service" tap to the alert on the service desk, and
what a spoken sentence costs.

    .venv/bin/python bench/desk.py [--calls 100]

A real `signage serve` process on a temporary SQLite database (in-process events). A
desk's stream (`GET /events/service`, as the desk page follows it) is open; each call is
the door screen's own request (`POST /player/api/rooms/{id}/service`, with its key), and
its time is from sending that request to the desk's `created` message (the request, its
transaction with the event, the `desk` consumer of the event log, the bus, the stream).
Then one sentence rendered by the speech engine the first time, and from the cache.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from booking_api.doors.layouts import create_layout, door_display
from signage import speech
from signage.db import Database
from signage.settings import Settings
from signage.users.store import create_or_update, create_token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def calls(base: str, settings: Settings, n: int) -> list[float]:
    await create_or_update(settings, "admin@bench", "bench-password", "admin")
    await create_or_update(settings, "desk@bench", "bench-password", "service")
    admin = {"Authorization": f"Bearer {await create_token(settings, 'admin@bench')}"}
    staff = {"Authorization": f"Bearer {await create_token(settings, 'desk@bench')}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        room = (await c.post("/api/v1/rooms", json={"name": "Orchid", "capacity": 8}, headers=admin)).json()
        db = Database(settings.db_url)
        try:
            layout_id = await create_layout(db, "Door", door_display(room["id"]), publish=True)
        finally:
            await db.close()
        pair = (await c.post("/player/api/pair")).json()
        claim = {"code": pair["code"], "name": "Door", "layout_id": layout_id}
        assert (await c.post("/api/v1/screens/claim", json=claim, headers=admin)).status_code == 201
        door = {"X-Screen-Key": pair["key"]}
        took = []
        async with c.stream("GET", "/events/service", headers={**staff, "Accept": "text/event-stream"}) as stream:
            lines = stream.aiter_lines()
            assert (await anext(lines)).startswith("event: hello")
            for _ in range(n):
                started = time.perf_counter()
                r = await c.post(f"/player/api/rooms/{room['id']}/service", json={"kind": "tea"}, headers=door)
                assert r.status_code == 200, r.text
                call_id = r.json()["id"]
                while True:
                    line = await anext(lines)
                    if line.startswith("data:") and json.loads(line[5:]).get("id") == call_id:
                        break
                took.append(time.perf_counter() - started)
                await c.post(f"/api/v1/service-calls/{call_id}/done", headers=staff)
    return took


async def voice(settings: Settings) -> tuple[float, float]:
    text = "三号会议室 请求 茶水服务"
    started = time.perf_counter()
    await speech.render(settings, text, "zh_CN")
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        await speech.render(settings, text, "zh_CN")
    return first, (time.perf_counter() - started) / 100


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        settings = Settings(data_dir=data, secret_key="bench")
        env = {**os.environ, "SIGNAGE_DATA_DIR": str(data), "SIGNAGE_SECRET_KEY": "bench", "SIGNAGE_REDIS_URL": ""}
        subprocess.run([sys.executable, "-m", "signage", "db", "upgrade"], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "signage", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            took = sorted(asyncio.run(calls(base, settings, args.calls)))
        finally:
            server.terminate()
            server.wait(10)
        p50 = statistics.median(took) * 1000
        p99 = took[min(len(took) - 1, int(len(took) * 0.99))] * 1000
        print(
            f"door tap → desk alert, {len(took)} calls: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {took[-1] * 1000:.1f} ms"
        )
        first, cached = asyncio.run(voice(settings))
        print(
            f"speech ({settings.speech_engine}), one Chinese sentence: first {first * 1000:.1f} ms, cached {cached * 1000:.3f} ms"
        )


if __name__ == "__main__":
    main()
