"""Door screens (SPEC B5): the room state machine over time, check-in, no-shows,
end and extend, walk-up, and every refusal leaving nothing changed."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from bookings_helpers import at, make_room
from doors_helpers import door_screen, go_to, meeting, setup_room, status, wait_for
from fixtures import add_user, api_token, in_app, login, rows, run_sync
from sqlalchemy import select

from booking_api.models import Booking, CheckIn
from signage.models import AuditEntry


@pytest.fixture
def client(make_client):
    return make_client(test_clock=True)


def test_state_follows_the_clock_and_check_in(client):
    from signage.users.store import create_token

    admin, room = setup_room(client)
    email = add_user(client, "member")
    member = {"Authorization": f"Bearer {run_sync(create_token(client.app.state.settings, email))}"}
    b = meeting(client, admin, room["id"], hour=10, attendees=[{"name": "Invited", "email": email}])
    go_to(client, at(9, 40))
    s = status(client, admin, room["id"])
    assert (s["state"], s["colour"], s["checkin"]) == ("booked", "orange", None)
    assert s["next"]["id"] == b["id"]

    go_to(client, at(9, 52))  # check-in opens 10 minutes before
    assert status(client, admin, room["id"])["checkin"]["booking_id"] == b["id"]

    go_to(client, at(10, 0, 1) + dt.timedelta(seconds=1))
    s = status(client, admin, room["id"])
    assert (s["state"], s["colour"]) == ("in_progress", "blue")
    assert s["current"]["id"] == b["id"] and s["current"]["minutes_left"] == 59

    # from afar, only those concerned: not a colleague who is not invited
    r = client.post(f"/api/v1/bookings/{b['id']}/check-in", headers=api_token(client, "member"))
    assert r.status_code == 403 and "the attendees" in r.json()["message"]
    assert status(client, admin, room["id"])["current"]["checked_in"] is False
    r = client.post(f"/api/v1/bookings/{b['id']}/check-in", headers=member)  # an attendee
    assert r.status_code == 200 and r.json()["already"] is False
    assert status(client, admin, room["id"])["current"]["checked_in"] is True
    assert client.post(f"/api/v1/bookings/{b['id']}/check-in", headers=member).json()["already"] is True

    go_to(client, at(11, 1))
    s = status(client, admin, room["id"])
    assert (s["state"], s["colour"], s["current"]) == ("ended", "gray", None)


def test_no_show_is_released_by_the_timer_and_kept(client):
    admin, room = setup_room(client)
    b = meeting(client, admin, room["id"], hour=14)
    go_to(client, at(14, 16))  # grace: 15 minutes
    wait_for(lambda: status(client, admin, room["id"])["state"] == "free")
    found = rows(client, select(Booking).where(Booking.id == b["id"]))
    assert found[0].status == "no_show"
    assert client.get(f"/api/v1/bookings/{b['id']}", headers=admin).json()["status"] == "no_show"
    assert (
        rows(client, select(AuditEntry).where(AuditEntry.action == "booking.no_show"))[0].target == f"booking:{b['id']}"
    )


def test_checked_in_meeting_is_not_released(client):
    admin, room = setup_room(client)
    b = meeting(client, admin, room["id"], hour=14)
    go_to(client, at(14, 5))
    r = client.post(f"/api/v1/bookings/{b['id']}/check-in", headers=admin)
    assert r.status_code == 200, r.text
    go_to(client, at(14, 30))
    s = status(client, admin, room["id"])
    assert s["state"] == "in_progress" and s["current"]["id"] == b["id"]


def test_check_in_refusals_change_nothing(client):
    admin, room = setup_room(client)
    b = meeting(client, admin, room["id"], hour=10)
    early = client.post(f"/api/v1/bookings/{b['id']}/check-in", headers=admin)
    assert early.status_code == 409 and "Check-in opens at 09:50" in early.json()["message"]

    keep = {"release_no_shows": False}  # so the late check-in meets a closed window, not a released meeting
    assert client.put(f"/api/v1/rooms/{room['id']}/door", json=keep, headers=admin).status_code == 200
    late = meeting(client, admin, room["id"], hour=16)
    go_to(client, at(16, 20))
    r = client.post(f"/api/v1/bookings/{late['id']}/check-in", headers=admin)
    assert r.status_code == 409 and "Check-in closed at 16:15" in r.json()["message"], r.text
    assert client.get(f"/api/v1/bookings/{late['id']}", headers=admin).json()["status"] == "confirmed"

    gone = meeting(client, admin, room["id"], hour=18)
    assert client.delete(f"/api/v1/bookings/{gone['id']}", headers=admin).status_code == 200
    go_to(client, at(18, 1))
    r = client.post(f"/api/v1/bookings/{gone['id']}/check-in", headers=admin)
    assert r.status_code == 409 and "cancelled" in r.json()["message"]
    assert rows(client, select(CheckIn)) == []
    failures = rows(client, select(AuditEntry).where(AuditEntry.action == "booking.check_in"))
    assert {e.result for e in failures} == {"failure"} and len(failures) == 3


def test_end_early_and_extend(client):
    admin, room = setup_room(client)
    b = meeting(client, admin, room["id"], hour=10)
    after = meeting(client, admin, room["id"], hour=11, minutes=30, title="Later")
    go_to(client, at(10, 5))
    assert client.post(f"/api/v1/bookings/{b['id']}/check-in", headers=admin).status_code == 200
    go_to(client, at(10, 30))
    assert client.post(f"/api/v1/bookings/{b['id']}/extend", json={"minutes": 15}, headers=admin).status_code == 409
    assert (
        client.get(f"/api/v1/bookings/{b['id']}", headers=admin).json()["end"] == at(11).astimezone(dt.UTC).isoformat()
    )
    r = client.post(f"/api/v1/bookings/{b['id']}/end", headers=admin)
    assert r.status_code == 200, r.text
    s = status(client, admin, room["id"])
    assert s["state"] == "booked" and s["next"]["id"] == after["id"]

    go_to(client, at(11, 10))
    r = client.post(f"/api/v1/bookings/{after['id']}/extend", json={"minutes": 30}, headers=admin)
    assert r.status_code == 200 and r.json()["end"] == at(12).astimezone(dt.UTC).isoformat()
    other = api_token(client, "member")
    r = client.post(f"/api/v1/bookings/{after['id']}/end", headers=other)
    assert r.status_code == 403


def test_door_screen_walk_up_check_in_and_foreign_room(client):
    admin, room = setup_room(client)
    other = setup_room(client, name="Lotus")[1]
    screen = door_screen(client, admin, room["id"])
    b = meeting(client, admin, room["id"], hour=15)
    go_to(client, at(13, 0))
    s = status(client, admin, room["id"])
    assert s["walkup_until"] == at(14).astimezone(dt.UTC).isoformat()  # an hour at most
    r = client.post(f"/player/api/rooms/{room['id']}/walkup", json={}, headers=screen["headers"])
    assert r.status_code == 200, r.text
    s = status(client, admin, room["id"])
    assert s["state"] == "in_progress" and s["current"]["checked_in"] is True
    assert client.post(f"/player/api/rooms/{other['id']}/walkup", json={}, headers=screen["headers"]).status_code == 403

    go_to(client, at(14, 55))
    r = client.post(
        f"/player/api/rooms/{other['id']}/check-in", json={"booking_id": b["id"]}, headers=screen["headers"]
    )
    assert r.status_code == 403
    r = client.post(f"/player/api/rooms/{room['id']}/check-in", json={"booking_id": b["id"]}, headers=screen["headers"])
    assert r.status_code == 200, r.text
    assert {c.via for c in rows(client, select(CheckIn))} == {"walkup", "door"}

    go_to(client, at(15, 10))

    def act(action, **body):
        return client.post(f"/player/api/rooms/{room['id']}/{action}", json=body, headers=screen["headers"])

    assert act("extend", booking_id=b["id"], minutes=30).json()["end"] == at(16, 30).astimezone(dt.UTC).isoformat()
    assert act("end", booking_id=b["id"]).status_code == 200
    assert status(client, admin, room["id"])["state"] == "ended"
    assert act("end", booking_id=b["id"]).status_code == 409  # not in progress any more
    called = act("service").json()
    assert (called["room_id"], called["called"], called["kind"], called["status"]) == (
        room["id"],
        True,
        "other",
        "open",
    )
    assert act("teleport").status_code == 404
    assert (
        client.post(f"/player/api/rooms/{room['id']}/service", json={}, headers={"X-Screen-Key": "forged"}).status_code
        == 401
    )
    actions = [(e.action, e.result) for e in rows(client, select(AuditEntry).where(AuditEntry.target.like("%:%")))]
    assert ("room.service_call", "success") in actions and ("booking.end", "failure") in actions


def test_sensor_presence_checks_in_and_absence_ends_the_meeting(client):
    admin, room = setup_room(client)
    r = client.post(f"/api/v1/rooms/{room['id']}/sensor-token", json={"absent_minutes": 10}, headers=admin)
    assert r.status_code == 201
    sensor = {"X-Sensor-Token": r.json()["token"]}
    b = meeting(client, admin, room["id"], hour=10)
    go_to(client, at(9, 58))
    r = client.post(f"/api/v1/rooms/{room['id']}/sensor", json={"present": True}, headers=sensor)
    assert r.status_code == 200 and r.json()["checked_in"] == b["id"]
    go_to(client, at(10, 20))
    assert status(client, admin, room["id"])["current"]["checked_in"] is True  # kept: someone came
    client.post(f"/api/v1/rooms/{room['id']}/sensor", json={"present": False}, headers=sensor)
    go_to(client, at(10, 31))
    wait_for(lambda: status(client, admin, room["id"])["state"] == "ended")
    assert rows(client, select(Booking).where(Booking.id == b["id"]))[0].status == "confirmed"


def test_sensor_with_a_wrong_token_is_refused(client):
    admin, room = setup_room(client)
    client.post(f"/api/v1/rooms/{room['id']}/sensor-token", json={}, headers=admin)
    b = meeting(client, admin, room["id"], hour=10)
    go_to(client, at(9, 58))
    for headers in ({"X-Sensor-Token": "sns_wrong"}, {}):
        r = client.post(f"/api/v1/rooms/{room['id']}/sensor", json={"present": True}, headers=headers)
        assert r.status_code == 401 and "sensor token is not valid" in r.json()["message"]
    assert rows(client, select(CheckIn)) == []
    assert status(client, admin, room["id"])["checkin"]["booking_id"] == b["id"]
    assert (
        client.post(
            f"/api/v1/rooms/{room['id']}/sensor-token", json={}, headers=api_token(client, "member")
        ).status_code
        == 403
    )


def test_rooms_set_their_own_check_in_window(client):
    admin, room = setup_room(client)
    r = client.put(
        f"/api/v1/rooms/{room['id']}/door", json={"checkin_opens_minutes": 2, "checkin_grace_minutes": 5}, headers=admin
    )
    assert r.status_code == 200, r.text
    bad = client.put(f"/api/v1/rooms/{room['id']}/door", json={"checkin_grace_minutes": 0}, headers=admin)
    assert bad.status_code == 400
    b = meeting(client, admin, room["id"], hour=10)
    go_to(client, at(9, 55))
    r = client.post(f"/api/v1/bookings/{b['id']}/check-in", headers=admin)
    assert r.status_code == 409 and "09:58" in r.json()["message"]
    go_to(client, at(10, 6))
    wait_for(lambda: status(client, admin, room["id"])["state"] == "free")


def test_openapi_lists_the_door_screen_api(client):
    from openapi_spec_validator import validate

    doc = client.get("/api/v1/openapi.json").json()
    validate(doc)
    for path, method in [
        ("/api/v1/rooms/{id}/status", "get"),
        ("/api/v1/bookings/{id}/check-in", "post"),
        ("/api/v1/bookings/{id}/end", "post"),
        ("/api/v1/bookings/{id}/extend", "post"),
        ("/api/v1/rooms/{id}/sensor", "post"),
        ("/api/v1/rooms/{id}/sensor-token", "post"),
        ("/api/v1/rooms/{id}/door", "put"),
        ("/api/v1/rooms/{id}/calendar-feed", "post"),
    ]:
        assert method in doc["paths"][path], (path, method)
    status_schema = doc["components"]["schemas"]["RoomStatusOut"]
    assert {"state", "colour", "current", "next"} <= set(status_schema["properties"])
    sensor = doc["paths"]["/api/v1/rooms/{id}/sensor"]["post"]
    assert any(p["name"] == "X-Sensor-Token" for p in sensor["parameters"]) and "401" in sensor["responses"]


def test_door_screens_page_makes_layouts_and_saves_rules(client):
    from fixtures import csrf, login

    from booking_api.models import DoorSettings
    from playlists.models import Layout

    login(client, "admin")
    admin, room = setup_room(client, floor="3F")
    page = client.get("/rooms/doors")
    assert page.status_code == 200 and f'data-room-id="{room["id"]}"' in page.text
    r = client.post(
        f"/rooms/{room['id']}/door-layout",
        data={"csrf_token": csrf(client), "orientation": "portrait"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    door = rows(client, select(Layout))[-1]
    assert (door.width, door.height) == (800, 1280)
    assert [g["options"]["room_id"] for g in door.regions if g["widget"] == "room_status"] == [room["id"]]
    r = client.post("/rooms/lobby-layout", data={"csrf_token": csrf(client), "floor": "3F"}, follow_redirects=False)
    lobby = rows(client, select(Layout))[-1]
    assert r.status_code == 303 and (lobby.width, lobby.height) == (1920, 1080)
    assert [g["options"]["floor"] for g in lobby.regions if g["widget"] == "meeting_list"] == ["3F"]

    bad = client.post(f"/rooms/{room['id']}/door", data={"csrf_token": csrf(client), "checkin_grace_minutes": "0"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text and rows(client, select(DoorSettings)) == []
    ok = client.post(
        f"/rooms/{room['id']}/door",
        data={"csrf_token": csrf(client), "checkin_opens_minutes": "5", "checkin_grace_minutes": "10"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    saved = rows(client, select(DoorSettings))[0]
    assert (saved.checkin_opens_minutes, saved.checkin_grace_minutes, saved.release_no_shows) == (5, 10, False)


def test_meeting_list_shows_a_floor_or_every_room(client):
    from bookings_helpers import make_room

    from signage import clock
    from widgets import meeting_list

    admin, third = setup_room(client, floor="3F")
    fifth = make_room(client, admin, name="Lotus", floor="5F")
    meeting(client, admin, third["id"], hour=10, title="Third floor sync")
    meeting(client, admin, fifth["id"], hour=11, title="Fifth floor sync")
    go_to(client, at(9, 0))

    async def html(options):
        async with client.app.state.db.session() as s:
            opts = meeting_list.MeetingListOptions(**options)
            return (await meeting_list.body(opts, s, client.app.state.settings, clock.now()))[0]

    floor = in_app(client, html, {"floor": "3F"})
    assert "Third floor sync" in floor and "Fifth floor sync" not in floor
    everything = in_app(client, html, {})
    assert everything.index("Third floor sync") < everything.index("Fifth floor sync")
    r = client.get("/widgets/live?widget=nope", headers={**admin, "Accept": "text/event-stream"})
    assert r.status_code == 400 and "room_status, meeting_list or waiting_room" in r.text


def test_demo_meetings_that_started_are_checked_in_and_layouts_made(make_settings, client):
    from booking_api.doors.roomstate import release_no_shows
    from playlists.models import Layout
    from signage import clock, demo

    settings = make_settings()

    run_sync(demo.load(settings))
    run_sync(demo.load(settings))  # idempotent
    assert in_app(client, release_no_shows, client.app.state.db, clock.now(), settings) == []
    names = sorted(lo.name for lo in rows(client, select(Layout)) if "(demo)" in lo.name)
    assert len(names) == 3 and names[1:] == ["Lobby board (demo)", "Waiting room (demo)"]
    # a plan of each floor, every room placed on it, in the live colours
    from booking_api.models import FloorPlan, Room

    plans = rows(client, select(FloorPlan).order_by(FloorPlan.floor))
    assert [p.floor for p in plans] == ["2F", "3F", "5F"]
    login(client, "member")
    for plan in plans:
        page = client.get(f"/floorplans/{plan.id}")
        assert page.status_code == 200
        on_floor = rows(client, select(Room).where(Room.floor == plan.floor))
        assert all(r.plan_x is not None for r in on_floor)
        assert page.text.count('class="mark ') == len(on_floor)
        image = client.get(f"/floorplans/files/{plan.image}")
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


def test_the_timer_reads_as_far_ahead_as_the_widest_check_in_window(client):
    """The timer reads only the bookings near now; "near" is as wide as the longest
    check-in window of the site or of any door (here 3 hours before the meeting)."""
    from booking_api.doors.roomstate import next_boundary
    from signage import clock

    admin, room = setup_room(client)
    r = client.put(f"/api/v1/rooms/{room['id']}/door", json={"checkin_opens_minutes": 180}, headers=admin)
    assert r.status_code == 200, r.text
    b = meeting(client, admin, room["id"], hour=14)
    go_to(client, at(10, 58))  # the timer looks 5 minutes ahead
    settings = client.app.state.settings

    async def upcoming():
        return await next_boundary(client.app.state.db, clock.now(), settings)

    first, by_room = in_app(client, upcoming)
    assert first == at(11).astimezone(dt.UTC)  # check-in opens at 11:00, 3 hours before 14:00
    assert by_room[room["id"]][1] == at(14).astimezone(dt.UTC)
    go_to(client, at(11, 1))
    wait_for(lambda: status(client, admin, room["id"])["checkin"] is not None)
    assert status(client, admin, room["id"])["checkin"]["booking_id"] == b["id"]


def test_no_walk_up_in_a_room_that_needs_approval(client):
    """Nobody approves at the door: such a room offers no "Book now", and a walk-up
    request is refused with a reason, nothing written."""
    admin, room = setup_room(client, needs_approval=True)
    screen = door_screen(client, admin, room["id"])
    go_to(client, at(13, 0))
    assert status(client, admin, room["id"])["walkup_until"] is None
    r = client.post(f"/player/api/rooms/{room['id']}/walkup", json={}, headers=screen["headers"])
    assert r.status_code == 409 and "needs approval" in r.json()["message"], r.text
    assert rows(client, select(Booking)) == [] and rows(client, select(CheckIn)) == []


def test_the_demo_has_a_rentable_room_with_its_price(make_settings, client):
    """The demo shows billing (issue 17): Emei has a rate card; a quote prices it."""
    from bookings_helpers import at

    from booking_api.models import Room
    from signage import demo

    run_sync(demo.load(make_settings()))
    emei = rows(client, select(Room).where(Room.name == "Emei 峨眉"))[0]
    member = api_token(client, "member")
    card = client.get(f"/api/v1/rooms/{emei.id}/rate-card", headers=member).json()
    assert [r["label"] for r in card["rules"]] == ["Tenant 租户价", "Peak 高峰", "Off-peak 非高峰"]
    body = {"room_id": emei.id, "title": "Training", "start": at(19).isoformat(), "end": at(20, 30).isoformat()}
    q = client.post("/api/v1/bookings/quote", json=body, headers=member).json()
    assert (q["total"], [line["label"] for line in q["lines"]]) == (16000, ["Off-peak 非高峰"])  # 2 hours, rounded up


def test_a_screen_speaks_the_sites_language_whoever_published(make_client):
    """Issue 22 point 3: a layout is rendered once for every screen, so it is rendered in the
    site's language (SIGNAGE_DEFAULT_LOCALE), not in that of whoever asked first; a screen's
    live stream too, whatever its browser's language."""
    client = make_client(default_locale="zh_CN")
    admin = {**api_token(client, "admin"), "Accept-Language": "en"}
    room = make_room(client, admin, name="Lotus")
    screen = door_screen(client, admin, room["id"])
    state = client.get("/player/api/state", headers={**screen["headers"], "Accept-Language": "en"}).json()
    html = " ".join(str(region.get("html", "")) for region in state["layout"]["regions"])
    assert "会议" in html and ">Meetings<" not in html
    assert 'data-locale="zh-CN"' in html  # the clock's date too
    with client.stream("GET", f"/player/api/live?widget=room_status&room_id={room['id']}",
                       headers={**screen["headers"], "Accept": "text/event-stream", "Accept-Language": "en"}) as r:  # fmt: skip
        first = next(line for line in r.iter_lines() if line.startswith("data:"))
    assert "空闲" in json.loads(first[5:])["html"]


def test_a_closed_room_offers_no_walk_up(client):
    """Issue 22 point 2: before its opening hours a room says it is closed and offers no
    "Book now" (which would only be refused)."""
    admin, room = setup_room(client, name="Early", opens_at="07:00", closes_at="22:00")
    go_to(client, at(5, 0))
    got = status(client, admin, room["id"])
    assert got["closed"] is True and got["walkup_until"] is None
    go_to(client, at(9, 0))
    got = status(client, admin, room["id"])
    assert got["closed"] is False and got["walkup_until"] is not None
