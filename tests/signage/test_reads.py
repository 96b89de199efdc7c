"""The read path of hot endpoints (`signage.db.Database.read`, issue 21): never a stale
answer. A change made through one server process is in the very next read of the same
process and of another one on the same database, on SQLite (its on-loop, query-only read
connection) and PostgreSQL; and the reader cannot write."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from bookings_helpers import at
from fixtures import make_token, run_sync, server_settings
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from booking_api.models import Room
from signage.db import Database

pytestmark = pytest.mark.slow


def test_a_change_is_in_the_next_read_of_every_process(make_server):
    servers = [make_server(), make_server()]
    a, b = (s.url for s in servers)
    admin = make_token(server_settings(servers[0]), "admin")
    room = httpx.post(a + "/api/v1/rooms", json={"name": "Orchid", "capacity": 4}, headers=admin).json()
    for url in (a, b):  # both processes have read it (and would hold it, if anything cached it)
        assert httpx.get(f"{url}/api/v1/rooms/{room['id']}", headers=admin).json()["capacity"] == 4
    for n, writer in enumerate((a, b, a, b), start=5):
        r = httpx.patch(f"{writer}/api/v1/rooms/{room['id']}", json={"capacity": n}, headers=admin)
        assert r.status_code == 200, r.text
        for url in (a, b):
            assert httpx.get(f"{url}/api/v1/rooms/{room['id']}", headers=admin).json()["capacity"] == n

    start = at(10, days=1)
    body = {"room_id": room["id"], "title": "Review", "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=1)).isoformat(), "attendees": [{"name": "Li Wei", "email": "li@example.com"}]}  # fmt: skip
    made = httpx.post(b + "/api/v1/bookings", json=body, headers=admin).json()
    day = start.date().isoformat()
    for url in (a, b):
        listed = httpx.get(f"{url}/api/v1/bookings", params={"room_id": room["id"], "from": day, "to": day}, headers=admin)
        assert [x["id"] for x in listed.json()] == [made["id"]]
        assert listed.json()[0]["attendees"][0]["email"] == "li@example.com"
        one = httpx.get(f"{url}/api/v1/bookings/{made['id']}", headers=admin).json()
        assert one["title"] == "Review"
    httpx.delete(f"{a}/api/v1/bookings/{made['id']}", headers=admin)
    for url in (b, a):
        assert httpx.get(f"{url}/api/v1/bookings/{made['id']}", headers=admin).json()["status"] == "cancelled"
    httpx.delete(f"{b}/api/v1/rooms/{room['id']}", headers=admin)
    for url in (a, b):
        assert httpx.get(f"{url}/api/v1/rooms/{room['id']}", headers=admin).status_code == 404


def test_the_reader_reads_what_was_committed_and_cannot_write(make_settings):
    settings = make_settings()
    async def run():
        db = Database(settings.db_url)
        try:
            async with db.begin() as s:
                s.add(Room(name="Lotus", capacity=3))
            rows = await db.read(select(Room.__table__).where(Room.name == "Lotus"))
            assert [(r.name, r.capacity) for r in rows] == [("Lotus", 3)]
            async with db.begin() as s:
                (await s.scalars(select(Room).where(Room.name == "Lotus"))).one().capacity = 9
            assert (await db.read_one(select(Room.capacity).where(Room.name == "Lotus"))).capacity == 9
            assert await db.read_one(select(Room.__table__).where(Room.name == "Nobody")) is None
            if db.backend == "sqlite":
                assert db._reader is not None  # the on-loop connection, not aiosqlite's thread
                with pytest.raises(OperationalError, match="readonly|read-only|query_only"):
                    await db.read(text("DELETE FROM rooms"))
                assert len(await db.read(select(Room.id))) == 1
        finally:
            await db.close()

    run_sync(run())


def test_a_read_session_answers_what_the_orm_session_answers(make_settings):
    """`Database.reads()`: the read-only part of a session, on the read path. Models come
    back as detached instances with the values the ORM loads (properties work)."""
    from sqlalchemy import inspect as sa_inspect

    from booking_api.models import Booking, RoomOwner

    settings = make_settings()

    def values(obj):
        return {p.key: getattr(obj, p.key) for p in sa_inspect(type(obj)).column_attrs}

    async def run():
        db = Database(settings.db_url)
        try:
            start = dt.datetime(2026, 12, 8, 2, tzinfo=dt.UTC)
            async with db.begin() as s:
                s.add_all([Room(name="Lotus", capacity=3, equipment=["tv"]), Room(name="Orchid", capacity=8)])
                await s.flush()
                s.add(Booking(room_id=1, title="Review", start_at=start, end_at=start + dt.timedelta(hours=1),
                              blocked_until=start + dt.timedelta(hours=1), status="confirmed", services=["tea"]))  # fmt: skip

            async def check(reads):
                query = select(Booking, Room).join(Room, Room.id == Booking.room_id)
                async with db.session() as s:
                    orm_rooms = (await s.scalars(select(Room).order_by(Room.id))).all()
                    orm_pairs = (await s.execute(query)).all()
                    orm_booking = await s.get(Booking, 1)
                rooms = (await reads.scalars(select(Room).order_by(Room.id))).all()
                assert [values(r) for r in rooms] == [values(r) for r in orm_rooms]
                assert all(type(r) is Room for r in rooms)
                [(b, room)] = (await reads.execute(query)).all()
                assert (values(b), values(room)) == (values(orm_pairs[0][0]), values(orm_pairs[0][1]))
                got = await reads.get(Booking, 1)
                assert values(got) == values(orm_booking) and got.active and got.services == ["tea"]
                assert await reads.get(Booking, 2) is None
                assert await reads.get(RoomOwner, (1, 1)) is None
                assert await reads.scalar(select(Room.name).where(Room.id == 2)) == "Orchid"
                assert (await reads.scalars(select(Room.id).order_by(Room.id))).all() == [1, 2]
                assert (await reads.execute(select(Room.id, Room.name).order_by(Room.id))).all() == [(1, "Lotus"), (2, "Orchid")]
                with pytest.raises(TypeError):
                    await reads.execute(select(Room, Room.name))
                room = (await reads.scalars(select(Room).where(Room.id == 1))).one()
                assert room.equipment == ["tv"]

            await check(db.reads())  # each read on its own
            async with db.reads() as reads:  # PostgreSQL: one connection for them all
                await check(reads)
        finally:
            await db.close()

    run_sync(run())
