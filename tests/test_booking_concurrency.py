"""Hundreds of simultaneous requests for one room through real server processes:
exactly one booking is made, every other request gets a 409 (SQLite and PostgreSQL)."""

import asyncio
import datetime as dt

import httpx
from bookings_helpers import at, iso
from conftest import make_token, run_sync, server_settings
from sqlalchemy import select

from booking_api.models import Booking
from signage.db import Database

REQUESTS = 200


def start_servers(make_server, backend: str) -> list:
    """Two processes on SQLite (one file, serialised writers); one on PostgreSQL, whose
    connection limit the machine's other test runs share (a process pools up to 30)."""
    return [make_server() for _ in range(2 if backend == "sqlite" else 1)]


async def fire(urls: list[str], headers: dict, bodies: list[dict], extra_headers=None) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=REQUESTS)
    async with httpx.AsyncClient(timeout=120, limits=limits) as c:
        tasks = [
            c.post(f"{urls[i % len(urls)]}/api/v1/bookings", json=body, headers={**headers, **(extra_headers or {})})
            for i, body in enumerate(bodies)
        ]
        return await asyncio.gather(*tasks)


def stored(settings) -> list[Booking]:
    async def fetch():
        db = Database(settings.database_url)
        try:
            async with db.session() as s:
                return (await s.scalars(select(Booking))).all()
        finally:
            await db.close()

    return run_sync(fetch())


def test_overlapping_requests_leave_exactly_one_booking(make_server, backend):
    servers = start_servers(make_server, backend)
    settings = server_settings(servers[0])
    admin, member = make_token(settings, "room_admin"), make_token(settings, "member")
    room = httpx.post(f"{servers[0].url}/api/v1/rooms", json={"name": "Hot", "capacity": 6}, headers=admin).json()
    # every request overlaps every other: starts vary inside 10:00-10:59, each lasts an hour
    bodies = [
        {"room_id": room["id"], "title": f"m{i}", "start": iso(at(10, i % 60)), "end": iso(at(11, i % 60))}
        for i in range(REQUESTS)
    ]
    answers = run_sync(fire([s.url for s in servers], member, bodies))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(201) == 1 and codes.count(409) == REQUESTS - 1, codes
    assert all(r.json()["error"] == "conflict" for r in answers if r.status_code == 409)
    [booking] = [b for b in stored(settings) if b.status == "confirmed"]
    assert len(stored(settings)) == 1
    [winner] = [r.json() for r in answers if r.status_code == 201]
    assert winner["id"] == booking.id and booking.title == winner["title"]


def test_retries_with_one_idempotency_key_book_once(make_server, backend):
    servers = start_servers(make_server, backend)
    settings = server_settings(servers[0])
    admin, member = make_token(settings, "room_admin"), make_token(settings, "member")
    room = httpx.post(f"{servers[0].url}/api/v1/rooms", json={"name": "Retry", "capacity": 6}, headers=admin).json()
    body = {"room_id": room["id"], "title": "OA", "start": iso(at(14)), "end": iso(at(15))}
    answers = run_sync(fire([s.url for s in servers], member, [body] * 50, {"Idempotency-Key": "oa-42"}))
    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["id"] for r in answers}) == 1
    assert len(stored(settings)) == 1
    assert dt.datetime.fromisoformat(answers[0].json()["start"]) == at(14)


def test_a_room_deleted_while_it_is_being_booked_loses_no_booking(make_server, backend):
    """A DELETE of a room racing a burst of bookings into it: either the delete is refused
    (409: a booking was made first, and every booking answered 201 is kept), or it wins and
    no booking was answered 201 (each got 404). Never a 201 whose booking is gone."""
    servers = start_servers(make_server, backend)
    settings = server_settings(servers[0])
    admin, member = make_token(settings, "admin"), make_token(settings, "member")
    urls = [s.url for s in servers]
    for delay in (0.0, 0.02, 0.05, 0.1):
        room = httpx.post(f"{urls[0]}/api/v1/rooms", json={"name": f"Gone {delay}", "capacity": 6}, headers=admin)
        room = room.json()
        bodies = [
            {
                "room_id": room["id"],
                "title": f"m{i}",
                "start": iso(at((i % 40) // 2, (i % 2) * 30, days=1 + i // 40)),
                "end": iso(at((i % 40) // 2, (i % 2) * 30, days=1 + i // 40) + dt.timedelta(minutes=30)),
            }
            for i in range(100)
        ]

        async def race():
            async def delete():
                await asyncio.sleep(delay)
                async with httpx.AsyncClient(timeout=120) as c:
                    return await c.delete(f"{urls[-1]}/api/v1/rooms/{room['id']}", headers=admin)

            return await asyncio.gather(fire(urls, member, bodies), delete())

        answers, deleted = run_sync(race())
        codes = {r.status_code for r in answers}
        assert codes <= {201, 404}, [r.text for r in answers if r.status_code not in (201, 404)][:3]
        made = {r.json()["id"] for r in answers if r.status_code == 201}
        kept = {b.id for b in stored(settings) if b.room_id == room["id"]}
        assert made == kept
        if deleted.status_code == 204:
            assert not made
        else:
            assert deleted.status_code == 409, deleted.text
            assert made and codes == {201}
