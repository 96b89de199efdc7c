"""Helpers for the booking tests: rooms and times in the site's time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from fixtures import in_app
from sqlalchemy import update

from booking_api.models import Booking

TZ = ZoneInfo("Asia/Shanghai")  # the default site time zone


def at(hour: int, minute: int = 0, days: int = 1) -> dt.datetime:
    """`days` from today at hh:mm local time (aware)."""
    day = dt.datetime.now(TZ).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, minute), TZ)


def iso(value: dt.datetime) -> str:
    return value.isoformat()


def make_room(client, headers, **fields) -> dict:
    body = {"name": f"Room {fields.get('name_suffix', '')}", "capacity": 8}
    fields.pop("name_suffix", None)
    body.update(fields)
    r = client.post("/api/v1/rooms", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def book(client, headers, room_id, start, end, title="Sync", **extra):
    body = {"room_id": room_id, "title": title, "start": iso(start), "end": iso(end), **extra}
    return client.post("/api/v1/bookings", json=body, headers=headers)


def backdate(client, booking_id: int, hours: float) -> None:
    async def run():
        async with client.app.state.db.begin() as s:
            then = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
            await s.execute(update(Booking).where(Booking.id == booking_id).values(created_at=then))

    in_app(client, run)
