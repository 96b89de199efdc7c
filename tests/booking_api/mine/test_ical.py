"""iCalendar feeds (SPEC B8): parse with `icalendar`, expand with `recurring-ical-events`;
a series with a cancelled and a moved occurrence; every VEVENT's properties; ETag and
Last-Modified with 304; rotating the secret URL. That the feed's VEVENTs equal the
invitations' is tested with the mails, in tests/signage/notify/test_notify.py."""

from __future__ import annotations

import datetime as dt
import re
import time
from email.utils import parsedate_to_datetime

import icalendar
import recurring_ical_events
from bookings_helpers import TZ, at, book, make_room
from fixtures import api_token, csrf, login, wait_for


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


def test_a_moved_occurrence_keeps_the_series_uid_and_every_vevent_says_who_and_when(client):
    """Issue 14 point 3: RECURRENCE-ID under the series' UID (not EXDATE plus a UID of its own);
    ORGANIZER, ATTENDEE, SEQUENCE, LAST-MODIFIED and DESCRIPTION on every VEVENT."""
    email = login(client, "member")
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Peony")
    token = {"X-CSRF-Token": csrf(client)}
    body = {
        "room_id": room["id"],
        "title": "Weekly sync",
        "start": at(9, 0, days=7).isoformat(),
        "end": at(10, 0, days=7).isoformat(),
        "rrule": "FREQ=DAILY;COUNT=3",
        "notes": "Agenda in the wiki",
        "attendees": [{"name": "Me", "email": email}, {"name": "Guest", "email": "g@example.com", "role": "optional"}],
    }
    r = client.post("/api/v1/bookings", json=body, headers=token)
    assert r.status_code == 201, r.text
    series_id, occ = r.json()["series_id"], r.json()["occurrences"]
    moved = {"start": at(15, 0, days=8).isoformat(), "end": at(16, 0, days=8).isoformat(), "scope": "this"}
    assert client.patch(f"/api/v1/bookings/{occ[1]['id']}", json=moved, headers=token).status_code == 200
    url = feed_of(client).split("testserver")[1]

    def moved_is_an_override():
        cal = icalendar.Calendar.from_ical(client.get(url).content)
        # its SEQUENCE comes from the notify consumer's calendar state, a moment after the move
        return [e for e in cal.walk("VEVENT") if "RECURRENCE-ID" in e and int(e.get("SEQUENCE", 0)) == 1]

    wait_for(moved_is_an_override)  # the calendar state follows the event log
    cal = icalendar.Calendar.from_ical(client.get(url).content)
    master, override = cal.walk("VEVENT")
    uid = f"series-{series_id}@testserver"
    assert str(master["UID"]) == str(override["UID"]) == uid
    assert override["RECURRENCE-ID"].dt == at(9, 0, days=8) and override["DTSTART"].dt == at(15, 0, days=8)
    assert "EXDATE" not in master  # the slot is the override's, not gone
    assert int(master["SEQUENCE"]) == 0 and int(override["SEQUENCE"]) == 1  # as its invitation would say
    for e in (master, override):
        assert str(e["DESCRIPTION"]) == "Agenda in the wiki"
        assert str(e["ORGANIZER"]) == f"mailto:{email}"  # no site address: the organizer's own
        assert isinstance(e["LAST-MODIFIED"].dt, dt.datetime)
        found = {str(a): a.params for a in e["ATTENDEE"]}
        assert found[f"mailto:{email}"]["PARTSTAT"] == "NEEDS-ACTION"
        assert found["mailto:g@example.com"]["ROLE"] == "OPT-PARTICIPANT"
    window = recurring_ical_events.of(cal).between(at(0, 0, days=6), at(0, 0, days=12))
    assert sorted(e["DTSTART"].dt for e in window) == [at(9, 0, days=7), at(15, 0, days=8), at(9, 0, days=9)]


def test_a_feed_answers_304_until_something_changes(client):
    login(client, "member")
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Lotus")
    token = {"X-CSRF-Token": csrf(client)}
    b = book(client, token, room["id"], at(10), at(11), title="Review").json()
    url = feed_of(client).split("testserver")[1]
    first = client.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('"') and first.headers["cache-control"] == "private, no-cache"
    assert parsedate_to_datetime(modified) <= dt.datetime.now(dt.UTC)
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get(url, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": "not a date"}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3)
    assert client.get(url, headers={"If-None-Match": '"other"', "If-Modified-Since": modified}).status_code == 200

    time.sleep(1.1)  # HTTP dates are whole seconds
    assert (
        client.patch(f"/api/v1/bookings/{b['id']}", json={"title": "Review (moved)"}, headers=token).status_code == 200
    )
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and b"Review (moved)" in changed.content
    assert changed.headers["etag"] != etag
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 200
    assert client.get(url, headers={"If-None-Match": changed.headers["etag"]}).status_code == 304
