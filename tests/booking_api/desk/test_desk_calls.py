"""Service calls (issue 16.2, 16.7): from the meeting page on a phone (its people, while it is
on), from a door screen and through the API, each on the board once; the door screen clears
a call once it is done; an escalated call reaches every service user's bell with email off."""

from __future__ import annotations

import json

import pytest
from bookings_helpers import at
from doors_helpers import door_screen, go_to, meeting, setup_room, wait_for
from fixtures import add_user, api_token, csrf, login, rows
from sqlalchemy import select

from signage.notify.models import Notice


@pytest.fixture
def client(make_client):
    return make_client(test_clock=True, service_lead_minutes=15)


def door_html(client, room_id) -> str:
    """The door screen's room-status widget as its live stream first sends it."""
    params = {"widget": "room_status", "room_id": str(room_id)}
    with client.stream("GET", "/widgets/live", params=params, headers={"Accept": "text/event-stream"}) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data:"):
                return json.loads(line[5:])["html"]
    raise AssertionError("no html")


def test_the_meetings_people_call_service_from_its_page_while_it_is_on(client):
    admin, room = setup_room(client)
    lotus = setup_room(client, name="Lotus")[1]
    email = login(client, "member")  # an attendee, signed in on the phone
    token = csrf(client)
    b = meeting(client, admin, room["id"], hour=10, title="Review", attendees=[{"name": "Li", "email": email}])
    dropped = meeting(client, admin, room["id"], hour=12, attendees=[{"name": "Li", "email": email}])
    assert client.delete(f"/api/v1/bookings/{dropped['id']}", headers=admin).status_code == 200
    url = f"/api/v1/rooms/{room['id']}/service-calls"
    as_page = {"X-CSRF-Token": token}

    go_to(client, at(9, 30))  # before the window (15 minutes before it starts)
    assert 'class="meeting-call"' not in client.get(f"/m/meetings/{b['id']}").text
    r = client.post(url, json={"kind": "tea", "booking_id": b["id"]}, headers=as_page)
    assert (
        r.status_code == 409 and r.json()["message"] == "Service can be called for a confirmed meeting while it is on."
    )

    go_to(client, at(10, 5))
    page = client.get(f"/m/meetings/{b['id']}").text
    assert f'<form class="meeting-call" method="post" action="{url}" data-booking-id="{b["id"]}">' in page
    r = client.post(url, json={"kind": "tea", "note": "6 cups", "booking_id": b["id"]}, headers=as_page)
    assert r.status_code == 201, r.text
    call = r.json()
    assert (call["origin"], call["before_booking_id"], call["note"]) == ("meeting", b["id"], "6 cups")
    page = client.get(f"/m/meetings/{b['id']}").text
    assert f'data-task-id="{call["id"]}" data-status="open"' in page and "Service call received" in page

    # refused: another room, a meeting cancelled, unknown, someone not of the meeting
    other = client.post(f"/api/v1/rooms/{lotus['id']}/service-calls", json={"booking_id": b["id"]}, headers=as_page)
    assert other.status_code == 400 and other.json()["message"] == "This meeting is in another room."
    assert client.post(url, json={"booking_id": dropped["id"]}, headers=as_page).status_code == 409
    assert client.post(url, json={"booking_id": 999999}, headers=as_page).status_code == 404
    outsider = api_token(client, "member")
    r = client.post(url, json={"kind": "it", "booking_id": b["id"]}, headers=outsider)
    assert r.status_code == 403 and "organizer and attendees" in r.json()["message"]
    assert (
        client.post(url, json={"kind": "it", "booking_id": b["id"]}, headers=admin).status_code == 201
    )  # the organizer

    desk = api_token(client, "service")
    accepted = client.post(f"/api/v1/service-calls/{call['id']}/accept", headers=desk).json()
    page = client.get(f"/m/meetings/{b['id']}").text
    assert f"Service on the way: {accepted['accepted_by']}" in page
    go_to(client, at(11, 0))  # it ended: no control, and none for who is not of the meeting
    assert 'class="meeting-call"' not in client.get(f"/m/meetings/{b['id']}").text
    assert client.post(url, json={"booking_id": b["id"]}, headers=as_page).status_code == 409


def test_a_call_from_the_door_and_one_through_the_api_are_on_the_board_once_and_done_clears_the_door(client):
    admin, room = setup_room(client)
    screen = door_screen(client, admin, room["id"])
    r = client.post(f"/player/api/rooms/{room['id']}/service", json={"kind": "tea"}, headers=screen["headers"])
    assert r.status_code == 200, r.text
    from_door = r.json()["id"]
    r = client.post(f"/api/v1/rooms/{room['id']}/service-calls", json={"kind": "it"}, headers=admin)
    from_api = r.json()["id"]
    login(client, "service")
    board = client.get("/desk", headers={"HX-Request": "true", "HX-Target": "desk-board"}).text
    assert board.count(f'data-task-id="{from_door}"') == 1 and board.count(f'data-task-id="{from_api}"') == 1
    r = client.get("/api/v1/events?type=service_call.created&limit=100", headers=admin).json()["events"]
    assert sorted(e["data"]["id"] for e in r) == sorted([from_door, from_api])

    assert "Service call received" in door_html(client, room["id"])
    token = csrf(client)
    for task in (from_api, from_door):
        assert client.post(f"/desk/tasks/{task}/accept", data={"csrf_token": token}).status_code == 200
    assert "Service on the way" in door_html(client, room["id"])
    assert client.post(f"/desk/tasks/{from_door}/done", data={"csrf_token": token}).status_code == 200
    assert "Service on the way" in door_html(client, room["id"])  # the call through the API is still on its way
    assert client.post(f"/desk/tasks/{from_api}/done", data={"csrf_token": token}).status_code == 200
    html = door_html(client, room["id"])
    assert "w-rs-called" not in html and "Service on the way" not in html and "Service call received" not in html


def test_an_escalated_call_reaches_every_service_users_bell_with_email_off(make_client):
    client = make_client(test_clock=True, service_escalate_minutes=5)
    admin, room = setup_room(client)
    staff = [add_user(client, "service"), add_user(client, "service")]
    go_to(client, at(9, 0))
    call = client.post(f"/api/v1/rooms/{room['id']}/service-calls", json={"kind": "tea"}, headers=admin).json()
    go_to(client, at(9, 6))

    def notices():
        return [n for n in rows(client, select(Notice)) if n.kind == "service_call"]

    told = wait_for(lambda: len(notices()) == 2 and notices())
    assert {(n.about, n.link, n.title) for n in told} == {
        (f"service_call:{call['id']}", "/desk", "Waiting: Orchid requests tea service")
    }
    go_to(client, at(9, 30))
    assert len(notices()) == 2  # once
    login(client, "service", staff[0])
    assert "Waiting: Orchid requests tea service" in client.get("/notifications").text
