"""The service desk (SPEC B9): service calls from the door and the API reach the board,
accept and done show on the door screen, a meeting's end makes one cleaning task."""

from __future__ import annotations

import json

import pytest
from bookings_helpers import at
from doors_helpers import door_screen, go_to, meeting, setup_room, wait_for
from fixtures import add_user, api_token, csrf, login, rows
from mail_helpers import mailing, smtp  # noqa: F401  (fixtures: an app sending to a real SMTP server)
from sqlalchemy import select

from booking_api.desk.models import ServiceTask
from signage.models import AuditEntry


@pytest.fixture
def client(make_client):
    return make_client(test_clock=True)


def calls(client, headers, status=""):
    r = client.get("/api/v1/service-calls" + (f"?status={status}" if status else ""), headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["service_calls"]


def events(client, headers, kind="service_call."):
    r = client.get(f"/api/v1/events?type={kind}&limit=1000", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["events"]


def test_calls_from_the_door_and_the_api_are_accepted_and_done(client):
    admin, room = setup_room(client)
    screen = door_screen(client, admin, room["id"])
    desk = api_token(client, "service")
    r = client.post(
        f"/player/api/rooms/{room['id']}/service", json={"kind": "tea", "note": "4 cups"}, headers=screen["headers"]
    )
    assert r.status_code == 200, r.text
    from_door = r.json()["id"]
    member = api_token(client, "member")
    r = client.post(f"/api/v1/rooms/{room['id']}/service-calls", json={"kind": "it"}, headers=member)
    assert r.status_code == 201, r.text
    from_api = r.json()
    assert (from_api["status"], from_api["kind"], from_api["room"], from_api["origin"]) == (
        "open",
        "it",
        "Orchid",
        "api",
    )
    got = {c["id"]: c for c in calls(client, desk, "open")}
    assert set(got) == {from_door, from_api["id"]} and got[from_door]["note"] == "4 cups"

    # bad input: 4xx with a message, never a 500
    for body in ({"kind": "pizza"}, {"note": "x" * 501}, {"kind": "tea", "extra": 1}):
        r = client.post(f"/api/v1/rooms/{room['id']}/service-calls", json=body, headers=member)
        assert r.status_code == 400 and r.json()["message"], body
    assert client.post("/api/v1/rooms/999999/service-calls", json={}, headers=member).status_code == 404
    assert client.get("/api/v1/service-calls?status=lost", headers=desk).status_code == 400
    assert client.get("/api/v1/service-calls", headers=member).status_code == 403

    r = client.post(f"/api/v1/service-calls/{from_door}/accept", headers=desk)
    assert r.status_code == 200 and r.json()["status"] == "accepted" and r.json()["accepted_by"], r.text
    assert client.post(f"/api/v1/service-calls/{from_door}/accept", headers=desk).status_code == 409
    status = client.get(f"/api/v1/rooms/{room['id']}/status", headers=admin).json()
    assert status["service"]["status"] == "accepted" and status["service"]["by"] == r.json()["accepted_by"]
    r = client.post(f"/api/v1/service-calls/{from_door}/done", headers=desk)
    assert r.status_code == 200 and r.json()["status"] == "done"
    assert client.post(f"/api/v1/service-calls/{from_door}/done", headers=desk).status_code == 409
    assert client.post("/api/v1/service-calls/999999/done", headers=desk).status_code == 404
    assert [c["id"] for c in calls(client, desk, "open")] == [from_api["id"]]

    kinds = [(e["type"], e["data"]["id"]) for e in events(client, admin)]
    assert kinds == [
        ("service_call.created", from_door),
        ("service_call.created", from_api["id"]),
        ("service_call.accepted", from_door),
        ("service_call.done", from_door),
    ]
    audited = {(e.action, e.result) for e in rows(client, select(AuditEntry))}
    assert {
        ("service_call.accept", "success"),
        ("service_call.accept", "failure"),
        ("service_call.done", "success"),
    } <= audited


def test_a_meetings_end_makes_one_cleaning_task(client):
    admin, room = setup_room(client)
    ended_early = meeting(client, admin, room["id"], hour=10)
    ends_by_itself = meeting(client, admin, room["id"], hour=12)
    go_to(client, at(10, 5))
    assert client.post(f"/api/v1/bookings/{ended_early['id']}/check-in", headers=admin).status_code == 200
    assert client.post(f"/api/v1/bookings/{ended_early['id']}/end", headers=admin).status_code == 200
    wait_for(lambda: rows(client, select(ServiceTask)))
    go_to(client, at(12, 5))
    assert client.post(f"/api/v1/bookings/{ends_by_itself['id']}/check-in", headers=admin).status_code == 200
    go_to(client, at(13, 1))  # the second meeting's end time passed: the room timer
    wait_for(lambda: len(rows(client, select(ServiceTask))) == 2)
    go_to(client, at(13, 10))
    made = rows(client, select(ServiceTask).order_by(ServiceTask.id))
    assert [(t.kind, t.origin, t.after_booking_id) for t in made] == [
        ("cleaning", "meeting_end", ended_early["id"]),
        ("cleaning", "meeting_end", ends_by_itself["id"]),
    ]
    desk = api_token(client, "service")
    first = made[0].id
    assert client.post(f"/api/v1/service-calls/{first}/accept", headers=desk).status_code == 200
    status = client.get(f"/api/v1/rooms/{room['id']}/status", headers=admin).json()
    assert status["condition"] == "needs_cleaning"  # the second still waits
    assert client.post(f"/api/v1/service-calls/{made[1].id}/accept", headers=desk).status_code == 200
    assert client.get(f"/api/v1/rooms/{room['id']}/status", headers=admin).json()["condition"] == "being_cleaned"
    for t in made:
        assert client.post(f"/api/v1/service-calls/{t.id}/done", headers=desk).status_code == 200
    assert client.get(f"/api/v1/rooms/{room['id']}/status", headers=admin).json()["condition"] == "clean"


def test_the_desk_page_lists_rooms_and_tasks_and_filters(client):
    admin, room = setup_room(client)
    setup_room(client, name="Lotus", floor="3F")
    b = meeting(client, admin, room["id"], hour=10, attendees=[{"name": "A"}, {"name": "B"}], services=["tea"])
    go_to(client, at(10, 5))
    r = client.post(
        f"/api/v1/rooms/{room['id']}/service-calls", json={"kind": "tea", "note": "<b>hot</b>"}, headers=admin
    )
    call = r.json()["id"]
    login(client, "service")
    page = client.get("/desk")
    assert page.status_code == 200
    html = page.text
    assert f'data-room-id="{room["id"]}" data-state="in_progress"' in html and "2 people" in html
    assert f'data-task-id="{call}"' in html and "&lt;b&gt;hot&lt;/b&gt;" in html
    only_free = client.get("/desk?state=free").text
    assert f'data-room-id="{room["id"]}"' not in only_free and 'data-state="free"' in only_free
    assert (
        "3F" in client.get("/desk?floor=3F").text
        and f'data-room-id="{room["id"]}"' not in client.get("/desk?floor=3F").text
    )
    assert client.get("/desk?state=flying").status_code == 400
    token = csrf(client)
    r = client.post(f"/desk/tasks/{call}/accept", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post(f"/desk/tasks/{call}/accept", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 409 and "accepted already" in r.text
    r = client.post(
        f"/desk/tasks/{call}/done",
        data={"csrf_token": token},
        headers={"HX-Request": "true", "HX-Target": "desk-board"},
    )
    assert r.status_code == 200 and f'data-task-id="{call}"' not in r.text and 'id="desk-board"' in r.text
    assert b["id"]


def test_a_call_nobody_accepts_is_escalated_once_and_mailed_to_the_staff(mailing, smtp):  # noqa: F811
    client = mailing(test_clock=True, service_escalate_minutes=5)
    admin, room = setup_room(client)
    staff = add_user(client, "service")
    go_to(client, at(9, 0))
    member = api_token(client, "member")
    late = client.post(f"/api/v1/rooms/{room['id']}/service-calls", json={"kind": "tea"}, headers=member).json()
    taken = client.post(f"/api/v1/rooms/{room['id']}/service-calls", json={"kind": "it"}, headers=member).json()
    desk = api_token(client, "service")
    assert client.post(f"/api/v1/service-calls/{taken['id']}/accept", headers=desk).status_code == 200
    go_to(client, at(9, 4))
    go_to(client, at(9, 6))
    wait_for(lambda: [e for e in events(client, admin) if e["type"] == "service_call.escalated"])
    go_to(client, at(9, 20))
    escalated = [e for e in events(client, admin) if e["type"] == "service_call.escalated"]
    assert [e["data"]["id"] for e in escalated] == [late["id"]]  # once; the accepted one never
    assert {c["id"]: bool(c["escalated_at"]) for c in calls(client, desk)} == {late["id"]: True, taken["id"]: False}
    mails = wait_for(lambda: smtp.inbox.parsed(staff))
    assert mails[0]["Subject"] == "Waiting: Orchid requests tea service" and len(smtp.inbox.parsed(staff)) == 1


def test_the_spoken_alert_is_a_wav_made_once_per_sentence(make_client):
    import shutil
    import wave

    from fixtures import unavailable

    if shutil.which("espeak-ng") is None:
        unavailable("espeak-ng not installed (apt-get install espeak-ng)")
    client = make_client(default_locale="zh_CN")
    admin, room = setup_room(client, name="三号会议室")
    call = client.post(f"/api/v1/rooms/{room['id']}/service-calls", json={"kind": "tea"}, headers=admin).json()
    login(client, "service")
    r = client.get(f"/desk/tasks/{call['id']}/speech")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav", r.text[:200]
    import io

    with wave.open(io.BytesIO(r.content)) as w:
        seconds = w.getnframes() / w.getframerate()
    assert 1.0 < seconds < 10.0  # "三号会议室 请求 茶水服务" at 160 words a minute
    cached = list((client.app.state.settings.data_dir / "speech").glob("*.wav"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    assert client.get(f"/desk/tasks/{call['id']}/speech").content == r.content
    assert cached[0].stat().st_mtime_ns == stamp  # from the cache, not made again
    english = client.get(f"/desk/tasks/{call['id']}/speech", headers={"Accept-Language": "en"})
    assert english.status_code == 200
    assert client.get("/desk/tasks/999999/speech").status_code == 404


def test_the_waiting_room_announces_a_meeting_soon_and_one_called_in(client):
    from booking_api.desk.models import CallIn

    admin, room = setup_room(client, floor="3F")
    other = setup_room(client, name="Lotus", floor="5F")[1]
    soon = meeting(client, admin, room["id"], hour=10, title="Product review")
    later = meeting(client, admin, room["id"], hour=14, title="Planning")
    elsewhere = meeting(client, admin, other["id"], hour=10, title="Elsewhere")
    params = {"widget": "waiting_room", "floor": "3F", "announce_minutes": "5"}

    def body() -> str:
        with client.stream("GET", "/widgets/live", params=params, headers={"Accept": "text/event-stream"}) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("data:"):
                    return json.loads(line[5:])["html"]
        raise AssertionError("no html")

    login(client, "service")
    go_to(client, at(9, 30))
    html = body()
    assert f'data-booking-id="{soon["id"]}"' in html and f'data-booking-id="{elsewhere["id"]}"' not in html
    assert "data-announce-key" not in html
    go_to(client, at(9, 56))  # five minutes before: announced
    html = body()
    assert (
        f'data-announce-key="soon:{soon["id"]}"' in html and "Attendees of Product review, please go to Orchid" in html
    )

    r = client.post(f"/desk/bookings/{later['id']}/call-in", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303
    assert f'data-announce-key="call:{rows(client, select(CallIn))[0].id}"' in body()
    assert "Attendees of Planning" in body()
    assert client.post("/desk/bookings/999999/call-in", data={"csrf_token": csrf(client)}).status_code == 404
    assert (
        client.get(
            "/widgets/live", params={**params, "announce_minutes": "99"}, headers={"Accept": "text/event-stream"}
        ).status_code
        == 400
    )
    wait_for(lambda: [e for e in events(client, admin, "desk.") if e["data"]["booking_id"] == later["id"]])


def test_the_cleaning_rule_per_room_and_no_walk_up_until_clean(client):
    admin, room = setup_room(client)
    lotus = setup_room(client, name="Lotus")[1]
    screen = door_screen(client, admin, room["id"])
    r = client.put(
        f"/api/v1/rooms/{room['id']}/cleaning", json={"cleaning": "every", "walkup_until_clean": True}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert (
        client.put(f"/api/v1/rooms/{lotus['id']}/cleaning", json={"cleaning": "services"}, headers=admin).status_code
        == 200
    )
    assert (
        client.put(f"/api/v1/rooms/{room['id']}/cleaning", json={"cleaning": "weekly"}, headers=admin).status_code
        == 400
    )
    assert (
        client.put(f"/api/v1/rooms/{room['id']}/cleaning", json={}, headers=api_token(client, "room_admin")).status_code
        == 403
    )
    plain = meeting(client, admin, lotus["id"], hour=10)
    with_tea = meeting(client, admin, lotus["id"], hour=11, services=["tea"])
    here = meeting(client, admin, room["id"], hour=10)
    for b, hour in ((plain, 10), (here, 10), (with_tea, 11)):
        go_to(client, at(hour, 5))
        assert client.post(f"/api/v1/bookings/{b['id']}/check-in", headers=admin).status_code == 200
        assert client.post(f"/api/v1/bookings/{b['id']}/end", headers=admin).status_code == 200
    cleaning = select(ServiceTask).where(ServiceTask.origin == "meeting_end")  # (the tea is a task before it too)
    wait_for(lambda: len(rows(client, cleaning)) == 2)
    go_to(client, at(11, 30))
    assert sorted(t.after_booking_id for t in rows(client, cleaning)) == sorted([here["id"], with_tea["id"]])

    door = f"/player/api/rooms/{room['id']}/walkup"
    r = client.post(door, json={}, headers=screen["headers"])
    assert r.status_code == 409 and "waiting to be cleaned" in r.json()["message"]
    assert client.get(f"/api/v1/rooms/{room['id']}/status", headers=admin).json()["walkup_until"] is None
    task = next(t for t in rows(client, cleaning) if t.room_id == room["id"])
    assert client.post(f"/api/v1/service-calls/{task.id}/done", headers=api_token(client, "service")).status_code == 200
    assert client.post(door, json={}, headers=screen["headers"]).status_code == 200
