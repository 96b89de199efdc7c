"""The service desk with two server processes (Redis between them): a call made through
the player API on one and through the REST API on the other reaches a desk stream once
each; meetings' ends (their end time on both timers at once, "End now") make one cleaning
task each."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import httpx
import pytest
from bookings_helpers import at
from clock_helpers import shift_all_to, timers_idle_since
from fixtures import make_token, run_sync, server_settings, wait_for

from booking_api.doors.layouts import door_display

pytestmark = pytest.mark.slow


def door_key(url: str, admin: dict, room_id: int) -> dict:
    """A paired door screen of the room (all through the API: the test process opens no
    database connection of its own)."""
    width, height, regions = door_display(room_id)
    body = {"name": "Door", "width": width, "height": height, "regions": regions}
    r = httpx.post(url + "/api/v1/layouts", json=body, headers=admin)
    assert r.status_code == 201, r.text
    layout_id = r.json()["id"]
    assert httpx.post(f"{url}/api/v1/layouts/{layout_id}/publish", headers=admin).status_code == 201
    pair = httpx.post(url + "/player/api/pair").json()
    claim = {"code": pair["code"], "name": "Door", "layout_id": layout_id}
    assert httpx.post(url + "/api/v1/screens/claim", json=claim, headers=admin).status_code == 201
    return {"X-Screen-Key": pair["key"]}


def test_two_processes_tell_each_call_once_and_clean_each_room_once(make_server, redis_url):
    env = {"SIGNAGE_TEST_CLOCK": "1", "SIGNAGE_REDIS_URL": redis_url}
    servers = [make_server(**env), make_server(**env)]
    urls = [s.url for s in servers]
    settings = server_settings(servers[0])
    admin, staff = make_token(settings, "admin"), make_token(settings, "service")
    room = httpx.post(urls[0] + "/api/v1/rooms", json={"name": "Orchid", "capacity": 4}, headers=admin).json()
    door = door_key(urls[0], admin, room["id"])

    async def calls_on_a_desk() -> list[dict]:
        """Open the desk's stream on the second process, call from both, collect until both came
        and a second passed with nothing more."""
        heard: list[dict] = []
        async with httpx.AsyncClient(timeout=30) as c:
            headers = {**staff, "Accept": "text/event-stream"}
            async with c.stream("GET", urls[1] + "/events/service", headers=headers) as stream:
                lines = stream.aiter_lines()
                assert (await anext(lines)).startswith("event: hello")
                r = await c.post(f"{urls[0]}/player/api/rooms/{room['id']}/service", json={"kind": "tea"}, headers=door)
                assert r.status_code == 200, r.text
                r = await c.post(
                    f"{urls[1]}/api/v1/rooms/{room['id']}/service-calls", json={"kind": "it"}, headers=admin
                )
                assert r.status_code == 201, r.text
                try:
                    while True:
                        line = await asyncio.wait_for(anext(lines), 1.0 if len(heard) >= 2 else 20)
                        if line.startswith("data:") and "room_id" in line:
                            heard.append(json.loads(line[5:]))
                except TimeoutError:
                    return heard

    heard = run_sync(calls_on_a_desk())
    assert sorted((h["type"], h["kind"]) for h in heard) == [("created", "it"), ("created", "tea")]

    ids = []
    for hour in (9, 11):
        start = at(hour, days=1)
        body = {
            "room_id": room["id"],
            "title": f"At {hour}",
            "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=1)).isoformat(),
        }
        r = httpx.post(urls[ids.__len__() % 2] + "/api/v1/bookings", json=body, headers=admin)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    shift_all_to(urls, admin, at(9, 5, days=1))
    assert httpx.post(f"{urls[1]}/api/v1/bookings/{ids[0]}/check-in", headers=admin).status_code == 200
    assert httpx.post(f"{urls[1]}/api/v1/bookings/{ids[0]}/end", headers=admin).status_code == 200
    shift_all_to(urls, admin, at(11, 5, days=1))
    assert httpx.post(f"{urls[0]}/api/v1/bookings/{ids[1]}/check-in", headers=admin).status_code == 200
    shifted = shift_all_to(urls, admin, at(12, 1, days=1))  # its end time passes on both timers at once
    wait_for(lambda: timers_idle_since(urls, shifted))

    def tasks() -> list[dict]:
        return httpx.get(urls[1] + "/api/v1/service-calls?limit=1000", headers=staff).json()["service_calls"]

    wait_for(lambda: len([t for t in tasks() if t["origin"] == "meeting_end"]) == 2)
    made = [t for t in tasks() if t["origin"] == "meeting_end"]
    assert sorted(t["after_booking_id"] for t in made) == sorted(ids)
    r = httpx.get(urls[0] + "/api/v1/events?type=service_call.created&limit=1000", headers=admin)
    created = [e["data"]["id"] for e in r.json()["events"]]
    assert sorted(created) == sorted(t["id"] for t in tasks())  # one event each


def test_two_processes_make_one_task_for_each_meetings_services(make_server, redis_url):
    """Both room timers pass the services' lead time of three meetings at once: one task each
    (the unique meeting-and-start, inserts that do nothing on conflict), one event each."""
    env = {"SIGNAGE_TEST_CLOCK": "1", "SIGNAGE_REDIS_URL": redis_url, "SIGNAGE_SERVICE_LEAD_MINUTES": "15"}
    servers = [make_server(**env), make_server(**env)]
    urls = [s.url for s in servers]
    settings = server_settings(servers[0])
    admin, staff = make_token(settings, "admin"), make_token(settings, "service")
    ids = []
    for n, name in enumerate(("Orchid", "Lotus", "Iris")):
        room = httpx.post(urls[n % 2] + "/api/v1/rooms", json={"name": name, "capacity": 4}, headers=admin).json()
        start = at(9, days=1)
        body = {
            "room_id": room["id"],
            "title": f"In {name}",
            "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=1)).isoformat(),
            "services": ["tea", "projector"],
        }
        r = httpx.post(urls[n % 2] + "/api/v1/bookings", json=body, headers=admin)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    shifted = shift_all_to(urls, admin, at(8, 40, days=1))
    wait_for(lambda: timers_idle_since(urls, shifted))
    shifted = shift_all_to(urls, admin, at(8, 46, days=1))  # the lead time passes on both timers at once
    wait_for(lambda: timers_idle_since(urls, shifted))

    def tasks() -> list[dict]:
        calls = httpx.get(urls[1] + "/api/v1/service-calls?limit=1000", headers=staff).json()["service_calls"]
        return [t for t in calls if t["origin"] == "booking_services"]

    wait_for(lambda: len(tasks()) == 3)
    shifted = shift_all_to(urls, admin, at(8, 50, days=1))  # later ticks on both: nothing more
    wait_for(lambda: timers_idle_since(urls, shifted))
    made = tasks()
    assert sorted(t["before_booking_id"] for t in made) == sorted(ids)
    assert {t["note"] for t in made} == {"tea, projector"}
    r = httpx.get(urls[0] + "/api/v1/events?type=service_call.created&limit=1000", headers=admin)
    created = [e["data"]["id"] for e in r.json()["events"]]
    assert sorted(created) == sorted(t["id"] for t in made)  # one event each
