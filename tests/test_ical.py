"""iCalendar feeds (SPEC B8): parse with `icalendar`, expand with `recurring-ical-events`;
a series with a cancelled and a moved occurrence; rotating the secret URL."""

from __future__ import annotations

import datetime as dt
import re

import icalendar
import recurring_ical_events
from bookings_helpers import TZ, at, book, make_room
from conftest import api_token, csrf, login


def feed_of(client) -> str:
    html = client.get("/m/bookings").text
    return re.search(r'class="m-feed-url" readonly value="([^"]+)"', html).group(1)


def test_user_feed_expands_a_series_with_its_exceptions(client):
    email = login(client, "member")
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Peony")
    start = at(9, 0, days=7)
    series = client.post(
        "/api/v1/bookings",
        json={
            "room_id": room["id"],
            "title": "Weekly sync",
            "start": start.isoformat(),
            "end": (start + dt.timedelta(hours=1)).isoformat(),
            "rrule": "FREQ=WEEKLY;COUNT=5",
            "attendees": [{"name": "Me", "email": email}],
        },
        headers={"X-CSRF-Token": csrf(client)},
    )
    assert series.status_code == 201, series.text
    occ = series.json()["occurrences"]
    token = {"X-CSRF-Token": csrf(client)}
    assert client.delete(f"/api/v1/bookings/{occ[1]['id']}?scope=this", headers=token).status_code == 200
    moved_start = dt.datetime.fromisoformat(occ[2]["start"]).astimezone(TZ) + dt.timedelta(hours=2)
    r = client.patch(
        f"/api/v1/bookings/{occ[2]['id']}",
        json={
            "start": moved_start.isoformat(),
            "end": (moved_start + dt.timedelta(hours=1)).isoformat(),
            "scope": "this",
        },
        headers=token,
    )
    assert r.status_code == 200, r.text
    r = client.patch(
        f"/api/v1/bookings/{occ[3]['id']}", json={"title": "Weekly sync (review)", "scope": "this"}, headers=token
    )
    assert r.status_code == 200, r.text
    single = book(client, token, room["id"], at(15, 0, days=2), at(16, 0, days=2), title="One-off")
    assert single.status_code == 201

    url = feed_of(client)
    body = client.get(url.split("testserver")[1])
    assert body.status_code == 200 and body.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(body.content)
    masters = [e for e in cal.walk("VEVENT") if "RRULE" in e]
    assert len(masters) == 1 and "EXDATE" in masters[0] and "UNTIL" in masters[0]["RRULE"]
    window = recurring_ical_events.of(cal).between(at(0, 0, days=0), at(0, 0, days=60))
    got = sorted((e["DTSTART"].dt.astimezone(dt.UTC), str(e["SUMMARY"])) for e in window)
    want = sorted(
        [(dt.datetime.fromisoformat(occ[i]["start"]), "Weekly sync") for i in (0, 4)]
        + [(dt.datetime.fromisoformat(occ[3]["start"]), "Weekly sync (review)")]
        + [(moved_start.astimezone(dt.UTC), "Weekly sync")]
        + [(at(15, 0, days=2).astimezone(dt.UTC), "One-off")]
    )
    assert got == want
    assert all(e["DTSTART"].dt.tzinfo is not None for e in window)
    assert masters[0]["DTSTART"].params.get("TZID") == "Asia/Shanghai"


def test_rotating_the_feed_retires_the_old_url(client):
    login(client, "member")
    old = feed_of(client).split("testserver")[1]
    assert client.get(old).status_code == 200
    r = client.post("/m/feed/rotate", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303
    new = feed_of(client).split("testserver")[1]
    assert new != old
    assert client.get(old).status_code == 404 and client.get(new).status_code == 200


def test_room_feed_for_room_admins_only(client):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Jasmine")
    book(client, admin, room["id"], at(10), at(11), title="Board")
    r = client.post(f"/api/v1/rooms/{room['id']}/calendar-feed", headers=admin)
    assert r.status_code == 200
    cal = icalendar.Calendar.from_ical(client.get(r.json()["url"].split("testserver")[1]).content)
    assert [str(e["SUMMARY"]) for e in cal.walk("VEVENT")] == ["Board"]
    assert (
        client.post(f"/api/v1/rooms/{room['id']}/calendar-feed", headers=api_token(client, "room_admin")).status_code
        == 403
    )
