"""`GET /api/v1/bookings` for an OA system (issue 13, points 7 and 10): filters by series
and by an attendee's user id; the default page of 500 and the `Link` to the rest."""

from __future__ import annotations

import datetime as dt

from bookings_helpers import at, book, make_room
from fixtures import api_token, in_app

from booking_api.models import Booking


def ids_of(client, headers, **params) -> list[int]:
    r = client.get("/api/v1/bookings", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return [b["id"] for b in r.json()]


def test_the_list_filters_by_series_and_by_an_attendee_s_user_id(client):
    admin = api_token(client, "admin")
    member, other = api_token(client, "member"), api_token(client, "member")
    me = client.get("/api/v1/me", headers=member).json()["id"]
    them = client.get("/api/v1/me", headers=other).json()["id"]
    room = make_room(client, admin, name="Orchid")["id"]
    series = book(client, admin, room, at(8), at(9), rrule="FREQ=DAILY;COUNT=3").json()
    occurrences = [o["id"] for o in series["occurrences"]]
    again = book(client, admin, room, at(8, days=5), at(9, days=5), rrule="FREQ=DAILY;COUNT=2").json()
    invited = book(client, admin, room, at(10), at(11), attendees=[{"name": "M", "user_id": me}]).json()["id"]
    both = [{"name": "M", "user_id": me}, {"name": "O", "user_id": them}]
    shared = book(client, admin, room, at(12), at(13), attendees=both).json()["id"]
    book(client, admin, room, at(14), at(15), attendees=[{"name": "Guest", "email": f"{me}@example.com"}])

    series_id = client.get(f"/api/v1/bookings/{occurrences[0]}", headers=admin).json()["series_id"]
    assert ids_of(client, admin, series_id=series_id) == occurrences
    assert ids_of(client, admin, series_id=series_id + 1) == [o["id"] for o in again["occurrences"]]
    assert ids_of(client, admin, series_id=999999) == []
    assert ids_of(client, admin, attendee=str(me)) == [invited, shared]  # the id, not an email with it
    assert ids_of(client, admin, attendee=str(them)) == [shared]
    assert ids_of(client, admin, attendee=str(them), series_id=series_id) == []
    r = client.get("/api/v1/bookings", params={"series_id": "x"}, headers=admin)
    assert r.status_code == 400 and r.json()["detail"]["field"] == "series_id"


def test_the_default_page_is_500_and_links_to_the_rest(client):
    """Nothing is cut off: 520 bookings give a page of 500 and a `Link` to the last 20."""
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")["id"]
    first = at(0, days=2).astimezone(dt.UTC)

    async def insert():
        async with client.app.state.db.begin() as s:
            for n in range(520):
                start = first + dt.timedelta(minutes=30 * n)
                end = start + dt.timedelta(minutes=30)
                s.add(Booking(room_id=room, title=f"B{n}", start_at=start, end_at=end, blocked_until=end))

    in_app(client, insert)
    r = client.get("/api/v1/bookings", headers=admin)
    assert r.status_code == 200, r.text
    page = [b["title"] for b in r.json()]
    assert page == [f"B{n}" for n in range(500)]
    link = r.headers["link"]
    assert link.endswith('rel="next"') and "cursor=" in link
    rest = client.get(link[1 : link.index(">")], headers=admin)
    assert rest.status_code == 200, rest.text
    assert [b["title"] for b in rest.json()] == [f"B{n}" for n in range(500, 520)]
    assert "link" not in rest.headers
