"""Webhooks from two server processes on one PostgreSQL database (issue 18): bookings through
both at once reach the receiver each once, in the order of the event log, the first one
failing once and everything waiting behind its retry, whichever process sends."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from bookings_helpers import at, iso
from fixtures import make_token, run_sync, server_settings, wait_for
from webhooks_helpers import Receiver, verifies

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["postgresql"], indirect=True)]

BOOKINGS = 30


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def test_two_processes_send_each_event_once_in_order(make_server, receiver):
    servers = [make_server(SIGNAGE_WEBHOOK_ALLOW_PRIVATE="1") for _ in range(2)]
    admin = make_token(server_settings(servers[0]), "admin")
    hook = httpx.post(servers[0].url + "/api/v1/webhooks", json={"url": receiver.url, "events": ["booking.*"]},
                      headers=admin).json()  # fmt: skip
    room = httpx.post(servers[1].url + "/api/v1/rooms", json={"name": "Orchid", "capacity": 4}, headers=admin).json()
    receiver.answers = [(500, {})]  # the first message fails once: 5 s later it goes again

    async def book_through_both():
        async with httpx.AsyncClient(timeout=60) as c:
            return await asyncio.gather(
                *(
                    c.post(servers[k % 2].url + "/api/v1/bookings", headers=admin, json={
                        "room_id": room["id"], "title": f"M{k}", "start": iso(at(7, days=1 + k)),
                        "end": iso(at(8, days=1 + k))})
                    for k in range(BOOKINGS)
                )
            )  # fmt: skip

    answers = run_sync(book_through_both())
    assert [r.status_code for r in answers] == [201] * BOOKINGS, [r.text for r in answers if r.status_code != 201][:2]
    wait_for(lambda: len(receiver.answered(200)) == BOOKINGS, timeout=60)
    ids = [r[0] for r in receiver.requests]
    first = ids[0]
    assert ids[:2] == [first, first]  # the failed one, then its retry, before anything else
    sent = [r[0] for r in receiver.answered(200)]
    assert len(set(sent)) == BOOKINGS and sent == sorted(sent, key=int)  # each once, in the log's order
    assert all(verifies(hook["secret"], r) for r in receiver.requests)
    log = httpx.get(servers[1].url + f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin).json()
    assert sorted(d["state"] for d in log) == ["sent"] * BOOKINGS
    assert sorted(d["attempts"] for d in log) == [1] * (BOOKINGS - 1) + [2]
