"""Face and badge terminals (issue 18.10) and attendees opening their meeting's door (18.9),
on a fake ESPHome relay (a real HTTP server in the test, tests/booking_api/integrations/test_door_access.py): an
attendee of the meeting now is checked in and let in, staff with the open-doors right at any
time, anyone else refused and audited; retries with an Idempotency-Key open nothing twice."""

from __future__ import annotations

import datetime as dt

import pytest
from access_helpers import Controllers
from bookings_helpers import TZ, book, make_room
from fixtures import api_token, csrf, login, rows, wait_for
from sqlalchemy import select

from booking_api.models import CheckIn
from signage.eventlog.models import Event
from signage.models import AuditEntry


@pytest.fixture
def controllers():
    c = Controllers()
    yield c
    c.stop()


def me(client, headers) -> dict:
    return client.get("/api/v1/me", headers=headers).json()


def audited(client, action: str) -> list[AuditEntry]:
    return rows(client, select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))


def relay_calls(controllers, target: str) -> int:
    return sum(1 for c in controllers.calls if c[:2] == ("POST", f"/switch/{target}/turn_on"))


def now_minute() -> dt.datetime:
    return dt.datetime.now(TZ).replace(second=0, microsecond=0)


def test_a_terminal_lets_in_attendees_and_staff_and_refuses_anyone_else(make_client, controllers):
    client = make_client(webhook_allow_private=True)
    admin, owner = api_token(client, "admin"), api_token(client, "room_admin")
    room = make_room(client, admin, name="Orchid", owner_ids=[me(client, owner)["id"]])
    other = make_room(client, admin, name="Lotus", owner_ids=[me(client, owner)["id"]])
    doors = f"/api/v1/rooms/{room['id']}/doors"
    front = {"name": "Front", "kind": "relay", "url": controllers.url, "target": "front"}
    back = {**front, "name": "Back", "target": "back", "open_on_checkin": False}
    for door in (front, back):
        assert client.post(doors, json=door, headers=owner).status_code == 201
    lotus = {"name": "Lotus door", "kind": "relay", "url": controllers.url, "target": "lotus"}
    assert client.post(f"/api/v1/rooms/{other['id']}/doors", json=lotus, headers=owner).status_code == 201

    # the room's admins make its terminal token (shown once); nobody else
    path = f"/api/v1/rooms/{room['id']}/terminal-token"
    assert client.post(path, json={}, headers=api_token(client, "room_admin")).status_code == 403
    r = client.post(path, json={}, headers=owner)
    assert r.status_code == 201 and r.json()["token"].startswith("trm_")
    terminal = {"X-Terminal-Token": r.json()["token"]}
    events = f"/api/v1/rooms/{room['id']}/access-events"

    # people: an organizer, an attendee (employee number E1024, set on the users page), an outsider
    organizer, attendee, outsider = (api_token(client, "member") for _ in range(3))
    attendee_me = me(client, attendee)
    login(client, "admin")
    form = {"csrf_token": csrf(client), "role": "member", "active": "on", "employee_no": " E1024 "}
    assert client.post(f"/admin/users/{attendee_me['id']}", data=form, follow_redirects=False).status_code == 303
    r = client.post(f"/admin/users/{me(client, outsider)['id']}", data={**form, "employee_no": "E1024"})
    assert r.status_code == 400 and "Another user has this employee number" in r.text
    assert 'value="E1024"' in client.get("/admin/users").text
    start = now_minute() - dt.timedelta(minutes=5)
    people = [{"name": "Wang", "email": attendee_me["email"]}]
    b = book(client, organizer, room["id"], start, start + dt.timedelta(hours=1), attendees=people).json()
    assert b["status"] == "confirmed"

    # no token, another room's token, a bad body: refused before anyone is looked at
    said = {"person": "E1024", "method": "face"}
    assert client.post(events, json=said).status_code == 401
    assert client.post(events, json=said, headers={"X-Terminal-Token": "trm_nope"}).status_code == 401
    assert client.post(events, json={**said, "method": "iris"}, headers=terminal).status_code == 400
    naive = {**said, "at": dt.datetime.now().replace(microsecond=0).isoformat()}
    assert client.post(events, json=naive, headers=terminal).status_code == 400
    stale = {**said, "at": (dt.datetime.now(TZ) - dt.timedelta(minutes=10)).isoformat()}
    r = client.post(events, json=stale, headers=terminal)
    assert r.status_code == 409 and r.json()["detail"]["field"] == "at"

    # anyone else: refused with a message, audited, no door called
    for person in (me(client, outsider)["email"], "E9999", "nobody@example.com", 999999):
        r = client.post(events, json={"person": person, "method": "card"}, headers=terminal)
        assert r.status_code == 403 and r.json()["error"] == "forbidden" and r.json()["message"], person
    refused = audited(client, "door.refused")
    assert [a.result for a in refused] == ["failure"] * 6  # with the stale and the naive ones
    assert refused[2].reason.startswith(f"card at the terminal: {me(client, outsider)['email']}: Only the room's")
    assert refused[2].user_email == me(client, outsider)["email"]
    assert controllers.calls == []

    # the attendee, by employee number: checked in through the normal path, the check-in door opens
    now = dt.datetime.now(TZ).isoformat()
    keyed = {**terminal, "Idempotency-Key": "term-1"}
    r = client.post(events, json={**said, "at": now}, headers=keyed)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["user_id"], answer["reason"], answer["booking_id"], answer["checked_in"]) == (
        attendee_me["id"], "attendee", b["id"], True,
    )  # fmt: skip
    assert [(d["name"], d["ok"]) for d in answer["doors"]] == [("Front", True)]
    assert relay_calls(controllers, "front") == 1 and relay_calls(controllers, "back") == 0
    (check,) = rows(client, select(CheckIn).where(CheckIn.booking_id == b["id"]))
    assert (check.via, check.user_id) == ("face", attendee_me["id"])
    (event,) = rows(client, select(Event).where(Event.type == "booking.checked_in"))
    assert event.actor == f"user:{attendee_me['id']}" and event.data["check_in"]["via"] == "face"
    # the terminal's retry: the same answer, nothing opened again
    again = client.post(events, json={**said, "at": now}, headers=keyed)
    assert again.json() == answer and again.headers["idempotent-replayed"] == "true"
    assert client.post(events, json={**said, "method": "card"}, headers=keyed).status_code == 400  # another request

    # the check-in's event is not opened again by the doors consumer (the terminal did): a later
    # check-in in another room is opened by it, so this one was seen and skipped before
    lotus_b = book(client, organizer, other["id"], start, start + dt.timedelta(hours=1)).json()
    assert client.post(f"/api/v1/bookings/{lotus_b['id']}/check-in", headers=organizer).status_code == 200
    wait_for(lambda: relay_calls(controllers, "lotus") == 1)
    assert relay_calls(controllers, "front") == 1

    # checked in already: the attendee (by user id, a badge) and the organizer (by email) come in
    r = client.post(events, json={"person": attendee_me["id"], "method": "card"}, headers=terminal)
    assert r.status_code == 200 and r.json()["checked_in"] is False and len(r.json()["doors"]) == 1
    r = client.post(events, json={"person": me(client, organizer)["email"].upper(), "method": "face"}, headers=terminal)
    assert r.status_code == 200 and r.json()["reason"] == "attendee"
    assert relay_calls(controllers, "front") == 3

    # staff with the open-doors right: every door, meeting or not
    for staff in (api_token(client, "service"), owner, admin):
        r = client.post(events, json={"person": me(client, staff)["email"], "method": "face"}, headers=terminal)
        assert r.status_code == 200 and r.json()["reason"] == "staff" and r.json()["booking_id"] is None
        assert [d["name"] for d in r.json()["doors"]] == ["Front", "Back"]
    assert relay_calls(controllers, "back") == 3
    # a room admin of another room has no right here; a deactivated attendee none either
    r = client.post(events, json={"person": me(client, api_token(client, "room_admin"))["email"], "method": "card"},
                    headers=terminal)  # fmt: skip
    assert r.status_code == 403
    inactive = {k: v for k, v in form.items() if k != "active"}
    r = client.post(f"/admin/users/{attendee_me['id']}", data=inactive, follow_redirects=False)
    assert r.status_code == 303
    r = client.post(events, json=said, headers=terminal)
    assert r.status_code == 403

    openings = audited(client, "door.open")
    by_terminal = [a for a in openings if "at the terminal" in a.reason]
    assert by_terminal[0].user_email == attendee_me["email"] and by_terminal[0].result == "success"
    assert by_terminal[0].reason.startswith(f"face at the terminal: E1024 (attendee): check-in of booking {b['id']}")
    assert len(audited(client, "door.refused")) == 8


def test_attendees_open_their_meetings_door_within_its_window_only(make_client, controllers):
    client = make_client(webhook_allow_private=True)
    admin, owner = api_token(client, "admin"), api_token(client, "room_admin")
    room = make_room(client, admin, name="Peony", owner_ids=[me(client, owner)["id"]])
    doors = f"/api/v1/rooms/{room['id']}/doors"
    door = {"name": "Main", "kind": "relay", "url": controllers.url, "target": "main"}
    assert client.post(doors, json=door, headers=owner).status_code == 201
    organizer, attendee, outsider = (api_token(client, "member") for _ in range(3))
    people = [{"name": "Li", "email": me(client, attendee)["email"]}]
    start = now_minute()
    later = book(client, organizer, room["id"], start + dt.timedelta(hours=3), start + dt.timedelta(hours=4),
                 attendees=people).json()  # fmt: skip

    # before the meeting's window (its check-in opens a few minutes before it): refused, audited
    r = client.post(doors + "/open", json={"reason": "early"}, headers=attendee)
    assert r.status_code == 403 and "organizer and attendees of its meeting now" in r.json()["message"]
    assert [a.user_email for a in audited(client, "door.refused")] == [me(client, attendee)["email"]]

    now = book(client, organizer, room["id"], start - dt.timedelta(minutes=10), start + dt.timedelta(minutes=50),
               attendees=people).json()  # fmt: skip
    assert now["id"] != later["id"]
    for who in (attendee, organizer, api_token(client, "service")):
        r = client.post(doors + "/open", json={"reason": "at the door"}, headers=who)
        assert r.status_code == 200 and [d["ok"] for d in r.json()] == [True], r.text
    assert client.post(doors + "/open", headers=outsider).status_code == 403
    assert client.post("/api/v1/rooms/999999/doors/open", headers=attendee).status_code == 404
    assert client.post(doors + "/open", json={"reason": 5}, headers=attendee).status_code == 400
    assert relay_calls(controllers, "main") == 3
    reasons = [a.reason for a in audited(client, "door.open")]
    assert reasons[:2] == ["opened by hand (attendee): at the door: HTTP 200"] * 2
    assert reasons[2].startswith("opened by hand (staff): at the door")


def test_open_door_buttons_on_the_phone_meeting_page_and_the_desk(make_client, controllers):
    client = make_client(webhook_allow_private=True)
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Iris")
    door = {"name": "Main", "kind": "relay", "url": controllers.url, "target": "iris"}
    assert client.post(f"/api/v1/rooms/{room['id']}/doors", json=door, headers=admin).status_code == 201
    organizer = api_token(client, "member")
    email = login(client, "member")
    start = now_minute()
    people = [{"name": "Me", "email": email}]
    soon = book(client, organizer, room["id"], start - dt.timedelta(minutes=5), start + dt.timedelta(minutes=30),
                attendees=people).json()  # fmt: skip
    later = book(client, organizer, room["id"], start + dt.timedelta(hours=5), start + dt.timedelta(hours=6),
                 attendees=people).json()  # fmt: skip

    page = client.get(f"/m/meetings/{soon['id']}").text
    assert f'action="/m/meetings/{soon["id"]}/doors/open"' in page  # the attendee, within the window
    assert "/doors/open" not in client.get(f"/m/meetings/{later['id']}").text  # not yet
    token = csrf(client)
    assert client.post(f"/m/meetings/{soon['id']}/doors/open", data={}).status_code == 403  # no CSRF token
    r = client.post(f"/m/meetings/{soon['id']}/doors/open", data={"csrf_token": token})
    assert r.status_code == 200 and "Main: opened" in r.text and "HTTP 200" in r.text
    assert relay_calls(controllers, "iris") == 1
    r = client.post(f"/m/meetings/{later['id']}/doors/open", data={"csrf_token": token})
    assert r.status_code == 403 and "organizer and attendees of its meeting now" in r.text
    assert client.post("/m/meetings/999999/doors/open", data={"csrf_token": token}).status_code == 404
    assert relay_calls(controllers, "iris") == 1

    # the desk: a tile of a room with doors has the button; pressing it shows the answer
    login(client, "service")
    token = csrf(client)
    assert "/doors/open" in client.get(f"/m/meetings/{later['id']}").text  # staff: at any time
    board = client.get("/desk").text
    assert f'action="/desk/rooms/{room["id"]}/doors/open"' in board
    r = client.post(f"/desk/rooms/{room['id']}/doors/open", data={"csrf_token": token}, headers={"HX-Request": "true",
                    "HX-Target": "desk-board"})  # fmt: skip
    assert r.status_code == 200 and 'class="desk-door-answers"' in r.text and "Main: opened" in r.text
    assert "<html" not in r.text  # the board alone
    assert client.post("/desk/rooms/999999/doors/open", data={"csrf_token": token}).status_code == 404
    assert relay_calls(controllers, "iris") == 2
    assert [a.reason.split(":")[0] for a in audited(client, "door.open")] == [
        "opened by hand (attendee)", "opened by hand (staff)"]  # fmt: skip
