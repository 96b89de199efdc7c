"""Outbound webhooks (issue 18): Standard Webhooks 1.0 to a real HTTP receiver in the test,
each message checked by the `standardwebhooks` library, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from bookings_helpers import at, book, make_room
from fixtures import api_token, csrf, login, rows, wait_for
from sqlalchemy import select
from webhooks_helpers import Receiver, payload, verifies

from signage.models import AuditEntry
from signage.webhooks.models import Delivery

FAST = (0.2,) * 9  # the retry schedule, shortened (5 s, 5 min, … in production)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def hooked(make_client):
    """An app that may call the test's own receiver on 127.0.0.1, retrying quickly."""
    client = make_client(webhook_allow_private=True)
    client.app.state.webhooks.schedule = FAST
    return client


def subscribe(client, admin, url, events=("booking.*",)) -> dict:
    r = client.post("/api/v1/webhooks", json={"url": url, "events": list(events), "description": "OA"}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


def settled_log(client, admin, hook) -> list[dict]:
    """The subscription's deliveries once none is being sent (a receiver's 200 comes a moment
    before the delivery is recorded as sent)."""
    url = f"/api/v1/webhooks/{hook['id']}/deliveries"
    return wait_for(lambda: (log := client.get(url, headers=admin).json()) and all(d["state"] != "sending" for d in log) and log)


def test_signed_in_order_retried_with_the_same_id_until_one_success(hooked, receiver):
    client, admin = hooked, api_token(hooked, "admin")
    hook = subscribe(client, admin, receiver.url)
    secret = hook["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin).json()  # shown once
    receiver.answers = [(500, {}), (503, {})]  # the first message fails twice
    room = make_room(client, admin, name="Orchid")  # room.created: not subscribed to
    made = [book(client, admin, room["id"], at(9 + i), at(10 + i), title=f"M{i}").json() for i in range(3)]

    wait_for(lambda: len(receiver.answered(200)) == 3)
    seen = [r[0] for r in receiver.requests]
    first = seen[0]
    assert seen[:3] == [first, first, first], seen  # the same webhook-id on every try, nothing overtook it
    assert len(set(seen)) == 3 and seen == sorted(seen, key=int)  # one per event, in order
    assert all(verifies(secret, r) for r in receiver.requests)
    bodies = [payload(r) for r in receiver.answered(200)]
    assert [b["type"] for b in bodies] == ["booking.created"] * 3
    assert [b["data"]["id"] for b in bodies] == [m["id"] for m in made]
    assert set(bodies[0]) == {"type", "timestamp", "data"}
    sig = receiver.requests[0][1]["webhook-signature"]
    assert sig.startswith("v1,") and " " not in sig
    assert not verifies("whsec_" + "A" * 32, receiver.requests[0])  # another secret does not pass

    log = settled_log(client, admin, hook)
    assert [(d["state"], d["attempts"], d["status_code"]) for d in log[::-1]] == [
        ("sent", 3, 200),
        ("sent", 1, 200),
        ("sent", 1, 200),
    ]
    assert log[-1]["message_id"] == first and log[-1]["event_id"] == first
    assert rows(client, select(Delivery.id).where(Delivery.state == "sent")) and len(receiver.answered(200)) == 3


def test_rotation_signs_with_both_secrets_and_410_disables(hooked, receiver):
    client, admin = hooked, api_token(hooked, "admin")
    hook = subscribe(client, admin, receiver.url, ["booking.approval_requested", "room.updated"])
    old = hook["secret"]
    r = client.post(f"/api/v1/webhooks/{hook['id']}/rotate", headers=admin)
    assert r.status_code == 200 and r.json()["secret"] != old
    new = r.json()["secret"]
    assert client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin).json()["rotating_until"]
    r = client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=admin)
    assert r.status_code == 202 and r.json()["type"] == "webhook.test"
    wait_for(lambda: receiver.answered(200))
    (test,) = receiver.requests
    assert test[0].startswith("test_") and len(test[1]["webhook-signature"].split(" ")) == 2
    assert verifies(new, test) and verifies(old, test)  # a receiver on either secret passes it

    # a booking in a room an OA approves: the OA is asked (booking.created is not subscribed)
    owner, member = api_token(client, "room_admin"), api_token(client, "member")
    room = make_room(client, owner, name="Board", needs_approval=True, approval="external")
    b = book(client, member, room["id"], at(10), at(11)).json()
    wait_for(lambda: len(receiver.answered(200)) == 2)
    asked = payload(receiver.requests[-1])
    assert asked["type"] == "booking.approval_requested" and asked["data"]["id"] == b["id"]
    assert asked["data"]["status"] == "pending"

    receiver.answers = [(410, {})]
    assert client.patch(f"/api/v1/rooms/{room['id']}", json={"capacity": 9}, headers=owner).status_code == 200
    wait_for(lambda: receiver.answered(410))
    got = wait_for(
        lambda: (h := client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin).json())["enabled"] is False and h
    )
    assert got["disabled_reason"] == "410 Gone"
    client.patch(f"/api/v1/rooms/{room['id']}", json={"capacity": 10}, headers=owner)
    assert not rows(client, select(Delivery).where(Delivery.state == "queued"))  # a disabled one gets none
    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin).json()
    assert log[0]["state"] == "failed" and log[0]["status_code"] == 410 and len(receiver.requests) == 3


def test_retry_after_is_honoured(hooked, receiver):
    client, admin = hooked, api_token(hooked, "admin")
    client.app.state.webhooks.schedule = (3600,) * 9  # without Retry-After the next try is an hour away
    hook = subscribe(client, admin, receiver.url)
    receiver.answers = [(429, {"Retry-After": "1"})]
    room = make_room(client, admin, name="Lotus")
    book(client, admin, room["id"], at(9), at(10))
    wait_for(lambda: receiver.answered(200))
    log = settled_log(client, admin, hook)
    assert [(d["state"], d["attempts"]) for d in log] == [("sent", 2)]


def test_private_addresses_and_bad_input_are_refused(client):
    admin = api_token(client, "admin")
    for url in ("http://127.0.0.1:9/hooks", "http://localhost/x", "http://10.1.2.3/", "http://169.254.169.254/meta",
                "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/"):  # fmt: skip
        r = client.post("/api/v1/webhooks", json={"url": url, "events": ["*"]}, headers=admin)
        assert r.status_code == 400 and r.json()["detail"]["field"] == "url", (url, r.text)
        assert "SIGNAGE_WEBHOOK_ALLOW_PRIVATE" in r.json()["message"]
    for body, field in [
        ({"url": "ftp://example.com/", "events": ["*"]}, "url"),
        ({"url": "http://u:p@example.com/", "events": ["*"]}, "url"),
        ({"url": "http://127.0.0.1/", "events": ["booking.nope"]}, "events"),
    ]:
        r = client.post("/api/v1/webhooks", json=body, headers=admin)
        assert r.status_code == 400 and r.json()["detail"]["field"] == field, r.text
    for body in ({"url": "http://x/"}, {"url": "http://x/", "events": []}, {"url": "x", "events": ["*"], "colour": 1}):
        assert client.post("/api/v1/webhooks", json=body, headers=admin).status_code == 400
    assert client.post("/api/v1/webhooks", content=b"[", headers=admin).status_code == 400
    assert client.get("/api/v1/webhooks/999", headers=admin).status_code == 404
    assert client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1/", "events": ["*"]},
                       headers=api_token(client, "room_admin")).status_code == 403  # fmt: skip


def test_the_admin_page_adds_shows_the_secret_once_and_sends_again(hooked, receiver):
    client = hooked
    login(client, "admin")
    token = csrf(client)
    r = client.post(
        "/admin/webhooks", data={"url": "http://127.0.0.1:1/", "events": "booking.nope", "csrf_token": token}
    )
    assert r.status_code == 400 and "not an event type" in r.text
    r = client.post("/admin/webhooks", data={"url": receiver.url, "events": "booking.*, room.*", "csrf_token": token})
    assert r.status_code == 201 and "whsec_" in r.text
    page = client.get("/admin/webhooks")
    assert receiver.url in page.text and "whsec_" not in page.text
    href = page.text.split('href="/admin/webhooks/')[1].split('"')[0]
    r = client.post(f"/admin/webhooks/{href}/test", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    wait_for(lambda: receiver.answered(200))
    (d,) = wait_for(lambda: rows(client, select(Delivery).where(Delivery.state == "sent")))
    assert client.post(f"/admin/webhooks/deliveries/{d.id}/retry", data={"csrf_token": token}).status_code == 200
    wait_for(lambda: len(receiver.answered(200)) == 2)
    assert receiver.requests[0][0] == receiver.requests[1][0]  # sent again with its webhook-id
    page = client.get(f"/admin/webhooks/{href}")
    assert f'id="delivery-{d.id}"' in page.text and "webhook.test" in page.text and "whsec_" not in page.text
    actions = rows(client, select(AuditEntry.action).where(AuditEntry.action.startswith("webhook.")))
    assert {"webhook.create", "webhook.test", "webhook.send_again"} <= set(actions)
