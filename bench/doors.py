"""Benchmark: what a door screen costs the server, and what the room timer costs.

    .venv/bin/python -P bench/doors.py [--rooms 500] [--per-room 8]   # -P: bench/media.py is not the media package

In-process on a temporary SQLite database: every room has `--per-room` meetings
today (one in progress, one with check-in open, the rest later). Figures:

- door render: `load_status` + the room-status body (with its QR code), per room,
  against a bare baseline measured in the same run (one `session.get(Room)` per room),
  through an ORM session and through the read path (`Database.reads()`, what the live door
  screen uses);
  a door screen is re-rendered on every change of its room and every 30 s;
- timer tick: releasing no-shows, ending absent meetings and finding the next boundary
  across every room (what each process does at every boundary).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
from pathlib import Path

from booking_api.doors.roomstate import end_absent_meetings, load_status, next_boundary, release_no_shows
from booking_api.models import Booking, Room
from signage import clock
from signage.db import Database
from signage.settings import Settings
from widgets import room_status


async def fill(db: Database, rooms: int, per_room: int) -> list[int]:
    now = clock.now().replace(second=0, microsecond=0)
    async with db.begin() as s:
        made = [Room(name=f"Room {i}", floor=f"{i % 20}F", capacity=8) for i in range(rooms)]
        s.add_all(made)
        await s.flush()
        for room in made:
            for k in range(per_room):
                start = now - dt.timedelta(minutes=20) + dt.timedelta(minutes=30 * k)
                end = start + dt.timedelta(minutes=25)
                s.add(
                    Booking(
                        room_id=room.id,
                        title=f"Meeting {k}",
                        organizer_id=None,
                        start_at=start,
                        end_at=end,
                        blocked_until=end,
                        status="confirmed",
                    )
                )
        return [r.id for r in made]


async def timed(fn, ids) -> float:
    started = time.perf_counter()
    for room_id in ids:
        await fn(room_id)
    return (time.perf_counter() - started) / len(ids)


async def main(rooms: int, per_room: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="bench")
        db = Database(settings.db_url)
        await db.create_all()
        ids = await fill(db, rooms, per_room)

        async def bare(room_id):
            async with db.session() as s:
                await s.get(Room, room_id)

        async def door(room_id):
            async with db.session() as s:
                await room_status.body(
                    room_status.RoomStatusOptions(room_id=room_id),
                    s,
                    settings,
                    clock.now(),
                    lambda b: f"https://signage.example/m/checkin/{b}",
                )

        async def door_read_path(room_id):  # what the live door screen does (booking_api/doors/live.py)
            async with db.reads() as s:
                await room_status.body(
                    room_status.RoomStatusOptions(room_id=room_id),
                    s,
                    settings,
                    clock.now(),
                    lambda b: f"https://signage.example/m/checkin/{b}",
                )

        async def status_only(room_id):
            async with db.session() as s:
                await load_status(s, await s.get(Room, room_id), clock.now(), settings)

        await door(ids[0])  # templates compiled, caches warm
        base = await timed(bare, ids)
        state = await timed(status_only, ids)
        render = await timed(door, ids)  # each room's QR code made once
        warm = await timed(door, ids)  # a refresh within 30 s: the same code, cached
        read_path = await timed(door_read_path, ids)
        started = time.perf_counter()
        now = clock.now()
        released = await release_no_shows(db, now, settings)
        await end_absent_meetings(db, now, settings)
        await next_boundary(db, now, settings)
        tick = time.perf_counter() - started
        started = time.perf_counter()
        await release_no_shows(db, now, settings)
        await next_boundary(db, now, settings)
        idle_tick = time.perf_counter() - started
        await db.close()
    print(f"rooms {rooms}, meetings {rooms * per_room} (SQLite, one process)")
    print(f"bare read per room          {base * 1000:7.2f} ms")
    print(f"room state per room         {state * 1000:7.2f} ms  ({state / base:4.1f}x bare)")
    print(f"door render, new QR code    {render * 1000:7.2f} ms  ({render / base:4.1f}x bare)")
    print(f"door render, refresh        {warm * 1000:7.2f} ms  ({warm / base:4.1f}x bare) -> {1 / warm:6.0f} renders/s")
    print(f"door render, read path      {read_path * 1000:7.2f} ms  ({read_path / base:4.1f}x bare) -> {1 / read_path:6.0f} renders/s (goal < 2 ms)")
    print(f"  {rooms} door screens refreshed every 30 s use {rooms * read_path / 30 * 100:5.1f} % of one core")
    print(f"timer tick, {len(released)} no-shows released  {tick * 1000:7.1f} ms")
    print(f"timer tick, nothing due       {idle_tick * 1000:7.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--per-room", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(main(args.rooms, args.per_room))
