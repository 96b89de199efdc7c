"""The services a meeting wants become a task on the desk before it starts (issue 16.3):
one per meeting and start, SIGNAGE_SERVICE_LEAD_MINUTES ahead; none for a meeting cancelled
or without services; a meeting moved gets its task at its new time, and the task of a
meeting cancelled or moved after it was made is withdrawn."""

from __future__ import annotations

import datetime as dt

import pytest
from bookings_helpers import at, iso
from doors_helpers import go_to, meeting, setup_room, wait_for
from fixtures import api_token, login, rows
from sqlalchemy import select

from booking_api.desk.models import ServiceTask


@pytest.fixture
def client(make_client):
    return make_client(test_clock=True, service_lead_minutes=15)


def service_tasks(client) -> list[ServiceTask]:
    return [t for t in rows(client, select(ServiceTask).order_by(ServiceTask.id)) if t.origin == "booking_services"]


def events(client, headers, kind) -> list[dict]:
    r = client.get(f"/api/v1/events?type={kind}&limit=1000", headers=headers)
    assert r.status_code == 200, r.text
    return [e for e in r.json()["events"] if e["data"]["origin"] == "booking_services"]


def test_a_meetings_services_become_one_task_before_it_starts(client):
    admin, room = setup_room(client)
    tea = meeting(client, admin, room["id"], hour=10, services=["tea", "projector"], title="Review")
    plain = meeting(client, admin, room["id"], hour=11)
    dropped = meeting(client, admin, room["id"], hour=12, services=["catering"])
    assert client.delete(f"/api/v1/bookings/{dropped['id']}", headers=admin).status_code == 200
    go_to(client, at(9, 40))
    assert service_tasks(client) == []  # twenty minutes before: not yet
    go_to(client, at(9, 45))
    made = wait_for(lambda: service_tasks(client))
    assert [(t.kind, t.note, t.before_booking_id, t.status) for t in made] == [
        ("other", "tea, projector", tea["id"], "open")
    ]
    go_to(client, at(10, 5))
    assert client.post(f"/api/v1/bookings/{tea['id']}/check-in", headers=admin).status_code == 200
    go_to(client, at(12, 30))  # later ticks make no second one; none for the plain or the cancelled meeting
    assert len(service_tasks(client)) == 1 and plain["id"]
    created = events(client, admin, "service_call.created")
    assert [(e["data"]["before_booking_id"], e["actor"]) for e in created] == [(tea["id"], "system")]

    login(client, "service")
    page = client.get("/desk").text
    assert f'data-task-id="{made[0].id}"' in page
    assert "for the meeting at 10:00" in page and "tea, projector" in page
    api = client.get("/api/v1/service-calls?status=open", headers=api_token(client, "service")).json()
    calls = [(c["origin"], c["before_booking_id"]) for c in api["service_calls"] if c["origin"] != "meeting_end"]
    assert calls == [("booking_services", tea["id"])]


def test_a_moved_meeting_gets_its_task_at_its_new_time_and_a_cancelled_one_loses_it(client):
    admin, room = setup_room(client)
    moved_early = meeting(client, admin, room["id"], hour=10, services=["tea"])
    moved_late = meeting(client, admin, room["id"], hour=11, services=["water"])
    cancelled = meeting(client, admin, room["id"], hour=12, services=["fruit"])

    def move(b, hour):
        start = at(hour)
        body = {"start": iso(start), "end": iso(start + dt.timedelta(hours=1))}
        r = client.patch(f"/api/v1/bookings/{b['id']}", json=body, headers=admin)
        assert r.status_code == 200, r.text

    move(moved_early, 15)  # before its task was due: none at 9:45
    go_to(client, at(10, 50))
    wait_for(lambda: [t for t in service_tasks(client) if t.before_booking_id == moved_late["id"]])
    assert {t.before_booking_id for t in service_tasks(client)} == {moved_late["id"]}
    move(moved_late, 17)  # after its task was made: withdrawn, and a new one at 16:45
    wait_for(lambda: [t.status for t in service_tasks(client)] == ["cancelled"])
    go_to(client, at(11, 50))
    wait_for(lambda: len(service_tasks(client)) == 2)
    assert client.delete(f"/api/v1/bookings/{cancelled['id']}", headers=admin).status_code == 200
    wait_for(lambda: [t.status for t in service_tasks(client)] == ["cancelled", "cancelled"])
    go_to(client, at(14, 50))
    wait_for(lambda: len(service_tasks(client)) == 3)
    go_to(client, at(15, 5))  # checked in: a meeting released as a no-show loses its task too
    assert client.post(f"/api/v1/bookings/{moved_early['id']}/check-in", headers=admin).status_code == 200
    go_to(client, at(16, 50))
    wait_for(lambda: len(service_tasks(client)) == 4)
    made = service_tasks(client)
    assert [(t.before_booking_id, t.before_start_at, t.status) for t in made] == [
        (moved_late["id"], at(11).astimezone(dt.UTC), "cancelled"),
        (cancelled["id"], at(12).astimezone(dt.UTC), "cancelled"),
        (moved_early["id"], at(15).astimezone(dt.UTC), "open"),
        (moved_late["id"], at(17).astimezone(dt.UTC), "open"),
    ]
    withdrawn = events(client, admin, "service_call.cancelled")
    assert sorted(e["data"]["id"] for e in withdrawn) == sorted(t.id for t in made[:2])
    desk = api_token(client, "service")
    r = client.post(f"/api/v1/service-calls/{made[0].id}/accept", headers=desk)
    assert r.status_code == 409 and "cancelled" in r.json()["message"]
    assert client.get("/api/v1/service-calls?status=cancelled", headers=desk).json()["service_calls"]
