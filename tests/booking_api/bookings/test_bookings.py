"""Bookings through the API: create, conflict (409 with suggestions), rules, edit, cancel, idempotency."""

import datetime as dt
import uuid

import pytest
from bookings_helpers import at, book, iso, make_room
from fixtures import PG_URL, add_user, api_token, in_app, need, pg_admin, rows, run_sync, wait_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from booking_api.models import Attendee, Booking
from signage.migrate import upgrade
from signage.models import AuditEntry, User


def test_book_a_room_and_read_it_back(client):
    admin = api_token(client, "room_admin")
    member = api_token(client, "member")
    room = make_room(client, admin, name="Everest", capacity=10, equipment=["projector"])
    attendees = [
        {"name": "Li Lei", "email": "li@example.com", "phone": "13800000000", "role": "chair"},
        {"name": "Guest", "email": "", "role": "optional"},
    ]
    r = book(client, member, room["id"], at(10), at(11), attendees=attendees, notes="bring tea", services=["tea"])
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["status"] == "confirmed" and b["room_id"] == room["id"]
    assert dt.datetime.fromisoformat(b["start"]) == at(10)
    got = client.get(f"/api/v1/bookings/{b['id']}", headers=member).json()
    assert [a["name"] for a in got["attendees"]] == ["Li Lei", "Guest"] and got["services"] == ["tea"]
    listed = client.get(
        "/api/v1/bookings", params={"room_id": room["id"], "from": iso(at(0)), "to": iso(at(23))}, headers=member
    ).json()
    assert [x["id"] for x in listed] == [b["id"]]
    assert (
        client.get("/api/v1/bookings", params={"room_id": room["id"], "from": iso(at(12))}, headers=member).json() == []
    )
    assert rows(client, select(AuditEntry.action).where(AuditEntry.action == "booking.create"))


def test_overlap_is_refused_with_suggestions(client):
    admin = api_token(client, "room_admin")
    member = api_token(client, "member")
    big = make_room(client, admin, name="Big", capacity=20, buffer_minutes=15)
    make_room(client, admin, name="Small", capacity=2)
    other = make_room(client, admin, name="Other", capacity=12)
    assert book(client, member, big["id"], at(10), at(11)).status_code == 201
    r = book(client, member, big["id"], at(10, 30), at(11, 30), attendees=[{"name": f"p{i}"} for i in range(5)])
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "conflict" and "Big is already booked" in body["message"]
    [clash] = body["detail"]["conflicts"]
    assert dt.datetime.fromisoformat(clash["with"][0]["start"]) == at(10)
    # the next free hour starts after the meeting and its 15-minute buffer
    nxt = body["detail"]["suggestions"]["next_free"]
    assert dt.datetime.fromisoformat(nxt["start"]) == at(11, 15)
    assert dt.datetime.fromisoformat(nxt["end"]) == at(12, 15)
    # other free rooms with at least 5 seats
    assert [x["name"] for x in body["detail"]["suggestions"]["rooms"]] == ["Other"]
    assert other["id"] == body["detail"]["suggestions"]["rooms"][0]["id"]
    # the buffer counts: 11:00-11:15 is blocked, 11:15 is fine
    assert book(client, member, big["id"], at(11, 5), at(11, 30)).status_code == 409
    assert book(client, member, big["id"], at(11, 15), at(12)).status_code == 201
    # a meeting before must end a buffer's length before the next one starts
    assert book(client, member, big["id"], at(9), at(9, 50)).status_code == 409
    assert book(client, member, big["id"], at(9), at(9, 45)).status_code == 201
    assert len(rows(client, select(Booking))) == 3


def test_room_rules_are_enforced_with_clear_messages(client):
    admin = api_token(client, "room_admin")
    member = api_token(client, "member")
    room = make_room(
        client,
        admin,
        name="Ruled",
        capacity=4,
        opens_at="08:00",
        closes_at="18:00",
        max_minutes=120,
        window_days=30,
        notice_minutes=60,
    )
    cases = [
        (at(7), at(9), "open from 08:00 to 18:00"),
        (at(17), at(19), "open from 08:00 to 18:00"),
        (at(9), at(12), "at most 120 minutes"),
        (at(9, days=40), at(10, days=40), "at most 30 days ahead"),
    ]
    for start, end, message in cases:
        r = book(client, member, room["id"], start, end)
        assert r.status_code == 400 and message in r.json()["message"], (start, r.text)
    soon = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=10)  # may cross midnight
    room2 = make_room(client, admin, name="Notice", capacity=4, notice_minutes=60)
    r = book(client, member, room2["id"], soon, soon + dt.timedelta(minutes=30))
    assert r.status_code == 400 and "at least 60 minutes ahead" in r.json()["message"]
    assert rows(client, select(Booking)) == []


def test_edit_and_cancel(client):
    admin = api_token(client, "room_admin")
    member = api_token(client, "member")
    other = api_token(client, "member")
    room = make_room(client, admin, name="Edit", capacity=4)
    a = book(client, member, room["id"], at(10), at(11)).json()
    b = book(client, member, room["id"], at(12), at(13)).json()
    r = client.patch(
        f"/api/v1/bookings/{b['id']}", json={"start": iso(at(10, 30)), "end": iso(at(11, 30))}, headers=member
    )
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    r = client.patch(
        f"/api/v1/bookings/{b['id']}", json={"start": iso(at(14)), "end": iso(at(15)), "title": "Moved"}, headers=member
    )
    assert r.status_code == 200 and r.json()["title"] == "Moved"
    assert client.patch(f"/api/v1/bookings/{a['id']}", json={"title": "Mine?"}, headers=other).status_code == 403
    assert client.delete(f"/api/v1/bookings/{a['id']}", headers=other).status_code == 403
    r = client.delete(f"/api/v1/bookings/{a['id']}", headers=member)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    # the cancelled slot is free again
    assert book(client, member, room["id"], at(10), at(11)).status_code == 201
    assert client.delete(f"/api/v1/bookings/{a['id']}", headers=member).status_code == 409


def test_a_booking_moved_to_another_room_is_announced_to_both_rooms(client):
    """The door screens of the room it left and of the room it went to both hear of it
    (from the event log's live consumer: the event's `room_id` and `moved_from`)."""
    from signage.events import Subscription

    admin, member = api_token(client, "room_admin"), api_token(client, "member")
    old, new = make_room(client, admin, name="Left"), make_room(client, admin, name="Joined")
    b = book(client, member, old["id"], at(10), at(11)).json()
    hub = client.app.state.bus.hub
    channels = (f"room:{old['id']}", f"room:{new['id']}", "bookings")

    async def listen():
        sub = Subscription(hub, channels)
        hub.add(sub)
        return sub

    sub = in_app(client, listen)
    r = client.patch(f"/api/v1/bookings/{b['id']}", json={"room_id": new["id"]}, headers=member)
    assert r.status_code == 200 and r.json()["room_id"] == new["id"]
    got = []

    async def heard():
        while not sub.queue.empty():
            got.append(sub.queue.get_nowait())
        return ("bookings", {"type": "booking", "rooms": sorted([old["id"], new["id"]])}) in got

    wait_for(lambda: in_app(client, heard))

    async def leave():
        hub.remove(sub)

    in_app(client, leave)
    assert {channel for channel, _data in got} == set(channels), got


def test_idempotency_key_books_once(client):
    admin = api_token(client, "room_admin")
    member = api_token(client, "member")
    room = make_room(client, admin, name="Idem", capacity=4)
    key = {"Idempotency-Key": "oa-4711", **member}
    first = book(client, key, room["id"], at(10), at(11), attendees=[{"name": "A"}])
    again = book(client, key, room["id"], at(10), at(11), attendees=[{"name": "A"}])
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(rows(client, select(Booking))) == 1 and len(rows(client, select(Attendee))) == 1
    other = book(client, key, room["id"], at(12), at(13))
    assert other.status_code == 400 and "different request" in other.json()["message"]
    assert len(rows(client, select(Booking))) == 1


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # SQLite serialises writers instead
def test_postgresql_itself_refuses_overlaps(client, backend):
    """Below the application: the exclusion constraint refuses an overlapping insert."""
    admin = api_token(client, "room_admin")
    room = make_room(client, admin, name="Constrained", capacity=4, buffer_minutes=10)
    start = at(10).astimezone(dt.UTC)

    def insert(offset_minutes: int, status: str = "confirmed"):
        async def write():
            s_ = start + dt.timedelta(minutes=offset_minutes)
            async with client.app.state.db.begin() as s:
                s.add(
                    Booking(
                        room_id=room["id"],
                        title="raw",
                        organizer_id=None,
                        start_at=s_,
                        end_at=s_ + dt.timedelta(hours=1),
                        blocked_until=s_ + dt.timedelta(minutes=70),
                        status=status,
                    )
                )

        return in_app(client, write)

    insert(0)
    with pytest.raises(IntegrityError) as exc:
        insert(65)  # inside the first one's buffer
    assert "ex_bookings_room_time" in str(exc.value)
    insert(30, status="cancelled")  # inactive bookings do not count
    insert(70)  # right after the buffer
    assert len(rows(client, select(Booking))) == 3


def test_migration_creates_the_constraint_on_postgresql(tmp_path):
    need("PostgreSQL", "127.0.0.1", 5432)
    name = f"signage_x_{uuid.uuid4().hex[:10]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    try:
        upgrade(PG_URL.format(db=name))

        async def constraint():
            import asyncpg

            conn = await asyncpg.connect(f"postgresql://127.0.0.1:5432/{name}")
            try:
                return await conn.fetchval(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ex_bookings_room_time'"
                )
            finally:
                await conn.close()

        definition = run_sync(constraint())
        assert definition.startswith(
            "EXCLUDE USING gist (room_id WITH =, tstzrange(start_at, blocked_until, '[)'::text) WITH &&)"
        )
        assert "pending" in definition and "confirmed" in definition
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_room_open_all_day_takes_meetings_past_midnight(client):
    """A room open 00:00–24:00 never closes: a meeting may run past midnight. A room
    that closes at midnight refuses it; the longest booking still applies."""
    admin = api_token(client, "admin")
    always = make_room(client, admin, name="Always", max_minutes=120)
    late = make_room(client, admin, name="Late", opens_at="08:00", closes_at="24:00")
    r = book(client, admin, always["id"], at(23, 30), at(0, 30, days=2))
    assert r.status_code == 201, r.text
    for day in (at(0).date(), at(0, days=2).date()):  # on the grid of both days
        grid = client.get("/api/v1/availability", params={"date": day.isoformat()}, headers=admin).json()
        room = next(x for x in grid["rooms"] if x["id"] == always["id"])
        assert [b["id"] for b in room["bookings"]] == [r.json()["id"]]
    r = book(client, admin, always["id"], at(23, 30, days=3), at(2, 0, days=4))
    assert r.status_code == 400 and "at most 120 minutes" in r.json()["message"]
    r = book(client, admin, late["id"], at(23, 30), at(0, 30, days=2))
    assert r.status_code == 400 and "open from 08:00 to 24:00" in r.json()["message"]
    assert book(client, admin, late["id"], at(23, 0), at(0, 0, days=2)).status_code == 201


def test_attendees_who_are_users_are_linked_and_unknown_user_ids_refused(client):
    admin = api_token(client, "room_admin")
    member = api_token(client, "member")
    room = make_room(client, admin, name="People", capacity=10)
    colleague = add_user(client, "member")
    [user_id] = [u.id for u in rows(client, select(User).where(User.email == colleague))]
    stranger = [{"name": "Nobody", "user_id": 2_000_000_000}]
    # an attendee id that is no user: 400 naming the attendee, nothing written (single, series, edit)
    for extra in ({}, {"rrule": "FREQ=DAILY;COUNT=3"}):
        r = book(client, member, room["id"], at(9), at(10), attendees=stranger, **extra)
        assert r.status_code == 400, r.text
        assert r.json()["detail"] == [{"field": "attendees.0.user_id", "message": "2000000000"}]
    assert rows(client, select(Booking)) == []
    # by email (any case) or by id, a user of the system; anyone else a guest
    attendees = [
        {"name": "Colleague", "email": colleague.upper()},
        {"name": "By id", "user_id": user_id},
        {"name": "Guest", "email": "guest@example.org"},
    ]
    made = book(client, member, room["id"], at(9), at(10), attendees=attendees)
    assert made.status_code == 201, made.text
    got = client.get(f"/api/v1/bookings/{made.json()['id']}", headers=member).json()["attendees"]
    assert [(a["name"], a["user_id"]) for a in got] == [("Colleague", user_id), ("By id", user_id), ("Guest", None)]
    assert got[1]["email"] == colleague
    r = client.patch(f"/api/v1/bookings/{made.json()['id']}", json={"attendees": stranger}, headers=member)
    assert r.status_code == 400
    assert len(rows(client, select(Attendee))) == 3
