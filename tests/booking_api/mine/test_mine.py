"""My meetings on a phone (SPEC B8) and the QR check-in page (B5): booking, notices,
invitations, approvals, the month calendar; QR codes expired, forged, for another room."""

from __future__ import annotations

import time

import pytest
from bookings_helpers import at, make_room
from doors_helpers import go_to, meeting, setup_room, wait_for
from fixtures import add_user, api_token, csrf, login, rows
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from booking_api.doors.checkin import qr_token
from booking_api.models import Booking, CheckIn, Reply
from signage.models import User


@pytest.fixture
def client(make_client):
    return make_client(test_clock=True)


def checkin_path(client, room_id, booking_id, token=None) -> str:
    return f"/m/checkin/{token or qr_token(client.app.state.settings, room_id, booking_id)}"


def test_qr_check_in_asks_to_sign_in_then_checks_in(client):
    admin, room = setup_room(client)
    b = meeting(client, admin, room["id"], hour=10)
    go_to(client, at(9, 55))
    path = checkin_path(client, room["id"], b["id"])
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"
    login(client, "member")
    page = client.get(path)
    assert page.status_code == 200 and "Sync" in page.text
    r = client.post(path, data={"csrf_token": csrf(client)})
    assert r.status_code == 200 and "Checked in. Welcome!" in r.text
    assert [(c.booking_id, c.via) for c in rows(client, select(CheckIn))] == [(b["id"], "qr")]


class PastSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 3600


def test_bad_qr_codes_are_refused_and_change_nothing(client):
    admin, room = setup_room(client)
    other = setup_room(client, name="Lotus")[1]
    b = meeting(client, admin, room["id"], hour=10)
    go_to(client, at(9, 55))
    login(client, "member")
    settings = client.app.state.settings
    expired = URLSafeTimedSerializer(settings.secret_key, salt="signage.checkin", signer=PastSigner).dumps(
        {"r": room["id"], "b": b["id"]}
    )
    forged = URLSafeTimedSerializer("not-the-secret", salt="signage.checkin").dumps({"r": room["id"], "b": b["id"]})
    cases = [
        (expired, 400, "This check-in code has expired."),
        (forged, 400, "This check-in code is not valid."),
        (qr_token(settings, other["id"], b["id"]), 403, "This meeting is in another room."),
    ]
    for token, status, message in cases:
        r = client.post(f"/m/checkin/{token}", data={"csrf_token": csrf(client)})
        assert r.status_code == status and message in r.text, (message, r.status_code)
        assert "Checked in. Welcome!" not in r.text
    assert "for another room" in client.get(f"/m/checkin/{cases[2][0]}").text
    assert rows(client, select(CheckIn)) == []


def test_book_on_the_phone_and_see_it(client):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Bamboo")
    login(client, "member")
    token = csrf(client)
    start = at(14).strftime("%Y-%m-%dT%H:%M")
    bad = client.post(
        "/m/book", data={"csrf_token": token, "room_id": room["id"], "title": "", "start": start, "minutes": "60"}
    )
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    r = client.post(
        "/m/book", data={"csrf_token": token, "room_id": room["id"], "title": "Plan", "start": start, "minutes": "60"}
    )
    assert r.status_code == 200 and "Booked." in r.text and "Plan" in r.text
    clash = client.post(
        "/m/book", data={"csrf_token": token, "room_id": room["id"], "title": "Again", "start": start, "minutes": "30"}
    )
    assert clash.status_code == 409 and 'role="alert"' in clash.text
    assert [b.title for b in rows(client, select(Booking))] == ["Plan"]
    cal = client.get("/m/calendar?month=" + at(14).strftime("%Y-%m"))
    assert cal.status_code == 200 and "Plan" in cal.text
    assert client.get("/m/calendar?month=nope").status_code == 400


def test_invitations_accept_and_decline(client):
    email = login(client, "member")
    me = rows(client, select(User).where(User.email == email))[0]
    admin, room = setup_room(client)
    b = meeting(client, admin, room["id"], hour=11, attendees=[{"name": "Me", "email": email, "user_id": me.id}])
    page = client.get("/m/invitations")
    assert f'data-booking-id="{b["id"]}"' in page.text and "No answer yet" in page.text
    client.post(f"/m/invitations/{b['id']}/accept", data={"csrf_token": csrf(client)})
    assert "Accepted" in client.get("/m/invitations").text
    client.post(f"/m/invitations/{b['id']}/decline", data={"csrf_token": csrf(client)})
    assert [r.answer for r in rows(client, select(Reply))] == ["declined"]
    other = meeting(client, admin, room["id"], hour=15)
    r = client.post(f"/m/invitations/{other['id']}/accept", data={"csrf_token": csrf(client)})
    assert r.status_code == 400 and "not invited" in r.text
    assert len(rows(client, select(Reply))) == 1


def test_approvals_inbox_and_what_the_organizer_is_told(client):
    admin = api_token(client, "admin")
    approver = add_user(client, "room_admin")
    approver_id = rows(client, select(User).where(User.email == approver))[0].id
    room = make_room(client, admin, name="Maple", needs_approval=True, owner_ids=[approver_id])
    login(client, "member")
    token = csrf(client)
    start = at(10).strftime("%Y-%m-%dT%H:%M")
    client.post(
        "/m/book", data={"csrf_token": token, "room_id": room["id"], "title": "Pitch", "start": start, "minutes": "60"}
    )
    pending = rows(client, select(Booking))[0]
    assert pending.status == "pending"
    assert "Waiting for approval" in client.get("/m/bookings").text

    client.cookies.clear()
    login(client, "room_admin", approver)
    inbox = client.get("/m/approvals")
    assert f'data-booking-id="{pending.id}"' in inbox.text
    r = client.post(f"/m/approvals/{pending.id}/reject", data={"csrf_token": csrf(client), "reason": ""})
    assert r.status_code == 400 and "Say why" in r.text
    client.post(f"/m/approvals/{pending.id}/reject", data={"csrf_token": csrf(client), "reason": "Board meeting"})
    assert rows(client, select(Booking))[0].status == "rejected"


def test_no_show_is_told_to_the_organizer(client):
    email = login(client, "member")
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Cedar")
    token = csrf(client)
    start = at(10).strftime("%Y-%m-%dT%H:%M")
    client.post(
        "/m/book",
        data={"csrf_token": token, "room_id": room["id"], "title": "Standup", "start": start, "minutes": "30"},
    )
    go_to(client, at(10, 20))
    wait_for(lambda: rows(client, select(Booking))[0].status == "no_show")
    page = client.get("/m/bookings")
    assert "Released: nobody checked in to “Standup”" in page.text, email


def test_the_phone_booking_page_says_until_when_each_room_is_free(make_client):
    """Issue 22 points 2 and 6: each room reads "free until 14:00", "in use until 11:00" or
    "free all day", never "booked" for a meeting hours away; the start is inside opening hours."""
    client = make_client(test_clock=True)
    hours = {"opens_at": "07:00", "closes_at": "22:00"}
    admin, busy = setup_room(client, name="Busy", **hours)
    later = make_room(client, admin, name="Later", **hours)
    make_room(client, admin, name="Empty", **hours)
    meeting(client, admin, busy["id"], hour=10, minutes=60)
    meeting(client, admin, later["id"], hour=14, minutes=60)
    go_to(client, at(10, 5))  # within the check-in grace: not yet released as a no-show
    login(client, "member")
    page = client.get("/m/book").text
    assert "In use until 11:00" in page and "Free until 14:00" in page and "Free all day" in page
    assert ">Booked<" not in page
    go_to(client, at(5, 10))  # before the rooms open: the form starts at their opening
    assert 'value="' + at(7).strftime("%Y-%m-%dT%H:%M") + '"' in client.get("/m/book").text
