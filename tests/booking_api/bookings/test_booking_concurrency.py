"""Hundreds of simultaneous requests for one room through real server processes:
exactly one booking is made, every other request gets a 409 (SQLite and PostgreSQL).

Each race runs against one server process, and (slow) against two processes sharing
the database and Redis, so the overlap is raced across processes on both databases:
on PostgreSQL only the exclusion constraint stands between two writers there.
"""

import asyncio
import datetime as dt

import httpx
import pytest
from bookings_helpers import at, iso
from fixtures import make_token, run_sync, server_settings
from sqlalchemy import select

from booking_api.models import Booking
from signage.db import Database

REQUESTS = 200


@pytest.fixture(params=[1, pytest.param(2, marks=pytest.mark.slow)], ids=["1-process", "2-processes"])
def servers(request, make_server) -> list:
    """One server process, or two sharing the database and Redis (as a site with several
    processes runs). Not more: PostgreSQL's connection limit is shared with the machine's
    other test runs, and a process pools up to 30."""
    if request.param == 1:
        return [make_server()]
    redis = request.getfixturevalue("redis_url")
    return [make_server(SIGNAGE_REDIS_URL=redis) for _ in range(request.param)]


async def fire(
    urls: list[str], headers: dict, bodies: list[dict], extra_headers=None, method="POST", paths=None
) -> list[httpx.Response]:
    """Every request at once, spread over the servers in turn; `paths[i]` (default the
    bookings collection) is where request i goes."""
    limits = httpx.Limits(max_connections=REQUESTS)
    async with httpx.AsyncClient(timeout=120, limits=limits) as c:
        tasks = [
            c.request(
                method,
                f"{urls[i % len(urls)]}{paths[i] if paths else '/api/v1/bookings'}",
                json=body,
                headers={**headers, **(extra_headers or {})},
            )
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


def assert_no_overlap(bookings) -> None:
    """No two active bookings of one room block overlapping times (buffers included)."""
    by_room: dict[int, list[Booking]] = {}
    for b in bookings:
        if b.status in ("pending", "confirmed"):
            by_room.setdefault(b.room_id, []).append(b)
    for room_bookings in by_room.values():
        room_bookings.sort(key=lambda b: b.start_at)
        for before, after in zip(room_bookings, room_bookings[1:], strict=False):
            assert after.start_at >= before.blocked_until, (before.id, after.id)


def assert_conflicts(answers, winner_ids) -> None:
    """Every loser got the 409 of a taken room, naming a winner, with suggestions."""
    for r in answers:
        if r.status_code == 409:
            body = r.json()
            assert body["error"] == "conflict", body
            assert set(body["detail"]) == {"conflicts", "suggestions"}, body
            assert set(body["detail"]["suggestions"]) == {"next_free", "rooms"}, body
            taken = {b["id"] for c in body["detail"]["conflicts"] for b in c["with"]}
            assert taken and taken <= set(winner_ids), body


def test_overlapping_requests_leave_exactly_one_booking(servers):
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
    [booking] = [b for b in stored(settings) if b.status == "confirmed"]
    assert len(stored(settings)) == 1
    [winner] = [r.json() for r in answers if r.status_code == 201]
    assert winner["id"] == booking.id and booking.title == winner["title"]
    assert_conflicts(answers, [winner["id"]])


def test_retries_with_one_idempotency_key_book_once(servers):
    settings = server_settings(servers[0])
    admin, member = make_token(settings, "room_admin"), make_token(settings, "member")
    room = httpx.post(f"{servers[0].url}/api/v1/rooms", json={"name": "Retry", "capacity": 6}, headers=admin).json()
    body = {"room_id": room["id"], "title": "OA", "start": iso(at(14)), "end": iso(at(15))}
    answers = run_sync(fire([s.url for s in servers], member, [body] * 50, {"Idempotency-Key": "oa-42"}))
    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["id"] for r in answers}) == 1
    assert len(stored(settings)) == 1
    assert dt.datetime.fromisoformat(answers[0].json()["start"]) == at(14)


def test_a_room_deleted_while_it_is_being_booked_loses_no_booking(servers):
    """A DELETE of a room racing a burst of bookings into it: either the delete is refused
    (409: a booking was made first, and every booking answered 201 is kept), or it wins and
    no booking was answered 201 (each got 404). Never a 201 whose booking is gone."""
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


MOVES = 50


def test_moves_of_different_bookings_into_one_slot_leave_one_there(servers):
    """Fifty bookings, each moved by its own PATCH into the same hour at the same time:
    one move wins (200), every other gets the 409 a POST gets, and its booking stays put."""
    settings = server_settings(servers[0])
    admin, member = make_token(settings, "room_admin"), make_token(settings, "member")
    urls = [s.url for s in servers]
    room = httpx.post(f"{urls[0]}/api/v1/rooms", json={"name": "Moves", "capacity": 6}, headers=admin).json()
    ids = []
    for i in range(MOVES):  # ten minutes each, one after the other, the day after the hot hour
        start = at(8, days=2) + dt.timedelta(minutes=10 * i)
        body = {
            "room_id": room["id"],
            "title": f"m{i}",
            "start": iso(start),
            "end": iso(start + dt.timedelta(minutes=10)),
        }
        r = httpx.post(f"{urls[0]}/api/v1/bookings", json=body, headers=member)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    before = {b.id: (b.start_at, b.end_at) for b in stored(settings)}
    # every move overlaps every other: starts vary inside 10:00-10:49, each lasts an hour
    moves = [{"start": iso(at(10, i)), "end": iso(at(11, i))} for i in range(MOVES)]
    answers = run_sync(fire(urls, member, moves, method="PATCH", paths=[f"/api/v1/bookings/{i}" for i in ids]))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(200) == 1 and codes.count(409) == MOVES - 1, [
        r.text[:300] for r in answers if r.status_code not in (200, 409)
    ][:3] or codes
    [winner] = [r.json() for r in answers if r.status_code == 200]
    assert_conflicts(answers, [winner["id"]])
    after = stored(settings)
    assert_no_overlap(after)
    n = ids.index(winner["id"])
    for b in after:
        assert b.status == "confirmed"
        assert (b.start_at, b.end_at) == ((at(10, n), at(11, n)) if b.id == winner["id"] else before[b.id])
    # the loser's 409 is the one a POST into the slot gets
    post = {"room_id": room["id"], "title": "late", "start": iso(at(10, 30)), "end": iso(at(11, 30))}
    refused = httpx.post(f"{urls[-1]}/api/v1/bookings", json=post, headers=member)
    assert refused.status_code == 409
    lost = next(r.json() for r in answers if r.status_code == 409)
    assert set(lost) == set(refused.json()) and set(lost["detail"]) == set(refused.json()["detail"])
    assert lost["detail"]["conflicts"][0]["with"] == refused.json()["detail"]["conflicts"][0]["with"]


def test_overlapping_series_leave_exactly_one_series(servers):
    """Series of three days, starting on one of three days at minutes apart: every series
    overlaps every other on the third day, so one is booked whole and each other gets a 409."""
    settings = server_settings(servers[0])
    admin, member = make_token(settings, "room_admin"), make_token(settings, "member")
    room = httpx.post(f"{servers[0].url}/api/v1/rooms", json={"name": "Series", "capacity": 6}, headers=admin).json()
    count = 60
    bodies = [
        {
            "room_id": room["id"],
            "title": f"s{i}",
            "start": iso(at(10, i % 60, days=1 + i % 3)),
            "end": iso(at(11, i % 60, days=1 + i % 3)),
            "rrule": "FREQ=DAILY;COUNT=3",
        }
        for i in range(count)
    ]
    answers = run_sync(fire([s.url for s in servers], member, bodies))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(201) == 1 and codes.count(409) == count - 1, [
        r.text[:300] for r in answers if r.status_code not in (201, 409)
    ][:3] or codes
    [winner] = [r.json() for r in answers if r.status_code == 201]
    made = [o["id"] for o in winner["occurrences"]]
    assert len(made) == 3
    assert_conflicts(answers, made)
    kept = stored(settings)
    assert_no_overlap(kept)
    assert sorted(b.id for b in kept) == sorted(made)
