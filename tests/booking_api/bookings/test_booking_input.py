"""Bad input to the booking API: each a clear 4xx, nothing written."""

from bookings_helpers import at, iso, make_room
from fixtures import api_token, rows
from sqlalchemy import select

from booking_api.models import Attendee, Booking, Room, Series

NINE, TEN, ELEVEN = at(9), at(10), at(11)  # one day for the cases and the body, even across midnight

CASES = [
    ({"end": iso(NINE)}, 400, "must end after it starts"),
    ({"end": iso(TEN)}, 400, "has no length"),
    ({"start": TEN.replace(tzinfo=None).isoformat()}, 400, "timezone"),
    ({"start": "tomorrow at ten"}, 400, "Some fields are not valid"),
    ({"start": 1767225600}, 400, "ISO 8601"),
    ({"room_id": 987654}, 404, "No such room"),
    ({"room_id": "first"}, 400, "Some fields are not valid"),
    ({"title": ""}, 400, "Some fields are not valid"),
    ({"title": 42}, 400, "Some fields are not valid"),
    ({"attendees": "everyone"}, 400, "Some fields are not valid"),
    ({"attendees": [{"email": "no-name@example.com"}]}, 400, "Some fields are not valid"),
    ({"rrule": "FREQ=HOURLY;COUNT=3"}, 400, "daily, weekly or monthly"),
    ({"rrule": "FREQ=DAILY;COUNT=100000"}, 400, "at most 500 times"),
    ({"rrule": "FREQ=DAILY"}, 400, "stop repeating"),
    ({"rrule": "garbage"}, 400, "not valid"),
    ({"rrule": 5}, 400, "Some fields are not valid"),
    ({"colour": "red"}, 400, "Some fields are not valid"),
]


def test_bad_booking_is_refused_and_nothing_written(client):
    admin, member = api_token(client, "room_admin"), api_token(client, "member")
    room = make_room(client, admin, name="Input", capacity=4)
    for change, status, message in CASES:
        body = {"room_id": room["id"], "title": "T", "start": iso(TEN), "end": iso(ELEVEN), **change}
        r = client.post("/api/v1/bookings", json=body, headers=member)
        assert r.status_code == status, (change, r.text)
        answer = r.json()
        assert message in answer["message"] + str(answer["detail"]), (change, answer)
    assert (
        rows(client, select(Booking)) == []
        and rows(client, select(Series)) == []
        and rows(client, select(Attendee)) == []
    )


def test_malformed_bodies_and_queries(client):
    member = api_token(client, "member")
    r = client.post("/api/v1/bookings", content=b"{not json", headers={**member, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["message"] == "The request body is not valid JSON."
    r = client.post("/api/v1/bookings", json=[1, 2], headers=member)
    assert r.status_code == 400 and "JSON object" in r.json()["message"]
    assert client.get("/api/v1/bookings", params={"from": "2026-01-01T10:00"}, headers=member).status_code == 400
    assert client.get("/api/v1/bookings", params={"room_id": "x"}, headers=member).status_code == 400
    assert client.get("/api/v1/availability", params={"date": "25/11/2026"}, headers=member).status_code == 400
    assert client.get("/api/v1/availability", params={"capacity": "many"}, headers=member).status_code == 400
    assert client.get("/api/v1/bookings/424242", headers=member).status_code == 404
    assert client.patch("/api/v1/bookings/424242", json={"title": "x"}, headers=member).status_code == 404
    assert client.delete("/api/v1/bookings/424242", headers=member).status_code == 404
    assert rows(client, select(Booking)) == []


ROOM_CASES = [
    ({"name": "", "capacity": 3}, "Some fields are not valid"),
    ({"name": "A", "capacity": 0}, "Some fields are not valid"),
    ({"name": "A", "capacity": "ten"}, "Some fields are not valid"),
    ({"name": "A", "capacity": 3, "opens_at": "25:00"}, "Some fields are not valid"),
    ({"name": "A", "capacity": 3, "opens_at": "18:00", "closes_at": "08:00"}, "open before it closes"),
    ({"name": "A", "capacity": 3, "buffer_minutes": -5}, "Some fields are not valid"),
    ({"name": "A", "capacity": 3, "owner_ids": [99999]}, "Owners must be room admins"),
]


def test_bad_room_is_refused(client):
    admin = api_token(client, "room_admin")
    for body, message in ROOM_CASES:
        r = client.post("/api/v1/rooms", json=body, headers=admin)
        assert r.status_code == 400 and message in r.json()["message"], (body, r.text)
    assert rows(client, select(Room)) == []


def test_room_names_are_unique(client):
    admin = api_token(client, "room_admin")
    make_room(client, admin, name="Twice", capacity=3)
    r = client.post("/api/v1/rooms", json={"name": "Twice", "capacity": 5}, headers=admin)
    assert r.status_code == 409 and "exists already" in r.json()["message"]
    assert len(rows(client, select(Room))) == 1
