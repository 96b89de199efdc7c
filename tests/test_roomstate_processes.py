"""Several server processes each run a room timer: a no-show is released once,
audited once, whichever process gets there first (a conditional UPDATE)."""

from __future__ import annotations

import datetime as dt
import time

import httpx
import pytest
from bookings_helpers import at
from conftest import make_token, run_sync, server_settings
from sqlalchemy import select

from booking_api.models import Booking
from signage.db import Database
from signage.models import AuditEntry

pytestmark = pytest.mark.slow


def read(settings, query):
    async def run():
        db = Database(settings.db_url)
        try:
            async with db.session() as s:
                return (await s.scalars(query)).all()
        finally:
            await db.close()

    return run_sync(run())


def test_two_processes_release_a_no_show_once(make_server):
    servers = [make_server(SIGNAGE_TEST_CLOCK="1"), make_server(SIGNAGE_TEST_CLOCK="1")]
    settings = server_settings(servers[0])
    admin = make_token(settings, "admin")
    base = servers[0].url
    room = httpx.post(base + "/api/v1/rooms", json={"name": "Orchid", "capacity": 4}, headers=admin).json()
    ids = []
    for hour in (9, 10, 11):
        start = at(hour)
        body = {
            "room_id": room["id"],
            "title": f"At {hour}",
            "start": start.isoformat(),
            "end": (start + dt.timedelta(minutes=30)).isoformat(),
        }
        ids.append(httpx.post(base + "/api/v1/bookings", json=body, headers=admin).json()["id"])
    for server in servers:  # both clocks jump past every grace time at once
        now = dt.datetime.fromisoformat(
            httpx.post(server.url + "/api/v1/clock", json={"shift_seconds": 0}, headers=admin).json()["now"]
        )
        httpx.post(server.url + "/api/v1/clock", json={"shift_seconds": (at(12) - now).total_seconds()}, headers=admin)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if {b.status for b in read(settings, select(Booking))} == {"no_show"}:
            break
        time.sleep(0.1)
    assert sorted(b.id for b in read(settings, select(Booking)) if b.status == "no_show") == sorted(ids)
    time.sleep(0.5)  # the slower process has had its turn too
    audited = read(settings, select(AuditEntry).where(AuditEntry.action == "booking.no_show"))
    assert sorted(e.target for e in audited) == sorted(f"booking:{i}" for i in ids)
