"""Issue 14 point 7: the in-product channel: each user's notices, the bell's unread count, the
notifications page (desktop and /m), with email off as well as on."""

from __future__ import annotations

import asyncio
import re

from bookings_helpers import at, book, make_room
from fixtures import api_token, csrf, in_app, login, rows, wait_for
from sqlalchemy import select

from signage.notify.models import Notice


def bell(client) -> str:
    return client.get("/notifications/bell", headers={"HX-Request": "true"}).text


def test_a_user_invited_sees_it_in_the_bell_and_the_list_with_email_off(client):
    email = login(client, "member")
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    assert "bell-count" not in bell(client)
    b = book(client, admin, room["id"], at(9), at(10), title="Budget", attendees=[{"name": "Me", "email": email}])
    assert b.status_code == 201, b.text
    wait_for(lambda: "bell-count" in bell(client))
    assert re.search(r'class="bell-count"[^>]*>1<', bell(client))
    (notice,) = rows(client, select(Notice))
    assert (notice.kind, notice.about, notice.link) == (
        "invitation",
        f"booking:{b.json()['id']}",
        f"/bookings/{b.json()['id']}",
    )
    assert notice.title.startswith("Invitation: Budget (")
    page = client.get("/notifications")
    assert page.status_code == 200 and 'class="unread"' in page.text and "Invitation: Budget" in page.text
    assert 'class="bell"' in page.text and 'data-live="inbox"' in page.text
    phone = client.get("/m/notifications")
    assert phone.status_code == 200 and "m-unread" in phone.text and "Invitation: Budget" in phone.text

    r = client.get(f"/notifications/{notice.id}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/bookings/{b.json()['id']}"
    assert "bell-count" not in bell(client)
    assert 'class="read"' in client.get("/notifications").text

    # changed and cancelled: two more; "mark all as read"
    assert (
        client.patch(f"/api/v1/bookings/{b.json()['id']}", json={"title": "Budget 2"}, headers=admin).status_code == 200
    )
    assert client.delete(f"/api/v1/bookings/{b.json()['id']}", headers=admin).status_code in (200, 204)
    wait_for(lambda: len(rows(client, select(Notice))) == 3)
    assert [n.kind for n in rows(client, select(Notice).order_by(Notice.id))] == [
        "invitation",
        "update",
        "cancellation",
    ]
    wait_for(lambda: re.search(r'class="bell-count"[^>]*>2<', bell(client)))
    r = client.post("/notifications/read", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303 and "bell-count" not in bell(client)


def test_notices_are_the_users_own(client):
    email = login(client, "member")
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    book(client, admin, room["id"], at(9), at(10), attendees=[{"name": "Me", "email": email}])
    wait_for(lambda: rows(client, select(Notice)))
    (notice,) = rows(client, select(Notice))
    login(client, "member")  # someone else
    assert client.get(f"/notifications/{notice.id}").status_code == 404
    assert "bell-count" not in bell(client) and "Invitation" not in client.get("/notifications").text
    assert client.get("/notifications/999999").status_code == 404


def test_the_organizer_is_told_of_a_rejection_in_the_bell(client):
    email = login(client, "member")
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Board", needs_approval=True)
    body = {"room_id": room["id"], "title": "Offsite", "start": at(9).isoformat(), "end": at(10).isoformat()}
    pending = client.post("/api/v1/bookings", json=body, headers={"X-CSRF-Token": csrf(client)}).json()
    assert (
        client.post(f"/api/v1/bookings/{pending['id']}/reject", json={"reason": "No"}, headers=admin).status_code == 200
    )
    wait_for(lambda: rows(client, select(Notice)))
    (notice,) = rows(client, select(Notice))
    assert notice.kind == "rejection" and notice.title.startswith("Booking rejected: Offsite")
    assert email  # the member's own list
    assert "Booking rejected: Offsite" in client.get("/notifications").text


def test_the_inbox_topic_is_each_users_own_channel(client):
    """`/events/inbox` follows `inbox:{the user's id}`: another user's notice does not ring it."""
    from signage import topics
    from signage.live import PERSONAL, TOPICS

    assert "inbox" in PERSONAL and TOPICS["inbox"][1] is False  # no payload reaches the page
    assert topics.inbox_changed([3, 3, 1]) == [("inbox:1", {"type": "inbox"}), ("inbox:3", {"type": "inbox"})]
    login(client, "member")
    heard = []

    async def listen():
        bus = client.app.state.bus
        async with bus.subscribe("inbox:999999") as sub:
            await bus.notify_many(topics.inbox_changed([999998]))
            await bus.notify_many(topics.inbox_changed([999999]))
            heard.append(await asyncio.wait_for(sub.__anext__(), 5))

    in_app(client, listen)
    assert heard == [("inbox:999999", {"type": "inbox"})]
