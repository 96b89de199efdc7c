"""Several server processes each run a room timer: a no-show is released once,
audited once, whichever process gets there first (a conditional UPDATE)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from bookings_helpers import at
from clock_helpers import shift_all_to, timers_idle_since
from fixtures import make_token, run_sync, server_settings, wait_for
from sqlalchemy import select

from booking_api.models import Booking
from signage.db import Database
from signage.models import AuditEntry

pytestmark = pytest.mark.slow

ROUNDS = 4


def read(settings, query):
    async def run():
        db = Database(settings.db_url)
        try:
            async with db.session() as s:
                return (await s.scalars(query)).all()
        finally:
            await db.close()

    return run_sync(run())


@pytest.mark.parametrize("events", ["in-process", "redis"])
def test_two_processes_release_a_no_show_once(make_server, events, request):
    env = {"SIGNAGE_TEST_CLOCK": "1"}
    if events == "redis":  # each process's clock and bookings wake the other's timer too
        env["SIGNAGE_REDIS_URL"] = request.getfixturevalue("redis_url")
    servers = [make_server(**env), make_server(**env)]
    urls = [s.url for s in servers]
    settings = server_settings(servers[0])
    admin = make_token(settings, "admin")
    room = httpx.post(urls[0] + "/api/v1/rooms", json={"name": "Orchid", "capacity": 4}, headers=admin).json()
    released: list[int] = []
    for day in range(1, ROUNDS + 1):  # each round a day later, both clocks ahead of the last round
        ids = []
        for n, hour in enumerate((9, 10, 11)):  # booked through either process
            start = at(hour, days=day)
            body = {
                "room_id": room["id"],
                "title": f"Day {day} at {hour}",
                "start": start.isoformat(),
                "end": (start + dt.timedelta(minutes=30)).isoformat(),
            }
            r = httpx.post(urls[n % 2] + "/api/v1/bookings", json=body, headers=admin)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        # both clocks jump past every grace time of the day at once
        shifted = shift_all_to(urls, admin, at(12, days=day))

        def both_idle(shifted=shifted):
            return timers_idle_since(urls, shifted)

        wait_for(both_idle)
        released += ids
        assert sorted(b.id for b in read(settings, select(Booking)) if b.status == "no_show") == sorted(released)
        audited = read(settings, select(AuditEntry).where(AuditEntry.action == "booking.no_show"))
        assert sorted(e.target for e in audited) == sorted(f"booking:{i}" for i in released)
