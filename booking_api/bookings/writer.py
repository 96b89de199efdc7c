"""The write path of a single booking (no recurrence): the hot path of `POST /api/v1/bookings`.

It keeps the guarantee and the records of the series path in `bookings.py` (room
rules, no overlap, approval, attendees, `Idempotency-Key`, the audit entry in the
same transaction) but is built for throughput, without the ORM:

- SQLite: group commit. Requests queue for one writer with a connection of its
  own. For every request waiting it takes the write lock once (BEGIN IMMEDIATE),
  checks and inserts each booking, and commits once, where one request at a time
  held the lock across eight awaits. This process's other writers wait meanwhile
  (`Database.write_lock`). The batch is written in the event loop itself: a few
  dozen microseconds a booking of CPU and no wait, since nothing in it can wait:
  the lock is tried without waiting (`busy_timeout` 0), and the connection never
  checkpoints on commit (no fsync). When another process holds the file lock the
  batch is written in the writer's thread instead, which waits for it; the WAL is
  checkpointed in that thread too once it has grown (WAL_CHECKPOINT). A thread
  for every batch cost a fifth of the throughput (bench/booking.py: 0.25 of bare
  against 0.30): the hop, and the GIL changing hands at every statement.
- PostgreSQL: group commit too. A connection of its own (asyncpg, no pool checks or
  resets; PG_CONNECTIONS), taking every request waiting, and two statements per batch: the
  rooms and stored keys of all, then one call of a session function that inserts each
  booking with its attendees, idempotency record and audit entry in a subtransaction
  of its own, and commits them together. The exclusion constraint refuses an overlap;
  a concurrent retry with the same key meets the unique index; either drops only
  that booking.

Both stores keep what the ORM keeps: the same columns, SQLite's datetime text
format (checked against SQLAlchemy's own bind processor) and JSON as text.
A refusal is an `AppError` handed back to the request, which raises it; an overlap
returns `CONFLICT`, and the caller builds the 409 with suggestions from a read.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import datetime as dt
import json
import logging
import os
import sqlite3
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy.dialects import sqlite as sqlite_dialect

from booking_api.bookings import rules
from booking_api.models import booking_json
from signage.db import utcnow
from signage.errors import AppError, Invalid, NotFound
from signage.eventlog.log import LOCK
from signage.i18n import gettext as _

log = logging.getLogger("signage.bookings")

CONFLICT = "conflict"
BATCH = 256  # bookings in one SQLite transaction at most
WAL_CHECKPOINT = 4 << 20  # bytes of WAL after which the SQLite writer checkpoints (in its thread)
# Connections of the PostgreSQL writer. One batch at a time makes bigger batches (fewer
# commits); bench/booking.py measured 1 ahead of 2 (0.29-0.31 of bare against 0.21-0.23) and of 4.
PG_CONNECTIONS = 1


def _sqlite_datetime(value: dt.datetime) -> str:
    """A naive UTC datetime as SQLAlchemy stores it in SQLite ("2026-11-25 08:00:00.000000")."""
    return value.isoformat(" ", "microseconds")


_sample = dt.datetime(2026, 1, 2, 3, 4, 5, 6)
assert _sqlite_datetime(_sample) == sqlite_dialect.DATETIME().bind_processor(sqlite_dialect.dialect())(_sample)


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
    private: bool | None = None  # None: the room's default
    context: contextvars.Context = dataclasses.field(default_factory=contextvars.copy_context)


class Busy(Exception):
    """Another connection holds SQLite's write lock."""


@dataclasses.dataclass
class Replay:
    status: int
    body: bytes


def answer_of(w: Wanted, booking_id: int, status: str, private: bool) -> dict:
    """The new booking as the API shows it."""
    made = SimpleNamespace(
        id=booking_id, room_id=w.room_id, series_id=None, title=w.title, organizer_id=w.user_id, start_at=w.start,
        end_at=w.end, status=status, reason="", notes=w.notes, services=w.services, detached=False, private=private,
        external_source=None, external_id=None,
    )  # fmt: skip
    return booking_json(made, [SimpleNamespace(**a) for a in w.attendees])


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


class Writer:
    """One per app (made in the lifespan): `await writer.create(wanted)`. It announces
    the bookings it made on `bus`, a batch at once, before it answers."""

    def __init__(self, db, bus) -> None:
        self.db, self.bus = db, bus
        self.queue: asyncio.Queue | None = None
        self.tasks: list[asyncio.Task] = []
        # SQLite: where the writer waits for other processes' locks, and checkpoints
        self.thread: concurrent.futures.ThreadPoolExecutor | None = None
        self.conn: sqlite3.Connection | None = None  # SQLite: the writer's connection
        self.pg_open: set = set()  # PostgreSQL: the workers' connections

    async def create(self, w: Wanted) -> dict | Replay | str:
        """The new booking's answer, a stored answer to replay, or CONFLICT; raises AppError."""
        if not self.tasks:
            self._start()
        done = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((w, done))
        result = await done
        if isinstance(result, BaseException):
            raise result
        return result

    def _start(self) -> None:
        self.queue = asyncio.Queue()
        if self.db.backend == "sqlite":
            self.thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="signage-booking-writer")
            write, workers, limit = self._sqlite_write, 1, BATCH
        else:
            write, workers, limit = self._pg_write, PG_CONNECTIONS, PG_BATCH
        self.tasks = [
            asyncio.create_task(self._drain(write, limit), name=f"signage-booking-writer-{n}") for n in range(workers)
        ]

    async def _drain(self, write, limit: int) -> None:
        """One worker: takes every request waiting (up to `limit`) and writes them together
        with `write(batch, own)`; `own` is what the worker keeps between batches."""
        own = SimpleNamespace(conn=None)
        while True:
            batch = [await self.queue.get()]
            while len(batch) < limit and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                results = await write([w for w, _ in batch], own)
            except Exception as exc:  # nothing of the batch was written
                results = [exc] * len(batch)
            if any(isinstance(r, dict) for r in results):
                self.db.events_committed()  # their booking.created events: the live consumer tells the rooms
            for (_w, done), result in zip(batch, results, strict=True):
                if not done.done():
                    done.set_result(result)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.thread:
            self.thread.submit(self._close_conn).result()
            self.thread.shutdown()
        for conn in list(self.pg_open):
            await conn.close(timeout=2)

    # ------------------------------------------------------------ SQLite

    async def _sqlite_write(self, batch: list[Wanted], _own) -> list:
        loop = asyncio.get_running_loop()
        async with self.db.write_lock:
            try:
                results = self._write_batch(batch)  # in the loop: it cannot wait (see above)
            except Busy:  # another process is writing: wait for it in the thread
                results = await loop.run_in_executor(self.thread, self._write_waiting, batch)
            if self._wal_size() > WAL_CHECKPOINT:
                await loop.run_in_executor(self.thread, self._checkpoint)
            return results

    def _connect(self) -> sqlite3.Connection:
        """The writer's connection, used by the loop and by the thread, never by both at once
        (`Database.write_lock`)."""
        if self.conn is None:
            conn = sqlite3.connect(
                self.db.engine.url.database, isolation_level=None, timeout=0, check_same_thread=False
            )
            # No checkpoint on commit; a WAL that was checkpointed is cut back to WAL_CHECKPOINT
            # bytes when it starts again, so growing past that means "checkpoint again".
            pragmas = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "wal_autocheckpoint=0")
            for pragma in (*pragmas, f"journal_size_limit={WAL_CHECKPOINT}"):
                conn.execute(f"PRAGMA {pragma}")
            self.conn = conn
        return self.conn

    def _write_waiting(self, batch: list[Wanted]) -> list:
        """`_write_batch`, waiting up to 30 s for another process's write lock (in the thread)."""
        conn = self._connect()
        conn.execute("PRAGMA busy_timeout=30000")
        try:
            return self._write_batch(batch, wait=True)
        finally:
            conn.execute("PRAGMA busy_timeout=0")

    def _wal_size(self) -> int:
        try:
            return os.stat(f"{self.db.engine.url.database}-wal").st_size
        except OSError:
            return 0

    def _checkpoint(self) -> None:
        """Copy the WAL back into the database (fsync), as SQLite's automatic checkpoint
        would on commit; PASSIVE: readers are not waited for, the next checkpoint goes on."""
        self._connect().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _close_conn(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _write_batch(self, batch: list[Wanted], wait: bool = False) -> list:
        """Each booking's result, all in one transaction. A refusal (rules, key, overlap)
        comes before anything of its booking is written; should the database refuse a
        booking half-way, the transaction is rolled back and the batch written again
        without it (rare: no SAVEPOINT per booking for it). Raises Busy, having written
        nothing, when another connection holds the write lock (unless `wait`)."""
        conn = self._connect()
        failed: dict[int, Exception] = {}
        while True:
            results: list = []
            rooms: dict[int, SimpleNamespace | None] = {}
            now = _sqlite_datetime(utcnow().replace(tzinfo=None))  # created_at of the whole batch
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode == sqlite3.SQLITE_BUSY and not wait:
                    raise Busy from exc
                raise
            try:
                for n, w in enumerate(batch):
                    if n in failed:
                        results.append(failed[n])
                        continue
                    try:
                        results.append(w.context.run(self._write_one, conn, w, rooms, now))  # in the request's language
                    except AppError as exc:  # refused before anything was written
                        results.append(exc)
                    except Exception as exc:  # part of it may be written: again, without it
                        failed[n] = exc
                        break
                else:
                    conn.execute("COMMIT")
                    return results
                conn.execute("ROLLBACK")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _write_one(self, conn: sqlite3.Connection, w: Wanted, rooms: dict, now: str):
        if w.room_id not in rooms:
            row = conn.execute(f"SELECT {', '.join(ROOM_FIELDS)} FROM rooms WHERE id = ?", (w.room_id,)).fetchone()
            rooms[w.room_id] = row and SimpleNamespace(**dict(zip(ROOM_FIELDS, row, strict=True)))
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
        taken = conn.execute(SQLITE_TAKEN, (w.room_id, until, start)).fetchone()
        if taken:
            return CONFLICT
        status = "confirmed"
        if room.needs_approval and w.user_role != "admin":
            owns = conn.execute(
                "SELECT 1 FROM room_owners WHERE room_id = ? AND user_id = ?", (w.room_id, w.user_id)
            ).fetchone()
            status = "confirmed" if owns else "pending"
        private = room.private_default if w.private is None else w.private
        booking_id = conn.execute(
            "INSERT INTO bookings (room_id, series_id, detached, title, organizer_id, start_at, end_at,"
            " blocked_until, status, notes, services, private, reason, decided_by, created_at, updated_at)"
            " VALUES (?, NULL, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', NULL, ?, ?)",
            (w.room_id, w.title, w.user_id, start, end, until, status, w.notes, json.dumps(w.services), private, now,
             now),
        ).lastrowid  # fmt: skip
        if w.attendees:
            conn.executemany(
                "INSERT INTO attendees (booking_id, user_id, name, email, phone, role) VALUES (?, ?, ?, ?, ?, ?)",
                [(booking_id, a["user_id"], a["name"], a["email"], a["phone"], a["role"]) for a in w.attendees],
            )
        answer = answer_of(w, booking_id, status, private)
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
        conn.execute(
            "INSERT INTO events (type, at, actor, subject, data) VALUES ('booking.created', ?, ?, ?, ?)",
            (now, f"user:{w.user_id}", f"booking:{booking_id}", json.dumps(answer)),
        )
        return answer

    # ------------------------------------------------------------ PostgreSQL

    async def _pg_write(self, batch: list[Wanted], own) -> list:
        """On the worker's own connection: made at first use, again when the server dropped it."""
        import asyncpg

        if own.conn is None or own.conn.is_closed():
            self.pg_open.discard(own.conn)
            own.conn = None
            own.conn = await self._pg_connect()
        try:
            return await self._pg_batch(own.conn, batch)
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
            self.pg_open.discard(own.conn)  # a broken connection is not used again
            own.conn.terminate()
            own.conn = None
            raise

    async def _pg_connect(self):
        import asyncpg

        dsn = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(PG_FUNCTION)
        except BaseException:
            conn.terminate()
            raise
        self.pg_open.add(conn)
        return conn

    async def _pg_batch(self, conn, batch: list[Wanted]) -> list:
        """Each booking's result. Two statements for the whole batch: its rooms and keys,
        then one call that inserts each booking in its own subtransaction (an overlap or a
        key used meanwhile drops that booking alone) and commits them together."""
        import asyncpg

        found = await conn.fetch(
            PG_ROOMS, [w.room_id for w in batch], [w.user_id for w in batch], [w.key for w in batch]
        )
        results: list = [None] * len(batch)
        items = []
        for n, (w, row) in enumerate(zip(batch, found, strict=True)):
            try:
                room = SimpleNamespace(**{k: row[k] for k in ROOM_FIELDS}) if row["id"] is not None else None
                w.context.run(check_room, w, room)  # messages in the request's language
                key_row = (row["fingerprint"], row["key_status"], row["response"]) if row["fingerprint"] else None
                if (replay := w.context.run(check_replay, w, key_row)) is not None:
                    results[n] = replay
                    continue
            except AppError as exc:
                results[n] = exc
                continue
            status = "pending" if room.needs_approval and w.user_role != "admin" and not row["owns"] else "confirmed"
            private = room.private_default if w.private is None else w.private
            items.append((n, w, status, rules.blocked_until(room, w.end), private))
        # the same order in every batch, so that two batches never wait on each other in a circle
        items.sort(key=lambda item: (item[1].room_id, item[1].start))
        outcomes: dict[int, tuple] = {}
        for attempt in range(3):
            try:
                outcomes = await self._pg_insert(conn, items)
                break
            except asyncpg.DeadlockDetectedError:  # nothing of the batch was written: again
                if attempt == 2:
                    raise
            except asyncpg.PostgresError as exc:
                if len(items) == 1:
                    outcomes = {items[0][0]: (None, exc)}
                    break
                # one booking the statement refused: each alone, so that only it fails
                for item in items:
                    try:
                        outcomes.update(await self._pg_insert(conn, [item]))
                    except asyncpg.PostgresError as exc:
                        outcomes[item[0]] = (None, exc)
                break
        for n, w, status, _until, private in items:
            booking_id, outcome = outcomes[n]
            if isinstance(outcome, BaseException):
                results[n] = w.context.run(_refused, outcome)
            elif outcome == "ok":
                results[n] = answer_of(w, booking_id, status, private)
            else:
                # Taken, or a concurrent retry with this key won (its booking overlaps this one,
                # so the exclusion constraint may speak first): the stored answer, if any, wins.
                key_row = await conn.fetchrow(PG_KEY, w.user_id, w.key) if w.key else None
                try:
                    results[n] = w.context.run(check_replay, w, key_row) or CONFLICT
                except AppError as exc:
                    results[n] = exc
        return results

    async def _pg_insert(self, conn, items: list) -> dict[int, tuple]:
        if not items:
            return {}
        now = utcnow()
        payload = [
            {
                "n": n,
                "room_id": w.room_id,
                "title": w.title,
                "organizer_id": w.user_id,
                "start_at": w.start,
                "end_at": w.end,
                "blocked_until": until,
                "status": status,
                "notes": w.notes,
                "services": w.services,
                "private": private,
                "attendees": w.attendees,
                "key": w.key or None,
                "fingerprint": w.fingerprint,
                "response": answer_of(w, 0, status, private),  # the event's data, and the key's stored answer
                "email": w.user_email,
                "role": w.user_role,
                "client": w.client,
            }
            for n, w, status, until, private in items
        ]
        rows = await conn.fetch(PG_CALL, orjson.dumps(payload).decode(), now)
        return {row[0]: (row[1], row[2]) for row in rows}


def _refused(exc: BaseException) -> BaseException:
    """What a booking the database refused answers: a room deleted since it was read is a
    404 like any unknown room; anything else stays an error of ours."""
    if getattr(exc, "constraint_name", None) == "fk_bookings_room_id_rooms":
        return NotFound(_("No such room."), {"field": "room_id"})
    return exc


# A booking of the room in the way of a new one (start, end of buffer); SQLite reads it
# through ix_bookings_room_id_blocked_until, past bookings skipped.
SQLITE_TAKEN = (
    "SELECT 1 FROM bookings WHERE room_id = ? AND status IN ('pending', 'confirmed')"
    " AND start_at < ? AND blocked_until > ? LIMIT 1"
)

PG_BATCH = 48  # bookings in one PostgreSQL transaction at most (each a subtransaction; 64 overflow the cache)

ROOM_FIELDS = (
    "id", "name", "opens_at", "closes_at", "needs_approval", "buffer_minutes", "max_minutes", "window_days",
    "notice_minutes", "private_default", "out_of_service_since", "out_of_service_reason",
)  # fmt: skip

# Per wanted booking, in order: its room (NULLs when there is none), whether the user owns
# it, and the stored answer of its Idempotency-Key.
PG_ROOMS = """
SELECT r.id, r.name, r.opens_at, r.closes_at, r.needs_approval, r.buffer_minutes, r.max_minutes, r.window_days,
       r.notice_minutes, r.private_default, r.out_of_service_since, r.out_of_service_reason,
       EXISTS (SELECT 1 FROM room_owners o WHERE o.room_id = t.room_id AND o.user_id = t.user_id) AS owns,
       k.fingerprint, k.status AS key_status, k.response::text AS response
FROM unnest($1::int[], $2::int[], $3::text[]) WITH ORDINALITY AS t(room_id, user_id, key, n)
LEFT JOIN rooms r ON r.id = t.room_id
LEFT JOIN idempotency_keys k ON t.key <> '' AND k.user_id = t.user_id AND k.key = t.key
ORDER BY t.n
"""

PG_KEY = "SELECT fingerprint, status, response::text FROM idempotency_keys WHERE user_id = $1 AND key = $2"

PG_CALL = "SELECT n, booking_id, outcome FROM pg_temp.signage_book($1::jsonb, $2)"

# A function of the connection's own session (pg_temp: nothing to migrate, every process
# brings its own version). Each booking is inserted with its attendees, idempotency record
# (its stored answer gets the new id) and audit entry in a subtransaction of its own: the
# exclusion constraint refuses an overlap, the unique index a key used meanwhile, and either
# drops that booking alone. The call is one statement, so one transaction and one commit.
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION pg_temp.signage_book(items jsonb, stamp timestamptz)
RETURNS TABLE (n int, booking_id int, outcome text) LANGUAGE plpgsql AS $fn$
DECLARE
    it record;
    made int;
    made_events jsonb := '[]';
BEGIN
    FOR it IN SELECT * FROM jsonb_to_recordset(items) AS x(
        n int, room_id int, title text, organizer_id int, start_at timestamptz, end_at timestamptz,
        blocked_until timestamptz, status text, notes text, services json, private boolean, attendees jsonb, key text,
        fingerprint text, response jsonb, email text, role text, client text)
    LOOP
        n := it.n;
        BEGIN
            INSERT INTO bookings (room_id, series_id, detached, title, organizer_id, start_at, end_at, blocked_until,
                                  status, notes, services, private, reason, decided_by, created_at, updated_at)
            VALUES (it.room_id, NULL, false, it.title, it.organizer_id, it.start_at, it.end_at, it.blocked_until,
                    it.status, it.notes, it.services, it.private, '', NULL, stamp, stamp)
            RETURNING id INTO made;
            INSERT INTO attendees (booking_id, user_id, name, email, phone, role)
            SELECT made, a.user_id, a.name, a.email, a.phone, a.role
            FROM jsonb_to_recordset(it.attendees) AS a(user_id int, name text, email text, phone text, role text);
            IF it.key IS NOT NULL THEN
                INSERT INTO idempotency_keys (user_id, key, fingerprint, status, response, created_at)
                VALUES (it.organizer_id, it.key, it.fingerprint, 201,
                        jsonb_set(it.response, '{id}', to_jsonb(made))::json, stamp);
            END IF;
            INSERT INTO audit_log (at, user_id, user_email, role, action, target, result, reason, client)
            VALUES (stamp, it.organizer_id, it.email, it.role, 'booking.create', 'booking:' || made, 'success',
                    it.status, it.client);
            made_events := made_events || jsonb_build_array(jsonb_build_object(
                'id', made, 'actor', 'user:' || it.organizer_id, 'data', jsonb_set(it.response, '{id}', to_jsonb(made))));
            booking_id := made;
            outcome := 'ok';
        EXCEPTION
            WHEN exclusion_violation THEN
                booking_id := NULL;
                outcome := 'conflict';
            WHEN unique_violation THEN
                booking_id := NULL;
                outcome := 'key';
        END;
        RETURN NEXT;
    END LOOP;
    IF jsonb_array_length(made_events) > 0 THEN
        -- the event log's lock (signage.eventlog.log), taken last: events numbered in commit order
        PERFORM pg_advisory_xact_lock(%(lock)s);
        INSERT INTO events (type, at, actor, subject, data)
        SELECT 'booking.created', stamp, e->>'actor', 'booking:' || (e->>'id'), (e->'data')::json
        FROM jsonb_array_elements(made_events) AS e ORDER BY (e->>'id')::int;
    END IF;
END
$fn$
""" % {"lock": LOCK}  # noqa: UP031 (the function body is full of braces)
