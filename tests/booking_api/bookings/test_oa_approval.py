"""Scenario 二 of issue 18: people book with us, an OA approves. A room whose approval is
"external": the booking waits, the OA is sent `booking.approval_requested` (a real receiver,
signatures checked by `standardwebhooks`), answers through the API with its own token, and
the attendees are invited by mail (a real SMTP server); one it leaves undecided past
SIGNAGE_APPROVAL_HOURS is rejected by the room's rule and the organizer is told."""

from __future__ import annotations

import pytest
from bookings_helpers import at, backdate, book, make_room
from fixtures import api_token, in_app, rows, wait_for
from mail_helpers import SITE, SmtpServer
from sqlalchemy import select
from webhooks_helpers import Receiver, payload, verifies

from booking_api.bookings.approvals import decide_overdue
from signage.models import AuditEntry


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def text_of(mail) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


def test_the_oa_approves_through_the_api_and_an_undecided_one_is_rejected(make_client, receiver, smtp):
    client = make_client(webhook_allow_private=True, smtp_url=smtp.url, mail_from=SITE)
    client.app.state.webhooks.schedule = (0.2,) * 9
    admin, oa, member = api_token(client, "admin"), api_token(client, "room_admin"), api_token(client, "member")
    oa_id = client.get("/api/v1/me", headers=oa).json()["id"]
    organizer = client.get("/api/v1/me", headers=member).json()["email"]
    room = make_room(client, admin, name="Board", needs_approval=True, approval="external", owner_ids=[oa_id])
    assert (room["approval"], room["undecided"]) == ("external", "reject")
    asked = ["booking.approval_requested", "booking.approved", "booking.rejected"]
    r = client.post("/api/v1/webhooks", json={"url": receiver.url, "events": asked}, headers=admin)
    secret = r.json()["secret"]

    guests = [{"name": "Li Lei", "email": "li@example.com"}]
    b = book(client, member, room["id"], at(10), at(11), title="Budget", attendees=guests).json()
    assert b["status"] == "pending"
    wait_for(lambda: receiver.answered(200))
    (request,) = receiver.requests
    assert verifies(secret, request) and payload(request)["type"] == "booking.approval_requested"
    assert payload(request)["data"]["id"] == b["id"] and payload(request)["data"]["title"] == "Budget"
    assert not smtp.inbox.mails  # nobody is invited before the OA says yes

    # another room admin's token may not decide it; the OA's may
    r = client.post(f"/api/v1/bookings/{b['id']}/approve", headers=api_token(client, "room_admin"))
    assert r.status_code == 403
    r = client.post(f"/api/v1/bookings/{b['id']}/approve", json={"reason": "OA #4711"}, headers=oa)
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    wait_for(lambda: len(receiver.answered(200)) == 2)
    told = payload(receiver.requests[-1])
    assert told["type"] == "booking.approved" and told["data"]["status"] == "confirmed"
    wait_for(lambda: smtp.inbox.parsed("li@example.com"))
    assert "Budget" in smtp.inbox.parsed("li@example.com")[0]["subject"]
    (approved,) = wait_for(lambda: smtp.inbox.parsed(organizer))  # the organizer is told too
    assert approved["subject"].startswith("Booking approved: Budget") and "OA #4711" in text_of(approved)

    # undecided past the deadline: rejected by the room's rule, the organizer told
    late = book(client, member, room["id"], at(14), at(15), title="Offsite").json()
    wait_for(lambda: len(receiver.answered(200)) == 3)
    assert in_app(client, decide_overdue, client.app.state.db, client.app.state.bus, 48, "en") == 0  # not yet
    backdate(client, late["id"], 49)
    assert in_app(client, decide_overdue, client.app.state.db, client.app.state.bus, 48, "en") == 1
    assert in_app(client, decide_overdue, client.app.state.db, client.app.state.bus, 48, "en") == 0  # once
    got = client.get(f"/api/v1/bookings/{late['id']}", headers=member).json()
    assert got["status"] == "rejected" and got["reason"] == "Not decided within 48 hours."
    wait_for(lambda: len(receiver.answered(200)) == 4)
    assert payload(receiver.requests[-1])["type"] == "booking.rejected"
    wait_for(lambda: len(smtp.inbox.parsed(organizer)) == 2)
    assert smtp.inbox.parsed(organizer)[-1]["subject"].startswith("Booking rejected: Offsite")
    audited = rows(client, select(AuditEntry.user_email).where(AuditEntry.action == "booking.reject"))
    assert audited == ["system"]


def test_an_undecided_booking_is_approved_when_the_room_says_so(make_client, receiver, smtp):
    client = make_client(webhook_allow_private=True, smtp_url=smtp.url, mail_from=SITE)
    client.app.state.webhooks.schedule = (0.2,) * 9
    admin, member = api_token(client, "admin"), api_token(client, "member")
    organizer = client.get("/api/v1/me", headers=member).json()["email"]
    room = make_room(client, admin, name="Atrium", needs_approval=True, approval="external", undecided="approve")
    assert room["undecided"] == "approve"
    asked = ["booking.approval_requested", "booking.approved", "booking.rejected"]
    client.post("/api/v1/webhooks", json={"url": receiver.url, "events": asked}, headers=admin)
    guests = [{"name": "Han Mei", "email": "han@example.com"}]
    b = book(client, member, room["id"], at(10), at(11), title="Planning", attendees=guests).json()
    assert b["status"] == "pending"
    wait_for(lambda: receiver.answered(200))
    backdate(client, b["id"], 49)
    assert in_app(client, decide_overdue, client.app.state.db, client.app.state.bus, 48, "en") == 1
    got = client.get(f"/api/v1/bookings/{b['id']}", headers=member).json()
    assert got["status"] == "confirmed" and got["reason"] == "Not decided within 48 hours."
    wait_for(lambda: len(receiver.answered(200)) == 2)
    told = payload(receiver.requests[-1])
    assert told["type"] == "booking.approved" and told["data"]["status"] == "confirmed"
    (invited,) = wait_for(lambda: smtp.inbox.parsed("han@example.com"))
    assert invited["subject"].startswith("Invitation: Planning")
    (approved,) = wait_for(lambda: smtp.inbox.parsed(organizer))
    assert approved["subject"].startswith("Booking approved: Planning")
    assert "Not decided within 48 hours." in text_of(approved)
    audited = rows(client, select(AuditEntry.user_email).where(AuditEntry.action == "booking.approve"))
    assert audited == ["system"]
