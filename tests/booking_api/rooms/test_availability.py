"""The day grid: colours, pending marks, filters, a constant number of queries, the live stream."""

import datetime as dt
import threading
import time

import httpx
from bookings_helpers import at, book, iso, make_room
from fixtures import api_token, in_app, login, make_token, request_statements, server_settings, wait_for
from sqlalchemy import insert

from booking_api.models import Booking, Room
from booking_api.rooms import availability


def seed(client, rooms: int, prefix: str) -> None:
    """`rooms` rooms with a meeting each today; written directly (past times are allowed here)."""
    now = dt.datetime.now(dt.UTC)

    async def write():
        async with client.app.state.db.begin() as s:
            result = await s.execute(
                insert(Room).returning(Room.id),
                [
                    {
                        "name": f"{prefix} {i}",
                        "capacity": 4 + i % 10,
                        "floor": f"{i % 5}F",
                        "equipment": ["tv"] if i % 2 else [],
                    }
                    for i in range(rooms)
                ],
            )
            ids = [row[0] for row in result]
            s.add_all(
                Booking(
                    room_id=rid,
                    title="t",
                    organizer_id=None,
                    start_at=now,
                    end_at=now + dt.timedelta(hours=1),
                    blocked_until=now + dt.timedelta(hours=1),
                )
                for rid in ids
            )

    in_app(client, write)


def count_queries(client, fn) -> int:
    return len(request_statements(client, fn))


def test_queries_do_not_grow_with_rooms(client):
    member = api_token(client, "member")

    def grid_queries() -> int:
        client.get("/api/v1/availability", headers=member)  # who the token is for is then remembered 5 s
        return count_queries(client, lambda: client.get("/api/v1/availability", headers=member))

    seed(client, 5, "few")
    few = grid_queries()
    seed(client, 200, "many")  # may take longer than 5 s on a busy machine
    many = grid_queries()
    assert few == many <= 6, (few, many)  # rooms, bookings (+ BEGIN on SQLite)
    assert len(client.get("/api/v1/availability", headers=member).json()["rooms"]) == 205
    login(client, "member")
    assert count_queries(client, lambda: client.get("/rooms")) <= 8
    page = client.get("/rooms").text  # a hundred rooms a page
    assert page.count("<tr data-room-id=") == 100 and "Rooms 1–100 of 205" in page
    last = client.get("/rooms", params={"page": 3}).text
    assert last.count("<tr data-room-id=") == 5 and "Rooms 201–205 of 205" in last


def test_states_and_filters(client):
    admin, member = api_token(client, "room_admin"), api_token(client, "member")
    a = make_room(client, admin, name="A", capacity=4, floor="3F", equipment=["projector", "tv"])
    b = make_room(client, admin, name="B", capacity=12, floor="5F", needs_approval=True)
    book(client, member, b["id"], at(10), at(11))
    tomorrow = at(0).date().isoformat()
    day = client.get("/api/v1/availability", params={"date": tomorrow}, headers=member).json()
    assert day["timezone"] == "Asia/Shanghai" and day["slot_minutes"] == 15
    availability.DayOut.model_validate(day)  # the answer is what the OpenAPI document says
    by_name = {r["name"]: r for r in day["rooms"]}
    assert by_name["B"]["bookings"][0]["status"] == "pending" and by_name["B"]["bookings"][0]["state"] == "booked"
    assert by_name["A"]["bookings"] == []
    only = client.get("/api/v1/availability", params={"date": tomorrow, "capacity": 10}, headers=member).json()
    assert [r["name"] for r in only["rooms"]] == ["B"]
    only = client.get(
        "/api/v1/availability", params={"date": tomorrow, "equipment": "projector"}, headers=member
    ).json()
    assert [r["name"] for r in only["rooms"]] == ["A"]
    only = client.get("/api/v1/availability", params={"date": tomorrow, "floor": "5F"}, headers=member).json()
    assert [r["name"] for r in only["rooms"]] == ["B"]
    login(client, "member")
    page = client.get("/rooms", params={"date": tomorrow}).text
    assert page.count('<td class="cell booked pending"') == 4  # B's hour, four 15-minute slots, marked pending
    assert 'data-room-name="A"' in page and a["id"] != b["id"]


def test_room_status_for_door_screens():
    now = dt.datetime(2027, 1, 5, 10, tzinfo=dt.UTC)

    def b(h1, h2, status="confirmed"):
        return Booking(title=f"{h1}", start_at=now.replace(hour=h1), end_at=now.replace(hour=h2), status=status)

    assert availability.room_status([], now)["state"] == "free"
    st = availability.room_status([b(9, 11), b(13, 14)], now)
    assert st["state"] == "in_progress" and st["current"].title == "9" and st["next"].title == "13"
    assert availability.room_status([b(13, 14, "pending")], now)["state"] == "booked"
    assert availability.room_status([b(8, 9)], now)["state"] == "ended"
    assert availability.room_status([b(10, 11, "cancelled")], now)["state"] == "free"
    assert availability.booking_state(b(8, 9), now) == "ended"


def test_bookings_reach_the_grid_stream_live(make_server):
    """A booking and a room's edit reach the grid's stream; the stream, still open when the
    server stops, ends properly (uvicorn logged "ASGI callable returned without completing
    response" for sse-starlette's streams; the server_errors fixture fails on it)."""
    server = make_server()
    settings = server_settings(server)
    admin, member = make_token(settings, "room_admin"), make_token(settings, "member")
    room = httpx.post(f"{server.url}/api/v1/rooms", json={"name": "Live", "capacity": 4}, headers=admin).json()
    found, stop = [], threading.Event()

    def listen():
        try:
            with httpx.stream(
                "GET", f"{server.url}/events/bookings", headers={**member, "Accept": "text/event-stream"}, timeout=10
            ) as r:
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        found.append((line.split(":", 1)[1].strip(), time.monotonic()))
                    if stop.is_set():
                        return
        except httpx.HTTPError:
            return

    threading.Thread(target=listen, daemon=True).start()
    wait_for(lambda: found, timeout=10)
    assert found[0][0] == "hello"
    body = {"room_id": room["id"], "title": "x", "start": iso(at(10)), "end": iso(at(11))}
    assert httpx.post(f"{server.url}/api/v1/bookings", json=body, headers=member).status_code == 201
    wait_for(lambda: len(found) >= 2, timeout=10)
    r = httpx.patch(f"{server.url}/api/v1/rooms/{room['id']}", json={"name": "Live 2"}, headers=admin)
    assert r.status_code == 200, r.text
    wait_for(lambda: len(found) >= 3, timeout=10)
    stop.set()
    assert [e for e, _t in found[:3]] == ["hello", "changed", "changed"]
    assert httpx.get(f"{server.url}/events/bookings", headers=member).status_code == 400  # not an EventSource
