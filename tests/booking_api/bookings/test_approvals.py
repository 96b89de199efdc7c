"""Approval: pending bookings hold the slot until a room admin approves or rejects with a reason."""

from bookings_helpers import at, book, make_room
from fixtures import api_token, csrf, login, rows, table_rows
from sqlalchemy import select

from booking_api.models import Booking
from signage.models import AuditEntry


def test_pending_holds_the_slot_until_approved(client):
    owner, other_admin = api_token(client, "room_admin"), api_token(client, "room_admin")
    member = api_token(client, "member")
    room = make_room(client, owner, name="Board", capacity=10, needs_approval=True)
    b = book(client, member, room["id"], at(10), at(11)).json()
    assert b["status"] == "pending"
    # the pending booking holds the slot
    assert book(client, member, room["id"], at(10, 30), at(11, 30)).status_code == 409
    # not the room's admin, not a room admin at all
    r = client.post(f"/api/v1/bookings/{b['id']}/approve", headers=other_admin)
    assert r.status_code == 403 and "room's admins" in r.json()["message"]
    assert client.post(f"/api/v1/bookings/{b['id']}/approve", headers=member).status_code == 403
    r = client.post(f"/api/v1/bookings/{b['id']}/approve", headers=owner)
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    assert client.post(f"/api/v1/bookings/{b['id']}/approve", headers=owner).status_code == 409
    # a room admin's own booking of a room they own needs no approval
    assert book(client, owner, room["id"], at(14), at(15)).json()["status"] == "confirmed"


def test_reject_needs_a_reason_and_frees_the_slot(client):
    owner, member = api_token(client, "room_admin"), api_token(client, "member")
    room = make_room(client, owner, name="Hall", capacity=10, needs_approval=True)
    b = book(client, member, room["id"], at(10), at(11)).json()
    r = client.post(f"/api/v1/bookings/{b['id']}/reject", json={"reason": "  "}, headers=owner)
    assert r.status_code == 400 and "Say why" in r.json()["message"]
    r = client.post(f"/api/v1/bookings/{b['id']}/reject", json={"reason": "Board meeting"}, headers=owner)
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["reason"] == "Board meeting"
    assert book(client, member, room["id"], at(10), at(11)).status_code == 201
    actions = rows(client, select(AuditEntry.action).where(AuditEntry.action.startswith("booking.")))
    assert actions.count("booking.reject") == 2  # the refused one and the done one


def test_approvals_inbox_and_the_organizer_sees_the_outcome(client):
    login(client, "room_admin")
    client.post(
        "/rooms/manage",
        data={
            "name": "Inbox",
            "capacity": "6",
            "opens_at": "00:00",
            "closes_at": "24:00",
            "needs_approval": "on",
            "csrf_token": csrf(client),
        },
    )
    member = api_token(client, "member")
    [room] = client.get("/api/v1/rooms", headers=member).json()
    a = book(client, member, room["id"], at(10), at(11), title="Quarterly").json()
    c = book(client, member, room["id"], at(13), at(14), title="Offsite").json()
    waiting = table_rows(client.get("/approvals").text)
    assert [(b["Room"], b["Title"]) for b in waiting] == [("Inbox", "Quarterly"), ("Inbox", "Offsite")]
    assert (
        client.post(
            f"/approvals/{a['id']}/approve", data={"csrf_token": csrf(client)}, follow_redirects=False
        ).status_code
        == 303
    )
    r = client.post(f"/approvals/{c['id']}/reject", data={"reason": "", "csrf_token": csrf(client)})
    assert r.status_code == 400 and "Say why" in r.text
    client.post(f"/approvals/{c['id']}/reject", data={"reason": "Room under repair", "csrf_token": csrf(client)})
    assert "Nothing is waiting for approval." in client.get("/approvals").text
    status = {b.title: b.status for b in rows(client, select(Booking))}
    assert status == {"Quarterly": "confirmed", "Offsite": "rejected"}
    client.cookies.clear()
    # the organizer's own page
    login_as_organizer = client.get(f"/api/v1/bookings/{c['id']}", headers=member).json()
    assert login_as_organizer["status"] == "rejected" and login_as_organizer["reason"] == "Room under repair"


def test_a_pending_series_is_approved_at_once(client):
    owner, member = api_token(client, "room_admin"), api_token(client, "member")
    room = make_room(client, owner, name="Series room", capacity=10, needs_approval=True)
    body = {
        "room_id": room["id"],
        "title": "Weekly",
        "start": at(10).isoformat(),
        "end": at(11).isoformat(),
        "rrule": "FREQ=WEEKLY;COUNT=3",
    }
    made = client.post("/api/v1/bookings", json=body, headers=member).json()
    assert {o["status"] for o in made["occurrences"]} == {"pending"}
    first, *rest = [o["id"] for o in made["occurrences"]]
    assert (
        client.post(f"/api/v1/bookings/{rest[-1]}/reject", json={"reason": "holiday"}, headers=owner).status_code == 200
    )
    r = client.post(f"/api/v1/bookings/{first}/approve", json={"scope": "series"}, headers=owner)
    assert r.status_code == 200
    status = {b.id: b.status for b in rows(client, select(Booking))}
    assert [status[i] for i in [first, *rest]] == ["confirmed", "confirmed", "rejected"]
