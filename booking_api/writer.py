"""The write path of a single booking (no recurrence): the hot path of `POST /api/v1/bookings`.

It keeps the guarantee and the records of the series path in `bookings.py` (room
rules, no overlap, approval, attendees, `Idempotency-Key`, the audit entry in the
same transaction) but is built for throughput, without the ORM:

- SQLite: group commit. Requests queue for one writer thread that has its own
  connection. For every request waiting it takes the write lock once (BEGIN
  IMMEDIATE), checks and inserts each booking in its own SAVEPOINT, and commits
  once: one thread hop and one commit for a whole burst, where one request at a
  time held the lock across eight awaits. The thread runs while this process's
  other writers wait (`Database.write_lock`); other processes meet it at the file lock.
- PostgreSQL: a few connections of its own (asyncpg, no pool checks or resets: they
  only ever run single statements) and two statements, no transaction to open or
  close: the room (with
  whether the user owns it), then one statement that inserts the booking, its
  attendees, the idempotency record and the audit entry together. The exclusion
  constraint refuses an overlap; a concurrent retry with the same key meets the
  unique index.

Both stores keep what the ORM keeps: the same columns, SQLite's datetime text
format (taken from SQLAlchemy's own bind processor) and JSON as text.
A refusal returns a `Refused` (the request raises it); an overlap returns
`CONFLICT`, and the caller builds the 409 with suggestions from a read.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import datetime as dt
import json
import sqlite3
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import sqlite as sqlite_dialect

from booking_api import rules
from signage.errors import AppError, Invalid, NotFound
from signage.i18n import gettext as _

CONFLICT = "conflict"
BATCH = 256  # bookings in one SQLite transaction at most
PG_CONNECTIONS = 8  # connections of the PostgreSQL writer

_sqlite_datetime = sqlite_dialect.DATETIME().bind_processor(sqlite_dialect.dialect())


@dataclasses.dataclass
class Wanted:
    """One booking to write, with everything the writer needs from its request."""

    user_id: int
    user_email: str
    user_role: str
    client: str
    room_id: int
    title: str
    start: dt.datetime  # aware UTC
    end: dt.datetime
    attendees: list[dict]
    notes: str
    services: list[str]
    key: str
    fingerprint: str
    tz: ZoneInfo
    context: contextvars.Context = dataclasses.field(default_factory=contextvars.copy_context)


@dataclasses.dataclass
class Replay:
    status: int
    body: bytes


def answer_of(w: Wanted, booking_id: int, status: str) -> dict:
    """The booking as `bookings.booking_json` shows it."""
    return {
        "id": booking_id,
        "room_id": w.room_id,
        "series_id": None,
        "title": w.title,
        "organizer_id": w.user_id,
        "start": w.start.isoformat(),
        "end": w.end.isoformat(),
        "status": status,
        "reason": "",
        "notes": w.notes,
        "services": list(w.services),
        "detached": False,
        "attendees": [
            {"name": a["name"], "email": a["email"], "phone": a["phone"], "role": a["role"], "user_id": a["user_id"]}
            for a in w.attendees
        ],
    }


def check_room(w: Wanted, room) -> None:
    if room is None:
        raise NotFound(_("No such room."), {"field": "room_id"})
    rules.check_rules(room, w.start, w.end, w.tz)


def check_replay(w: Wanted, found) -> Replay | None:
    if found is None:
        return None
    fingerprint, status, response = found
    if fingerprint != w.fingerprint:
        raise Invalid(_("This Idempotency-Key was used for a different request."), {"header": "Idempotency-Key"})
    return Replay(status, response.encode() if isinstance(response, str) else json.dumps(response).encode())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Writer:
    """One per app (made in the lifespan): `await writer.create(wanted)`."""

    def __init__(self, db) -> None:
        self.db = db
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None
        self.thread: concurrent.futures.ThreadPoolExecutor | None = None
        self.conn: sqlite3.Connection | None = None
        self.pg_free: asyncio.Queue | None = None
        self.pg_open: set = set()
        self.pg_count = 0

    async def create(self, w: Wanted) -> dict | Replay | str:
        """The new booking's answer, a stored answer to replay, or CONFLICT; raises AppError."""
        if self.db.backend == "sqlite":
            result = await self._queued(w)
        else:
            result = await self._postgres(w)
        if isinstance(result, BaseException):
            raise result
        return result

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.thread:
            self.thread.submit(self._close_conn).result()
            self.thread.shutdown()
        for conn in list(self.pg_open):
            await conn.close(timeout=2)

    # ------------------------------------------------------------ SQLite

    async def _queued(self, w: Wanted):
        if self.task is None:
            self.queue = asyncio.Queue()
            self.thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="signage-booking-writer")
            self.task = asyncio.create_task(self._drain(), name="signage-booking-writer")
        done = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((w, done))
        return await done

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            while len(batch) < BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                async with self.db.write_lock:
                    results = await loop.run_in_executor(self.thread, self._write_batch, [w for w, _ in batch])
            except Exception as exc:  # the commit failed: none of the batch was written
                results = [exc] * len(batch)
            for (_w, done), result in zip(batch, results, strict=True):
                if not done.done():
                    done.set_result(result)

    def _connect(self) -> sqlite3.Connection:
        if self.conn is None:
            conn = sqlite3.connect(self.db.engine.url.database, isolation_level=None, timeout=30)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
                conn.execute(f"PRAGMA {pragma}")
            self.conn = conn
        return self.conn

    def _close_conn(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _write_batch(self, batch: list[Wanted]) -> list:
        conn = self._connect()
        results: list = []
        rooms: dict[int, SimpleNamespace | None] = {}
        conn.execute("BEGIN IMMEDIATE")
        try:
            for w in batch:
                conn.execute("SAVEPOINT one")
                try:
                    results.append(w.context.run(self._write_one, conn, w, rooms))  # in the request's language
                except Exception as exc:
                    conn.execute("ROLLBACK TO one")
                    results.append(exc)
                conn.execute("RELEASE one")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    def _write_one(self, conn: sqlite3.Connection, w: Wanted, rooms: dict):
        if w.room_id not in rooms:
            row = conn.execute(
                "SELECT id, name, opens_at, closes_at, needs_approval, buffer_minutes, max_minutes, window_days,"
                " notice_minutes FROM rooms WHERE id = ?",
                (w.room_id,),
            ).fetchone()
            rooms[w.room_id] = row and SimpleNamespace(
                **dict(zip(("id", "name", "opens_at", "closes_at", "needs_approval", "buffer_minutes",
                            "max_minutes", "window_days", "notice_minutes"), row, strict=True))
            )  # fmt: skip
        room = rooms[w.room_id]
        check_room(w, room)
        if w.key:
            found = conn.execute(
                "SELECT fingerprint, status, response FROM idempotency_keys WHERE user_id = ? AND key = ?",
                (w.user_id, w.key),
            ).fetchone()
            if (replay := check_replay(w, found)) is not None:
                return replay
        start, end = _sqlite_datetime(w.start.replace(tzinfo=None)), _sqlite_datetime(w.end.replace(tzinfo=None))
        until = _sqlite_datetime(rules.blocked_until(room, w.end).replace(tzinfo=None))
        taken = conn.execute(
            "SELECT 1 FROM bookings WHERE room_id = ? AND status IN ('pending', 'confirmed')"
            " AND start_at < ? AND blocked_until > ? LIMIT 1",
            (w.room_id, until, start),
        ).fetchone()
        if taken:
            return CONFLICT
        status = "confirmed"
        if room.needs_approval and w.user_role != "admin":
            owns = conn.execute(
                "SELECT 1 FROM room_owners WHERE room_id = ? AND user_id = ?", (w.room_id, w.user_id)
            ).fetchone()
            status = "confirmed" if owns else "pending"
        now = _sqlite_datetime(utcnow().replace(tzinfo=None))
        booking_id = conn.execute(
            "INSERT INTO bookings (room_id, series_id, detached, title, organizer_id, start_at, end_at,"
            " blocked_until, status, notes, services, reason, decided_by, created_at, updated_at)"
            " VALUES (?, NULL, 0, ?, ?, ?, ?, ?, ?, ?, ?, '', NULL, ?, ?)",
            (w.room_id, w.title, w.user_id, start, end, until, status, w.notes, json.dumps(w.services), now, now),
        ).lastrowid
        if w.attendees:
            conn.executemany(
                "INSERT INTO attendees (booking_id, user_id, name, email, phone, role) VALUES (?, ?, ?, ?, ?, ?)",
                [(booking_id, a["user_id"], a["name"], a["email"], a["phone"], a["role"]) for a in w.attendees],
            )
        answer = answer_of(w, booking_id, status)
        if w.key:
            conn.execute(
                "INSERT INTO idempotency_keys (user_id, key, fingerprint, status, response, created_at)"
                " VALUES (?, ?, ?, 201, ?, ?)",
                (w.user_id, w.key, w.fingerprint, json.dumps(answer), now),
            )
        conn.execute(
            "INSERT INTO audit_log (at, user_id, user_email, role, action, target, result, reason, client)"
            " VALUES (?, ?, ?, ?, 'booking.create', ?, 'success', ?, ?)",
            (now, w.user_id, w.user_email, w.user_role, f"booking:{booking_id}", status, w.client),
        )
        return answer

    # ------------------------------------------------------------ PostgreSQL

    async def _pg_connection(self):
        """A free connection; a new one while fewer than PG_CONNECTIONS exist."""
        if self.pg_free is None:
            self.pg_free = asyncio.Queue()
        while True:
            if self.pg_free.empty() and self.pg_count < PG_CONNECTIONS:
                import asyncpg

                self.pg_count += 1  # counted before the await: 200 requests at once open 8, not 200
                try:
                    dsn = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                    conn = await asyncpg.connect(dsn)
                except BaseException:
                    self.pg_count -= 1
                    self.pg_free.put_nowait(None)
                    raise
                self.pg_open.add(conn)
                return conn
            conn = await self.pg_free.get()
            if conn is not None and conn.is_closed():  # the server went away meanwhile
                self.pg_open.discard(conn)
                self.pg_count -= 1
                continue
            if conn is not None:  # None: a connection was dropped, its place is free
                return conn

    async def _postgres(self, w: Wanted):
        import asyncpg

        conn = await self._pg_connection()
        try:
            result = await self._postgres_on(conn, w)
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
            self.pg_open.discard(conn)  # a broken connection is not given back
            self.pg_count -= 1
            self.pg_free.put_nowait(None)
            conn.terminate()
            raise
        self.pg_free.put_nowait(conn)
        return result

    async def _postgres_on(self, conn, w: Wanted):
        import asyncpg

        row = await conn.fetchrow(PG_ROOM, w.room_id, w.user_id)
        room = row and SimpleNamespace(**dict(row))
        try:
            check_room(w, room)
            if w.key:
                found = await conn.fetchrow(PG_KEY, w.user_id, w.key)
                if (replay := check_replay(w, found)) is not None:
                    return replay
        except AppError as exc:
            return exc
        status = "pending" if room.needs_approval and w.user_role != "admin" and not room.owns else "confirmed"
        now = utcnow()
        attendees = w.attendees
        try:
            booking_id = await conn.fetchval(
                PG_INSERT,
                w.room_id,
                w.title,
                w.user_id,
                w.start,
                w.end,
                rules.blocked_until(room, w.end),
                status,
                w.notes,
                json.dumps(w.services),
                now,
                [a["user_id"] for a in attendees],
                [a["name"] for a in attendees],
                [a["email"] for a in attendees],
                [a["phone"] for a in attendees],
                [a["role"] for a in attendees],
                w.key or None,
                w.fingerprint,
                json.dumps(answer_of(w, 0, status)) if w.key else None,  # stored only with a key
                w.user_email,
                w.user_role,
                w.client,
            )
        except (asyncpg.ExclusionViolationError, asyncpg.UniqueViolationError):
            # Taken, or a concurrent retry with this key won (its booking overlaps this one,
            # so the exclusion constraint may speak first): the stored answer, if any, wins.
            found = await conn.fetchrow(PG_KEY, w.user_id, w.key) if w.key else None
            try:
                return check_replay(w, found) or CONFLICT
            except AppError as exc:
                return exc
        return answer_of(w, booking_id, status)


PG_ROOM = """
SELECT id, name, opens_at, closes_at, needs_approval, buffer_minutes, max_minutes, window_days, notice_minutes,
       EXISTS (SELECT 1 FROM room_owners o WHERE o.room_id = r.id AND o.user_id = $2) AS owns
FROM rooms r WHERE id = $1
"""

PG_KEY = "SELECT fingerprint, status, response::text FROM idempotency_keys WHERE user_id = $1 AND key = $2"

# One statement, so one implicit transaction: the booking, its attendees, the idempotency
# record (its stored answer gets the new id) and the audit entry, or none of them.
PG_INSERT = """
WITH b AS (
    INSERT INTO bookings (room_id, series_id, detached, title, organizer_id, start_at, end_at, blocked_until,
                          status, notes, services, reason, decided_by, created_at, updated_at)
    VALUES ($1, NULL, false, $2, $3, $4, $5, $6, $7, $8, $9::json, '', NULL, $10, $10)
    RETURNING id
), a AS (
    INSERT INTO attendees (booking_id, user_id, name, email, phone, role)
    SELECT b.id, t.user_id, t.name, t.email, t.phone, t.role
    FROM b, unnest($11::int[], $12::text[], $13::text[], $14::text[], $15::text[]) AS t(user_id, name, email, phone, role)
), k AS (
    INSERT INTO idempotency_keys (user_id, key, fingerprint, status, response, created_at)
    SELECT $3, $16::varchar, $17, 201, jsonb_set($18::jsonb, '{id}', to_jsonb(b.id))::json, $10
    FROM b WHERE $16::varchar IS NOT NULL
), l AS (
    INSERT INTO audit_log (at, user_id, user_email, role, action, target, result, reason, client)
    SELECT $10, $3, $19, $20, 'booking.create', 'booking:' || b.id, 'success', $7, $21 FROM b
)
SELECT id FROM b
"""
