"""Benchmark: the statistics report over a year of 1,000 rooms × 8 meetings a day.

    .venv/bin/python bench/stats.py [--rooms 1000] [--days 365] [--backends sqlite,postgresql]

A database made with the product's tables (`create_all`), filled in bulk by SQL (INSERT ...
SELECT over rooms × days × slots, in the database: ~2.9 million bookings), in a temporary
SQLite file and, when 127.0.0.1:5432 answers, a fresh PostgreSQL database (dropped after).
Meetings at 08:00, 09:15 ... 16:45 (the site's zone), 30-75 minutes; of every 20: one
cancelled the day before, two released as no-shows, one ended early (End now, 20 minutes in),
the rest confirmed, two thirds of them checked in; an attendee on every fourth; a service call
per room and day, accepted 3-7 minutes later. Then `booking_api.stats.figures.report` (what the
API and the page call) for each grouping over the whole year and over the last 30 days, for
an admin (every room) and a room admin (10 rooms): the first run and the median of the next
`--repeat`, with the statements it made (the same count for every range and size).
Goal: under 2 s on SQLite and under 1 s on PostgreSQL.

On PostgreSQL the bookings' exclusion constraint (no two active bookings overlap) is dropped
before the load and not rebuilt: it checks writes and no report reads it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import event, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from booking_api.stats.figures import GROUPS, report  # noqa: E402
from signage.db import Database  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
HOST = "127.0.0.1"
SLOT_MINUTES = 75
FMT = "'%Y-%m-%d %H:%M:%S'"

SQLITE_LOAD = [
    """INSERT INTO rooms (name, building, floor, capacity, equipment, photo_url, opens_at, closes_at,
         needs_approval, private_default, approval, undecided, buffer_minutes, max_minutes, window_days,
         notice_minutes, out_of_service_reason, created_at)
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rooms)
       SELECT 'Room ' || i, 'B' || (i % 10), 'F' || (i / 10 % 10), 4 + i % 17, '[]', '', 480, 1200,
              0, 0, 'internal', 'reject', 0, 0, 0, 0, '', '2020-01-01 00:00:00.000000' FROM n""",
    f"""INSERT INTO bookings (room_id, detached, private, title, organizer_id, start_at, end_at, blocked_until,
         status, notes, services, reason, planned_end_at, released_at, cancelled_at, created_at, updated_at)
       WITH RECURSIVE days(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM days WHERE d < :days - 1),
         slots(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM slots WHERE s < 7),
         m AS (SELECT r.id AS room, d, s, (r.id * 7 + d * 3 + s) % 20 AS h,
                      julianday(:first) + d + s * {SLOT_MINUTES} / 1440.0 AS st,
                      (30 + (r.id + d + s) % 4 * 15) / 1440.0 AS len
               FROM days CROSS JOIN slots CROSS JOIN rooms r),  -- CROSS JOIN: in this order, by time
         t AS (SELECT room, d, s, h, st, st + len AS en,
                      CASE WHEN h = 3 THEN st + 20 / 1440.0 ELSE st + len END AS ended FROM m)
       SELECT room, 0, 0, 'Meeting', NULL,
              strftime({FMT}, st) || '.000000', strftime({FMT}, ended) || '.000000',
              strftime({FMT}, ended) || '.000000',
              CASE WHEN h = 0 THEN 'cancelled' WHEN h IN (1, 2) THEN 'no_show' ELSE 'confirmed' END,
              '', '[]', '',
              CASE WHEN h = 3 THEN strftime({FMT}, en) || '.000000' END,
              CASE WHEN h IN (1, 2) THEN strftime({FMT}, st + 15 / 1440.0) || '.000000'
                   WHEN h = 3 THEN strftime({FMT}, ended) || '.000000' END,
              CASE WHEN h = 0 THEN strftime({FMT}, st - 1) || '.000000' END,
              strftime({FMT}, st - 2) || '.000000', strftime({FMT}, st - 2) || '.000000'
       FROM t""",
    """INSERT INTO checkins (booking_id, at, via)
       SELECT id, start_at, 'door' FROM bookings WHERE status = 'confirmed' AND id % 3 != 0""",
    """INSERT INTO attendees (booking_id, name, email, phone, role)
       SELECT id, 'Guest', '', '', 'required' FROM bookings WHERE id % 4 = 0""",
    f"""INSERT INTO desk_tasks (room_id, kind, note, origin, status, created_at, accepted_at, accepted_by, done_by)
       WITH RECURSIVE days(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM days WHERE d < :days - 1)
       SELECT r.id, 'tea', '', 'door', 'accepted',
              strftime({FMT}, julianday(:first) + d + 2 / 24.0) || '.000000',
              strftime({FMT}, julianday(:first) + d + 2 / 24.0 + (3 + (r.id + d) % 5) / 1440.0) || '.000000',
              'Desk', ''
       FROM days, rooms r""",
    "ANALYZE",
]

PG_LOAD = [
    "ALTER TABLE bookings DROP CONSTRAINT IF EXISTS ex_bookings_room_time",
    """INSERT INTO rooms (name, building, floor, capacity, equipment, photo_url, opens_at, closes_at,
         needs_approval, private_default, approval, undecided, buffer_minutes, max_minutes, window_days,
         notice_minutes, out_of_service_reason, created_at)
       SELECT 'Room ' || i, 'B' || (i % 10), 'F' || (i / 10 % 10), 4 + i % 17, '[]', '', 480, 1200,
              false, false, 'internal', 'reject', 0, 0, 0, 0, '', timestamptz '2020-01-01 00:00+00'
       FROM generate_series(1, :rooms) i""",
    f"""INSERT INTO bookings (room_id, detached, private, title, organizer_id, start_at, end_at, blocked_until,
         status, notes, services, reason, planned_end_at, released_at, cancelled_at, created_at, updated_at)
       WITH m AS (SELECT r.id AS room, d, s, (r.id * 7 + d * 3 + s) % 20 AS h,
                         CAST(:first AS timestamptz) + d * interval '1 day' + s * interval '{SLOT_MINUTES} minutes' AS st,
                         (30 + (r.id + d + s) % 4 * 15) * interval '1 minute' AS len
                  FROM generate_series(0, :days - 1) d, generate_series(0, 7) s, rooms r),
         t AS (SELECT *, st + len AS en,
                      CASE WHEN h = 3 THEN st + interval '20 minutes' ELSE st + len END AS ended FROM m)
       SELECT room, false, false, 'Meeting', NULL, st, ended, ended,
              CASE WHEN h = 0 THEN 'cancelled' WHEN h IN (1, 2) THEN 'no_show' ELSE 'confirmed' END,
              '', '[]', '',
              CASE WHEN h = 3 THEN en END,
              CASE WHEN h IN (1, 2) THEN st + interval '15 minutes' WHEN h = 3 THEN ended END,
              CASE WHEN h = 0 THEN st - interval '1 day' END,
              st - interval '2 days', st - interval '2 days'
       FROM t ORDER BY d, s, room""",
    """INSERT INTO checkins (booking_id, at, via)
       SELECT id, start_at, 'door' FROM bookings WHERE status = 'confirmed' AND id % 3 != 0""",
    """INSERT INTO attendees (booking_id, name, email, phone, role)
       SELECT id, 'Guest', '', '', 'required' FROM bookings WHERE id % 4 = 0""",
    """INSERT INTO desk_tasks (room_id, kind, note, origin, status, created_at, accepted_at, accepted_by, done_by)
       SELECT r.id, 'tea', '', 'door', 'accepted',
              CAST(:first AS timestamptz) + d * interval '1 day' + interval '2 hours',
              CAST(:first AS timestamptz) + d * interval '1 day' + interval '2 hours'
                + (3 + (r.id + d) % 5) * interval '1 minute',
              'Desk', ''
       FROM generate_series(0, :days - 1) d, rooms r""",
]


async def load(db: Database, rooms: int, days: int, first: dt.datetime) -> float:
    await db.create_all()
    started = time.perf_counter()
    statements = SQLITE_LOAD if db.backend == "sqlite" else PG_LOAD
    params = {"rooms": rooms, "days": days}
    params["first"] = first.strftime("%Y-%m-%d %H:%M:%S") if db.backend == "sqlite" else first
    async with db.engine.begin() as conn:
        for sql in statements:
            used = {k: v for k, v in params.items() if f":{k}" in sql}
            await conn.execute(text(sql), used)
    if db.backend == "postgresql":
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


async def measure(db: Database, start: dt.date, end: dt.date, group: str, room_ids, now, repeat: int):
    seen: list[str] = []

    def hook(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", hook)
    times = []
    try:
        for i in range(1 + repeat):
            if i == 1 or not repeat:
                seen.clear()
            t0 = time.perf_counter()
            async with db.session() as s:
                data = await report(s, TZ, start, end, group, room_ids, now)
            times.append(time.perf_counter() - t0)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", hook)
    return times[0], statistics.median(times[1:] or times), len(seen) // max(1, repeat), data


def pg_database() -> tuple[str, callable] | None:
    try:
        socket.create_connection((HOST, 5432), timeout=1).close()
    except OSError:
        return None
    import asyncpg

    name = f"bench_stats_{uuid.uuid4().hex[:8]}"

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


async def run(url: str, name: str, args) -> None:
    today = dt.datetime.now(TZ).date()
    first_day = today - dt.timedelta(days=args.days)
    first = dt.datetime.combine(first_day, dt.time(8), TZ).astimezone(dt.UTC)  # 08:00 local
    db = Database(url)
    try:
        took = await load(db, args.rooms, args.days, first)
        async with db.session() as s:
            count = await s.scalar(text("SELECT count(*) FROM bookings"))
        print(f"{name}: {count:,} bookings of {args.rooms:,} rooms loaded in {took:.0f} s")
        now = dt.datetime.now(dt.UTC)
        year = (first_day, today - dt.timedelta(days=1))
        month = (today - dt.timedelta(days=30), today - dt.timedelta(days=1))
        ranges = {
            "year": ("year, every room", year, None),
            "month": ("30 days, every room", month, None),
            "admin": ("year, a room admin's 10 rooms", year, list(range(1, 11))),
        }
        for label, (start, end), room_ids in (ranges[r] for r in args.ranges.split(",")):
            for group in args.groups.split(","):
                cold, warm, queries, data = await measure(db, start, end, group, room_ids, now, args.repeat)
                total = data["total"]
                print(
                    f"  {label:30} {group:10} first {cold:6.2f} s  median {warm:6.2f} s  {queries} queries"
                    f"  ({total['meetings']:,} meetings, {len(data['rows'])} rows)"
                )
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--groups", default=",".join(GROUPS))
    parser.add_argument("--ranges", default="year,month,admin", help="year, month (30 days), admin (10 rooms)")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                asyncio.run(run(f"sqlite+aiosqlite:///{folder}/stats.db", "sqlite", args))
        elif backend == "postgresql":
            made = pg_database()
            if made is None:
                print("postgresql: not reachable, skipped")
                continue
            url, drop = made
            try:
                asyncio.run(run(url, "postgresql", args))
            finally:
                drop()


if __name__ == "__main__":
    main()
