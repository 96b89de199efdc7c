"""Deleting a room (API and the manage page), and listing bookings by day."""

import datetime as dt

import pytest
from bookings_helpers import TZ, at, book, make_room
from fixtures import api_token, csrf, in_app, login, pages, refuses_bad_paging, rows
from sqlalchemy import select

from booking_api.models import Attendee, Booking, Room, RoomOwner
from player.models import Screen
from signage.api import make_cursor
from signage.models import AuditEntry


@pytest.fixture
def client(make_client):
    return make_client(test_clock=True)


def shift_to(client, admin, when: dt.datetime) -> None:
    now = dt.datetime.fromisoformat(
        client.post("/api/v1/clock", json={"shift_seconds": 0}, headers=admin).json()["now"]
    )
    r = client.post("/api/v1/clock", json={"shift_seconds": (when - now).total_seconds()}, headers=admin)
    assert r.status_code == 200, r.text


def test_a_room_with_meetings_to_come_is_not_deleted(client):
    admin = api_token(client, "admin")
    member = api_token(client, "member")
    room = make_room(client, admin, name="Doomed", capacity=6)
    keep = make_room(client, admin, name="Kept", capacity=6)
    first = book(client, member, room["id"], at(10), at(11), attendees=[{"name": "Li"}]).json()
    later = book(client, member, room["id"], at(14), at(15)).json()
    other = book(client, member, keep["id"], at(10), at(11)).json()

    r = client.delete(f"/api/v1/rooms/{room['id']}", headers=admin)
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["error"] == "conflict" and "Doomed" in body["message"]
    assert body["detail"]["bookings"] == [first["id"], later["id"]]
    assert client.get(f"/api/v1/rooms/{room['id']}", headers=admin).status_code == 200

    # a cancelled meeting does not hold the room back; one in progress does
    assert client.delete(f"/api/v1/bookings/{later['id']}", headers=member).status_code == 200
    shift_to(client, admin, at(10, 5))  # before 10:15, when the room timer would release it as a no-show
    r = client.delete(f"/api/v1/rooms/{room['id']}", headers=admin)
    assert r.status_code == 409 and r.json()["detail"]["bookings"] == [first["id"]]

    # once it has ended, the room goes, with its past bookings and their attendees
    shift_to(client, admin, at(11, 1))
    r = client.delete(f"/api/v1/rooms/{room['id']}", headers=admin)
    assert r.status_code == 204, r.text
    assert client.get(f"/api/v1/rooms/{room['id']}", headers=admin).status_code == 404
    assert client.delete(f"/api/v1/rooms/{room['id']}", headers=admin).status_code == 404
    assert [b.id for b in rows(client, select(Booking))] == [other["id"]]
    assert rows(client, select(Attendee)) == []
    assert [r.name for r in rows(client, select(Room))] == ["Kept"]
    # it can no longer be booked, and its name is free again
    assert book(client, member, room["id"], at(16), at(17)).status_code == 404
    assert make_room(client, admin, name="Doomed", capacity=6)["id"] != room["id"]
    audited = rows(client, select(AuditEntry).where(AuditEntry.action == "room.delete").order_by(AuditEntry.id))
    assert [a.result for a in audited] == ["failure", "failure", "success", "failure"]


def test_only_a_room_s_admins_delete_it(client):
    admin = api_token(client, "admin")
    owner = api_token(client, "room_admin")
    stranger = api_token(client, "room_admin")
    member = api_token(client, "member")
    room = make_room(client, owner, name="Owned", capacity=4)
    assert client.delete(f"/api/v1/rooms/{room['id']}", headers=member).status_code == 403
    assert client.delete(f"/api/v1/rooms/{room['id']}", headers=stranger).status_code == 403
    assert client.delete("/api/v1/rooms/999999", headers=admin).status_code == 404
    assert client.delete(f"/api/v1/rooms/{room['id']}", headers=owner).status_code == 204
    assert rows(client, select(RoomOwner)) == []


def test_a_screen_of_a_deleted_room_keeps_playing_without_it(client):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Door", capacity=4)

    async def add_screen():
        async with client.app.state.db.begin() as s:
            screen = Screen(name="door tablet", key_hash="x" * 64, room_id=room["id"])
            s.add(screen)
            await s.flush()
            return screen.id

    screen_id = in_app(client, add_screen)
    assert client.delete(f"/api/v1/rooms/{room['id']}", headers=admin).status_code == 204
    [screen] = rows(client, select(Screen).where(Screen.id == screen_id))
    assert screen.room_id is None


def test_delete_a_room_on_the_manage_page(client):
    login(client, "admin")
    admin = api_token(client, "admin")
    member = api_token(client, "member")
    busy = make_room(client, admin, name="Busy room", capacity=4)
    idle = make_room(client, admin, name="Idle room", capacity=4)
    book(client, member, busy["id"], at(10), at(11))
    page = client.get("/rooms/manage")
    assert f'action="/rooms/{idle["id"]}/delete"' in page.text
    r = client.post(f"/rooms/{busy['id']}/delete", data={"csrf_token": csrf(client)})
    assert r.status_code == 409 and "Busy room still has meetings to come" in r.text
    r = client.post(f"/rooms/{idle['id']}/delete", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303
    assert [r.name for r in rows(client, select(Room))] == ["Busy room"]
    assert client.post(f"/rooms/{busy['id']}/delete", data={}).status_code == 403  # no CSRF token


def test_bookings_are_listed_by_day_of_the_site(client):
    admin = api_token(client, "admin")
    member = api_token(client, "member")
    room = make_room(client, admin, name="Daily", capacity=4)
    early = book(client, member, room["id"], at(0, 15), at(1)).json()  # 16:15 UTC the day before
    late = book(client, member, room["id"], at(23), at(23, 45)).json()
    next_day = book(client, member, room["id"], at(9, days=2), at(10, days=2)).json()
    day = at(0).date().isoformat()

    def listed(**params):
        r = client.get("/api/v1/bookings", params={"room_id": room["id"], **params}, headers=member)
        assert r.status_code == 200, r.text
        return [b["id"] for b in r.json()]

    assert listed(**{"from": day, "to": day}) == [early["id"], late["id"]]
    assert listed(**{"from": day}) == [early["id"], late["id"], next_day["id"]]
    assert listed(to=day) == [early["id"], late["id"]]
    two = (at(0) + dt.timedelta(days=1)).date().isoformat()
    assert listed(**{"from": two, "to": two}) == [next_day["id"]]
    midnight = dt.datetime.combine(at(0).date() + dt.timedelta(days=1), dt.time(), TZ).isoformat()
    assert listed(**{"from": day, "to": midnight}) == [early["id"], late["id"]]
    assert listed(status="confirmed") == [early["id"], late["id"], next_day["id"]]
    for params in ({"from": "2026-02-30"}, {"to": "2026-1-01"}, {"from": "0001-01-01"}, {"status": "maybe"}):
        r = client.get("/api/v1/bookings", params=params, headers=member)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["detail"]["field"] == next(iter(params))


def test_rooms_are_listed_by_building_floor_capacity_and_equipment(client):
    admin = api_token(client, "admin")
    a = make_room(client, admin, name="A3 big", building="A", floor="3F", capacity=12, equipment=["projector", "tv"])
    make_room(client, admin, name="A3 small", building="A", floor="3F", capacity=4, equipment=["tv"])
    b = make_room(client, admin, name="B3", building="B", floor="3F", capacity=20, equipment=["projector"])

    def names(**params):
        r = client.get("/api/v1/rooms", params=params, headers=admin)
        assert r.status_code == 200, r.text
        return [x["name"] for x in r.json()]

    assert names() == ["A3 big", "A3 small", "B3"]
    assert names(building="A") == ["A3 big", "A3 small"]
    assert names(floor="3F", capacity="10") == ["A3 big", "B3"]
    assert names(equipment="projector") == [a["name"], b["name"]]
    assert names(equipment="projector, tv", building="A") == ["A3 big"]
    assert names(building="C") == []
    r = client.get("/api/v1/rooms", params={"capacity": "many"}, headers=admin)
    assert r.status_code == 400 and r.json()["detail"]["field"] == "capacity"


def test_the_rooms_list_pages_by_id_with_its_filters(client):
    """Issue 13 point 7: `limit` and `cursor`, the next page in `Link`, rooms added meanwhile
    neither repeated nor skipped; equipment (checked after reading) still fills each page."""
    admin = api_token(client, "admin")
    member = api_token(client, "member")
    tv = {0, 4, 6}
    ids = [make_room(client, admin, name=f"R{i}", equipment=["tv"] if i in tv else [])["id"] for i in range(7)]

    got = pages(client, "/api/v1/rooms?limit=3", member)
    assert [len(p) for p in got] == [3, 3, 1]  # no Link after the last page
    assert [r["id"] for p in got for r in p] == ids

    seen, url, added = [], "/api/v1/rooms?limit=2", []
    while url:  # a room added while paging comes once, at the end
        r = client.get(url, headers=member)
        seen += [x["id"] for x in r.json()]
        if len(added) < 2:
            added.append(make_room(client, admin, name=f"New {len(added)}")["id"])
        url = r.headers["link"][1 : r.headers["link"].index(">")] if "link" in r.headers else None
    assert seen == ids + added

    got = pages(client, "/api/v1/rooms?limit=1&equipment=tv", member)
    assert [[r["id"] for r in p] for p in got] == [[ids[i]] for i in sorted(tv)]
    got = pages(client, "/api/v1/rooms?limit=2&equipment=tv&capacity=8", member)
    assert [[r["id"] for r in p] for p in got] == [[ids[0], ids[4]], [ids[6]]]
    assert pages(client, "/api/v1/rooms?limit=2&building=Nowhere", member) == [[]]

    assert len(client.get("/api/v1/rooms", headers=member).json()) == 9  # 500 by default
    forged = [
        make_cursor("media", "2026-01-01T00:00:00+00:00", 1),
        make_cursor("rooms", "1"),
        make_cursor("rooms", 2**31),
    ]
    forged += [make_cursor("rooms", True), make_cursor("rooms", 1.5), make_cursor("rooms", 1, 2), make_cursor("rooms")]
    refuses_bad_paging(client, "/api/v1/rooms", member, forged)
