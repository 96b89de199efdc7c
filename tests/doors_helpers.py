"""Helpers for door-screen tests: a room with a booking, a door screen, the shiftable clock."""

from __future__ import annotations

import datetime as dt

from bookings_helpers import at, book, make_room
from fixtures import api_token, in_app, wait_for  # noqa: F401  (doors tests import it from here)

from booking_api.doors.layouts import create_layout, door_display
from signage import clock


def setup_room(client, **room) -> tuple[dict, dict]:
    """(admin headers, room) for a new room open all day."""
    admin = api_token(client, "admin")
    return admin, make_room(client, admin, name=room.pop("name", "Orchid"), **room)


def meeting(client, headers, room_id, hour=10, minutes=60, days=1, **extra) -> dict:
    start = at(hour, 0, days)
    r = book(client, headers, room_id, start, start + dt.timedelta(minutes=minutes), **extra)
    assert r.status_code == 201, r.text
    return r.json()


def go_to(client, when: dt.datetime) -> None:
    """Shift the app's clock to `when` (through the API, as a demo would) and let the timer act."""
    admin = api_token(client, "admin")
    r = client.post("/api/v1/clock", json={"shift_seconds": (when - clock.now()).total_seconds()}, headers=admin)
    assert r.status_code == 200, r.text


def status(client, headers, room_id) -> dict:
    r = client.get(f"/api/v1/rooms/{room_id}/status", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def door_screen(client, admin, room_id) -> dict:
    """A paired screen playing the room's published door layout: its key and id."""
    layout_id = in_app(client, create_layout, client.app.state.db, "Door", door_display(room_id), True)
    pair = client.post("/player/api/pair").json()
    r = client.post(
        "/api/v1/screens/claim", json={"code": pair["code"], "name": "Door", "layout_id": layout_id}, headers=admin
    )
    assert r.status_code == 201, r.text
    return {"key": pair["key"], "id": r.json()["id"], "headers": {"X-Screen-Key": pair["key"]}}
