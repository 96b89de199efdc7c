"""The ghost-meeting ledger (issue 17 point 2): recurring meetings whose occurrences are
released as no-shows, by series and by organizer, with the hours lost; a room admin tells
the organizer (a notice on their bell) or ends the series (what is still to come is
cancelled); who sees which rooms; bad input is a 400."""

from __future__ import annotations

from bookings_helpers import at, make_room
from fixtures import add_user, api_token, csrf, login, rows, run_sync
from sqlalchemy import select, update

from booking_api.models import Booking
from signage.db import Database
from signage.models import AuditEntry, User
from signage.notify.models import Notice
from signage.users.store import create_token


def released(settings, ids: list[int]) -> None:
    """As the room timer does when nobody checks in: the meetings are no-shows."""

    async def run():
        db = Database(settings.db_url)
        try:
            async with db.begin() as s:
                await s.execute(update(Booking).where(Booking.id.in_(ids)).values(status="no_show"))
        finally:
            await db.close()

    run_sync(run())


def test_a_series_that_goes_unused_is_in_the_ledger_and_can_be_told_and_ended(client):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    other = make_room(client, admin, name="Lotus")
    settings = client.app.state.settings
    organizer = add_user(client, "member", "ghost@example.com")
    as_organizer = {"Authorization": f"Bearer {run_sync(create_token(settings, organizer))}"}
    body = {"room_id": room["id"], "title": "Daily stand-up", "start": at(9).isoformat(), "end": at(10).isoformat(),
            "rrule": "FREQ=DAILY;COUNT=6"}  # fmt: skip
    r = client.post("/api/v1/bookings", json=body, headers=as_organizer)
    assert r.status_code == 201, r.text
    series_id = r.json()["series_id"]
    meetings = [b for b in client.get("/api/v1/bookings", params={"series_id": series_id}, headers=admin).json()]
    assert len(meetings) == 6
    released(settings, [b["id"] for b in meetings[:3]])
    once = client.post("/api/v1/bookings", json={**body, "room_id": other["id"], "rrule": "FREQ=DAILY;COUNT=2"},
                       headers=as_organizer).json()  # fmt: skip
    released(settings, [once["id"]])  # a single strike: under the default of two

    params = {"from": at(0).date().isoformat(), "to": at(0, days=10).date().isoformat()}
    ledger = client.get("/api/v1/stats/ghosts", params=params, headers=admin).json()
    assert [(g["series_id"], g["title"], g["strikes"], g["hours_lost"], g["upcoming"], g["room"]) for g in ledger["series"]] == [
        (series_id, "Daily stand-up", 3, 3.0, 3, "Orchid")]  # fmt: skip
    assert [(o["organizer"], o["strikes"], o["hours_lost"], o["series"]) for o in ledger["organizers"]] == [
        ("ghost", 4, 4.0, 2)]  # fmt: skip
    one = client.get("/api/v1/stats/ghosts", params={**params, "min_strikes": 1}, headers=admin).json()
    assert sorted(g["strikes"] for g in one["series"]) == [1, 3]

    # a room admin sees only their rooms; a member not at all
    owner = add_user(client, "room_admin", "owner@example.com")
    owner_id = rows(client, select(User).where(User.email == owner))[0].id
    as_owner = {"Authorization": f"Bearer {run_sync(create_token(settings, owner))}"}
    assert client.get("/api/v1/stats/ghosts", params=params, headers=as_owner).json()["series"] == []
    assert client.post(f"/api/v1/stats/ghosts/{series_id}/notify", headers=as_owner).status_code == 404
    client.patch(f"/api/v1/rooms/{room['id']}", json={"owner_ids": [owner_id]}, headers=admin)
    assert [g["series_id"] for g in client.get("/api/v1/stats/ghosts", params=params, headers=as_owner).json()["series"]] == [series_id]
    assert client.get("/api/v1/stats/ghosts", params=params, headers=as_organizer).status_code == 403

    # tell the organizer: a notice on their bell, audited
    r = client.post(f"/api/v1/stats/ghosts/{series_id}/notify", headers=as_owner)
    assert r.status_code == 200, r.text
    ghost_id = rows(client, select(User).where(User.email == organizer))[0].id
    notices = rows(client, select(Notice).where(Notice.user_id == ghost_id, Notice.kind == "ghost"))
    assert len(notices) == 1 and "Daily stand-up" in notices[0].title
    assert rows(client, select(AuditEntry).where(AuditEntry.action == "series.ghost_notify"))[0].target == f"series:{series_id}"

    # end it: the three still to come are cancelled, the strikes stay
    r = client.post(f"/api/v1/stats/ghosts/{series_id}/end", headers=as_owner)
    assert r.status_code == 200, r.text
    assert sorted(r.json()["cancelled"]) == sorted(b["id"] for b in meetings[3:])
    statuses = [b["status"] for b in client.get("/api/v1/bookings", params={"series_id": series_id}, headers=admin).json()]
    assert statuses == ["no_show"] * 3 + ["cancelled"] * 3
    after = client.get("/api/v1/stats/ghosts", params=params, headers=admin).json()["series"][0]
    assert (after["strikes"], after["upcoming"]) == (3, 0)
    assert client.post(f"/api/v1/stats/ghosts/{series_id}/end", headers=as_owner).status_code == 400  # nothing left

    for bad in ({"min_strikes": "0"}, {"min_strikes": "x"}, {"from": "soon"}, {"colour": "red"}):
        assert client.get("/api/v1/stats/ghosts", params=bad, headers=admin).status_code == 400, bad
    assert client.post("/api/v1/stats/ghosts/999999/end", headers=admin).status_code == 404


def test_the_statistics_page_shows_the_ledger_with_its_actions(client):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    body = {"room_id": room["id"], "title": "Weekly review", "start": at(9).isoformat(), "end": at(9, 30).isoformat(),
            "rrule": "FREQ=DAILY;COUNT=4"}  # fmt: skip
    series_id = client.post("/api/v1/bookings", json=body, headers=admin).json()["series_id"]
    ids = [b["id"] for b in client.get("/api/v1/bookings", params={"series_id": series_id}, headers=admin).json()]
    released(client.app.state.settings, ids[:2])
    login(client, "admin")
    query = {"from": at(0).date().isoformat(), "to": at(0, days=6).date().isoformat()}
    page = client.get("/stats", params=query).text
    assert f'data-series-id="{series_id}"' in page and "Weekly review" in page
    assert f'action="/stats/ghosts/{series_id}/end"' in page
    r = client.post(f"/stats/ghosts/{series_id}/end", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/stats?ghost=ended#ghosts"
    assert "The series is ended" in client.get("/stats?ghost=ended").text
    r = client.post(f"/stats/ghosts/{series_id}/end", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert "ghost=error" in r.headers["location"]  # nothing left to end: said on the page
    assert client.post(f"/stats/ghosts/{series_id}/vanish", data={"csrf_token": csrf(client)}).status_code == 404

