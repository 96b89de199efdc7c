"""The fast write path of single bookings (booking_api/writer.py): group commit on
SQLite, one statement on PostgreSQL. It must keep everything the series path keeps."""

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import httpx
import pytest
from bookings_helpers import at, book, iso, make_room
from fixtures import api_token, in_app, make_token, rows, server_settings, wait_for
from sqlalchemy import select, text

from booking_api.bookings.writer import CONFLICT, PG_CONNECTIONS, Wanted
from booking_api.models import Attendee, Booking, IdempotencyKey
from signage.errors import AppError, Invalid, NotFound
from signage.models import AuditEntry


def wanted(user: dict, room_id: int, start, end, title="w", **extra) -> Wanted:
    fields = {
        "attendees": [],
        "notes": "",
        "services": [],
        "key": "",
        "fingerprint": "f",
        "client": "test",
        **extra,
    }
    return Wanted(
        user_id=user["id"],
        user_email=user["email"],
        user_role=user["role"],
        room_id=room_id,
        title=title,
        start=start.astimezone(dt.UTC),
        end=end.astimezone(dt.UTC),
        tz=ZoneInfo("Asia/Shanghai"),
        **fields,
    )


def write_batch(client, batch: list[Wanted]) -> list:
    """One batch as the writer of the client's backend writes it."""
    writer = client.app.state.booking_writer
    if client.app.state.db.backend == "sqlite":
        # in the writer's own thread (its connection lives there), once a booking has started it
        # waiting for the lock as the writer does when it is busy: the background workers (the
        # event dispatcher, the outbox, the desk) may hold it a moment
        return (
            writer.thread.submit(writer._write_waiting, batch).result()
            if writer.thread
            else writer._write_waiting(batch)
        )

    async def on_own_connection():
        conn = await writer._pg_connect()
        try:
            return await writer._pg_batch(conn, batch)
        finally:
            writer.pg_open.discard(conn)
            await conn.close()

    return in_app(client, on_own_connection)


def test_one_batch_each_booking_stands_or_falls_alone(client):
    """A burst is one transaction, but each booking is checked and kept or dropped on
    its own: a refusal in the middle leaves the others, and so does a booking the
    database refuses half-way (SQLite: the batch is written again without it;
    PostgreSQL: each booking is a subtransaction, or the batch one booking at a time)."""
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Batch", opens_at="08:00", closes_at="20:00", buffer_minutes=10)
    other = make_room(client, admin, name="Other")
    me = client.get("/api/v1/me", headers=admin).json()
    before = book(client, admin, room["id"], at(12), at(13))
    assert before.status_code == 201, before.text
    batch = [
        wanted(
            me,
            room["id"],
            at(9),
            at(10),
            "first",
            attendees=[dict(name="Ann", email="", phone="", role="chair", user_id=None)],
        ),
        wanted(me, room["id"], at(9, 30), at(10, 30), "overlaps the first"),
        wanted(me, room["id"], at(21), at(22), "after closing time"),
        wanted(me, 999_999, at(9), at(10), "no such room"),
        wanted(me, other["id"], at(9), at(10), "other room", key="k1", fingerprint="x"),
        wanted(me, other["id"], at(9), at(10), "same key again", key="k1", fingerprint="x"),
        wanted(me, room["id"], at(10, 10), at(11), "after the first and its buffer"),
        wanted(me, other["id"], at(11), at(12), "same key, another request", key="k1", fingerprint="y"),
        wanted(me, room["id"], at(13, 5), at(14), "in the buffer of one booked before"),
        wanted(me, room["id"], at(11, 30), at(12, 30), "overlaps one booked before"),
        wanted(  # the database refuses it half-way (after its booking row): none of it may stay
            me,
            other["id"],
            at(14),
            at(15),
            "refused by the database",
            attendees=[dict(name=None, email="", phone="", role="chair", user_id=None)],
        ),
        wanted(me, other["id"], at(16), at(17), "after the refused one"),
    ]
    results = write_batch(client, batch)
    first, overlap, closed, missing, keyed, replay, after, misused, buffer, before_overlap, broken, last = results
    assert first["title"] == "first" and first["attendees"][0]["name"] == "Ann"
    assert overlap == CONFLICT
    assert isinstance(closed, Invalid) and closed.detail.get("rule") == "open_hours"
    assert isinstance(missing, NotFound)
    assert keyed["title"] == "other room"
    assert replay.status == 201 and b'"other room"' in replay.body
    assert after["title"] == "after the first and its buffer"
    assert isinstance(misused, Invalid) and misused.detail == {"header": "Idempotency-Key"}
    assert buffer == before_overlap == CONFLICT
    assert isinstance(broken, Exception) and not isinstance(broken, AppError)
    assert last["title"] == "after the refused one"
    stored = {b.title for b in rows(client, select(Booking))}
    assert stored == {before.json()["title"], "first", "other room", "after the first and its buffer", last["title"]}
    assert len({first["id"], keyed["id"], after["id"], before.json()["id"], last["id"]}) == 5
    assert len(rows(client, select(Attendee))) == 1
    assert len(rows(client, select(IdempotencyKey))) == 1
    created = [a for a in rows(client, select(AuditEntry)) if a.action == "booking.create"]
    made = (first, keyed, after, before.json(), last)
    assert sorted(a.target for a in created) == sorted(f"booking:{r['id']}" for r in made)


def test_stored_exactly_as_the_series_path_stores(client, backend):
    """Single bookings (writer) and series (ORM) store the same way, so each sees the
    other's bookings as conflicts and reads them back unchanged."""
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Same", buffer_minutes=10)
    single = book(client, admin, room["id"], at(9), at(10), attendees=[{"name": "Bo", "email": "bo@example.com"}])
    assert single.status_code == 201, single.text
    series = book(client, admin, room["id"], at(11), at(12), rrule="FREQ=DAILY;COUNT=1")
    assert series.status_code == 201, series.text
    # the buffer after the single booking blocks a series starting at its end, and the reverse
    assert book(client, admin, room["id"], at(10, 5), at(10, 30), rrule="FREQ=DAILY;COUNT=1").status_code == 409
    assert book(client, admin, room["id"], at(12, 5), at(12, 30)).status_code == 409
    again = client.get(f"/api/v1/bookings/{single.json()['id']}", headers=admin).json()
    assert again == single.json()
    if backend == "sqlite":

        async def texts():
            async with client.app.state.db.session() as s:
                return (
                    await s.execute(text("SELECT start_at, blocked_until, services FROM bookings ORDER BY id"))
                ).all()

        (a_start, a_until, a_services), (b_start, b_until, b_services) = in_app(client, texts)
        assert len(a_start) == len(b_start) and a_start[10] == b_start[10] == " "  # one text format
        assert a_services == b_services == "[]"


def test_a_burst_through_a_real_server(make_server, backend):
    """Fifty requests at once, mixed: each gets its own right answer; nothing half-written."""
    server = make_server()
    settings = server_settings(server)
    admin = make_token(settings, "admin")
    room = httpx.post(
        f"{server.url}/api/v1/rooms", json={"name": "Burst", "capacity": 6, "opens_at": "07:00"}, headers=admin
    ).json()
    before = {"room_id": room["id"], "title": "before", "start": iso(at(7)), "end": iso(at(7, 15))}
    first = httpx.post(f"{server.url}/api/v1/bookings", json=before, headers=admin).json()
    bodies = []
    for i in range(50):
        if i % 10 == 3:  # before opening time
            bodies.append({"room_id": room["id"], "title": f"early {i}", "start": iso(at(5)), "end": iso(at(6))})
        elif i % 10 == 7:  # the slot booked before
            bodies.append({"room_id": room["id"], "title": f"dup {i}", "start": iso(at(7)), "end": iso(at(7, 15))})
        else:
            slot = at(8, 0) + dt.timedelta(minutes=15 * i)
            bodies.append(
                {
                    "room_id": room["id"],
                    "title": f"ok {i}",
                    "start": iso(slot),
                    "end": iso(slot + dt.timedelta(minutes=15)),
                }
            )

    async def fire():
        async with httpx.AsyncClient(timeout=60) as c:
            return await asyncio.gather(
                *(c.post(f"{server.url}/api/v1/bookings", json=b, headers=admin) for b in bodies)
            )

    answers = asyncio.run(fire())
    by_title = {b["title"]: r for b, r in zip(bodies, answers, strict=True)}
    assert all(r.status_code == 400 for t, r in by_title.items() if t.startswith("early"))
    assert all(
        r.status_code == 409 and r.json()["error"] == "conflict" for t, r in by_title.items() if t.startswith("dup")
    )
    made = [r.json() for t, r in by_title.items() if t.startswith("ok")]
    assert all(r.status_code == 201 for t, r in by_title.items() if t.startswith("ok"))
    listed = httpx.get(f"{server.url}/api/v1/bookings", params={"room_id": room["id"]}, headers=admin).json()
    listed = listed["bookings"] if isinstance(listed, dict) else listed
    assert sorted(b["id"] for b in listed) == sorted([first["id"], *(b["id"] for b in made)])


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_connections_the_server_dropped_are_replaced(client):
    """PostgreSQL restarts or kills the writer's connections: the next bookings still work."""
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Dropped")
    assert book(client, admin, room["id"], at(9), at(10)).status_code == 201
    writer = client.app.state.booking_writer
    assert writer.pg_open

    async def kill():
        pids = [c.get_server_pid() for c in writer.pg_open]
        async with client.app.state.db.session() as s:
            for pid in pids:
                await s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            async with asyncio.timeout(10):  # until the server has dropped them
                gone = text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)")
                while await s.scalar(gone, {"pids": pids}):
                    await asyncio.sleep(0.05)

    in_app(client, kill)
    for hour in (11, 13, 15):
        r = book(client, admin, room["id"], at(hour), at(hour + 1))
        assert r.status_code == 201, r.text
    assert len(writer.pg_open) <= PG_CONNECTIONS


def test_a_change_to_the_room_s_rules_applies_to_the_very_next_booking(client):
    """The PostgreSQL writer checks rules against rooms it keeps in memory, and the stored
    room decides: a booking checked against rules changed since is checked again."""
    admin = api_token(client, "admin")
    booker = api_token(client, "room_admin")
    me = client.get("/api/v1/me", headers=booker).json()["id"]
    room = make_room(client, admin, name="Changing", opens_at="08:00", closes_at="20:00")
    assert book(client, booker, room["id"], at(9), at(10)).status_code == 201  # the room is known now

    def change(**fields):
        r = client.patch(f"/api/v1/rooms/{room['id']}", json=fields, headers=admin)
        assert r.status_code == 200, r.text

    change(closes_at="18:00")
    late = book(client, booker, room["id"], at(19), at(20))
    assert late.status_code == 400 and "open from 08:00 to 18:00" in late.json()["message"]
    change(needs_approval=True)
    assert book(client, booker, room["id"], at(10), at(11)).json()["status"] == "pending"
    change(owner_ids=[me])
    assert book(client, booker, room["id"], at(11), at(12)).json()["status"] == "confirmed"
    change(buffer_minutes=30)
    assert book(client, booker, room["id"], at(12), at(13)).status_code == 201
    assert book(client, booker, room["id"], at(13, 15), at(14)).status_code == 409  # in the new buffer


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_another_process_writing_is_waited_for_while_the_server_goes_on(make_server):
    """SQLite: the writer writes in the event loop, so it must never wait there. While
    another connection holds the write lock, a booking waits for it (in the writer's
    thread) and the server answers everything else meanwhile; then the booking is made."""
    import sqlite3
    import threading

    server = make_server()
    admin = make_token(server_settings(server), "admin")
    room = httpx.post(
        f"{server.url}/api/v1/rooms", json={"name": "Locked", "capacity": 6, "opens_at": "07:00"}, headers=admin
    ).json()
    assert book_over_http(server, admin, room["id"], at(8), at(9)).status_code == 201  # the writer is up
    other = sqlite3.connect(server.env["SIGNAGE_DATABASE_URL"].split("///", 1)[1], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    answer: list[httpx.Response] = []
    waiting = threading.Thread(
        target=lambda: answer.append(book_over_http(server, admin, room["id"], at(10), at(11))), daemon=True
    )
    try:
        waiting.start()
        waiting.join(0.5)
        assert not answer, "the booking was written while another connection held the lock"
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
        listed = httpx.get(f"{server.url}/api/v1/rooms/{room['id']}", headers=admin, timeout=5)
        assert listed.status_code == 200 and listed.json()["name"] == "Locked"
        assert not answer
    finally:
        other.execute("COMMIT")
        other.close()
    waiting.join(20)
    assert answer and answer[0].status_code == 201, answer and answer[0].text
    assert book_over_http(server, admin, room["id"], at(12), at(13)).status_code == 201  # and back in the loop


def book_over_http(server, headers: dict, room_id: int, start, end) -> httpx.Response:
    body = {"room_id": room_id, "title": "t", "start": iso(start), "end": iso(end)}
    return httpx.post(f"{server.url}/api/v1/bookings", json=body, headers=headers, timeout=30)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_sqlite_writer_checkpoints_its_wal(client, monkeypatch):
    """The writer's connection never checkpoints on commit (that would fsync in the event
    loop): it checkpoints in its thread once the WAL has grown, so the WAL stays bounded."""
    import os

    from booking_api.bookings import writer

    monkeypatch.setattr(writer, "WAL_CHECKPOINT", 64 << 10)
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Checkpoint")
    wal = client.app.state.db.engine.url.database + "-wal"
    biggest = 0
    for n in range(120):  # one commit each: far more than 64 KB of WAL without checkpoints
        start = at(0) + dt.timedelta(minutes=10 * n)
        assert book(client, admin, room["id"], start, start + dt.timedelta(minutes=10)).status_code == 201
        biggest = max(biggest, os.stat(wal).st_size)
    # Without the writer's checkpoints these commits grow the WAL to about 4 MB (until another
    # connection's autocheckpoint at 1000 pages); with them it stays near 200 KB, more while a
    # reader (the event dispatcher, a live page) holds a snapshot a PASSIVE checkpoint cannot pass.
    assert biggest < 1 << 20, biggest
    assert len(rows(client, select(Booking))) == 120


def test_a_failing_event_bus_loses_no_booking_nor_its_live_update(client, monkeypatch):
    """While the bus is broken the bookings stand and are answered; the live consumer of the
    event log fails and is retried with back-off, and once the bus is back the pages hear of
    them (nothing lost: they follow the log, not the request)."""
    from signage.events import EventsUnavailable, Subscription

    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Quiet bus")
    bus = client.app.state.bus
    working = bus.publish_many

    async def broken(events):
        raise EventsUnavailable("bus broken")

    monkeypatch.setattr(bus, "publish_many", broken)
    assert book(client, admin, room["id"], at(9), at(10)).status_code == 201
    assert book(client, admin, room["id"], at(10), at(11)).status_code == 201
    assert len(rows(client, select(Booking))) == 2
    wait_for(lambda: client.get("/healthz").json()["event_log"]["consumers"]["live"]["failures"] >= 1)

    async def listen():
        sub = Subscription(bus.hub, ("bookings",))
        bus.hub.add(sub)
        return sub

    sub = in_app(client, listen)
    monkeypatch.setattr(bus, "publish_many", working)

    async def told():
        return not sub.queue.empty() and sub.queue.get_nowait()

    told_rooms = wait_for(lambda: in_app(client, told), timeout=60)
    assert told_rooms == ("bookings", {"type": "booking", "rooms": [room["id"]]})
