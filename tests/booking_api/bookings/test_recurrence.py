"""Recurring meetings: RRULE occurrences, each protected; conflicts shown first; this / following / series edits."""

import datetime as dt

import pytest
from bookings_helpers import TZ, at, book, iso, make_room
from fixtures import api_token, rows
from sqlalchemy import select

from booking_api.bookings import recurrence
from booking_api.models import Booking
from signage import i18n
from signage.errors import Invalid


@pytest.fixture
def english():
    """Messages in English outside a request."""
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


def local(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(TZ)


def test_rules_give_local_wall_times():
    start = dt.datetime(2027, 3, 1, 9, tzinfo=TZ)  # a Monday
    weekly = recurrence.occurrences(
        "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4", start, start + dt.timedelta(hours=1), "Asia/Shanghai"
    )
    assert [s.astimezone(TZ).strftime("%a %d %H:%M") for s, _e in weekly] == [
        "Mon 01 09:00",
        "Wed 03 09:00",
        "Mon 08 09:00",
        "Wed 10 09:00",
    ]
    monthly = recurrence.occurrences(
        "RRULE:FREQ=MONTHLY;UNTIL=20270601", start, start + dt.timedelta(hours=1), "Asia/Shanghai"
    )
    assert len(monthly) == 4 and all(e - s == dt.timedelta(hours=1) for s, e in monthly)
    ny = dt.datetime(2027, 3, 12, 9, tzinfo=dt.UTC).astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    around_dst = recurrence.occurrences("FREQ=DAILY;COUNT=3", ny, ny + dt.timedelta(hours=1), "America/New_York")
    assert {s.astimezone(ny.tzinfo).hour for s, _e in around_dst} == {ny.hour}  # same wall time across the DST change


@pytest.mark.parametrize(
    "rule, message",
    [
        ("FREQ=YEARLY;COUNT=2", "daily, weekly or monthly"),
        ("FREQ=DAILY", "Say when the meetings stop"),
        ("FREQ=DAILY;COUNT=100000", "at most 500 times"),
        ("FREQ=DAILY;UNTIL=20990101", "at most 500 times"),
        ("FREQ=WEEKLY;BYDAY=XX;COUNT=3", "not valid"),
        ("nonsense", "not valid"),
        ("FREQ=DAILY;COUNT=abc", "COUNT is how many meetings"),
        ("FREQ=DAILY;COUNT=0", "COUNT is how many meetings"),
        ("FREQ=DAILY;COUNT=-1", "COUNT is how many meetings"),
        ("FREQ=DAILY;COUNT=501", "at most 500 times"),
    ],
)
def test_bad_rules_are_refused(english, rule, message):
    start = dt.datetime(2027, 3, 1, 9, tzinfo=TZ)
    with pytest.raises(Invalid) as exc:
        recurrence.occurrences(rule, start, start + dt.timedelta(hours=1), "Asia/Shanghai")
    assert message in exc.value.message


def test_series_conflicts_are_shown_then_only_free_ones_booked(client):
    admin, member = api_token(client, "room_admin"), api_token(client, "member")
    room = make_room(client, admin, name="Weekly", capacity=6)
    taken = book(client, member, room["id"], at(10, days=8), at(11, days=8)).json()  # the 2nd occurrence's slot
    body = {
        "room_id": room["id"],
        "title": "Standup",
        "start": iso(at(10, 30)),
        "end": iso(at(11)),
        "rrule": "FREQ=DAILY;COUNT=10",
    }
    check = client.post("/api/v1/bookings/check", json={**body, "rrule": "FREQ=WEEKLY;COUNT=3"}, headers=member).json()
    assert [o["free"] for o in check["occurrences"]] == [True, False, True] and check["conflicting"] == 1
    assert len(rows(client, select(Booking))) == 1  # checking writes nothing
    r = client.post("/api/v1/bookings", json={**body, "rrule": "FREQ=WEEKLY;COUNT=3"}, headers=member)
    assert r.status_code == 409 and len(r.json()["detail"]["conflicts"]) == 1
    assert len(rows(client, select(Booking))) == 1  # all or nothing
    r = client.post(
        "/api/v1/bookings", json={**body, "rrule": "FREQ=WEEKLY;COUNT=3", "on_conflict": "skip"}, headers=member
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert len(made["occurrences"]) == 2 and len(made["skipped"]) == 1
    assert local(made["skipped"][0]["start"]) == at(10, 30, days=8)
    assert taken["id"] not in [o["id"] for o in made["occurrences"]]


def test_edit_one_then_the_series_keeps_the_single_change(client):
    """MRBS #659 loses single-occurrence changes when the series is edited; we keep them."""
    admin, member = api_token(client, "room_admin"), api_token(client, "member")
    room = make_room(client, admin, name="Series", capacity=6)
    body = {
        "room_id": room["id"],
        "title": "Weekly review",
        "start": iso(at(9)),
        "end": iso(at(10)),
        "rrule": "FREQ=DAILY;COUNT=5",
    }
    made = client.post("/api/v1/bookings", json=body, headers=member).json()
    ids = [o["id"] for o in made["occurrences"]]
    # move the 3rd occurrence alone, and rename it
    r = client.patch(
        f"/api/v1/bookings/{ids[2]}",
        json={"start": iso(at(15, days=3)), "end": iso(at(16, days=3)), "title": "Moved review"},
        headers=member,
    )
    assert r.status_code == 200 and r.json()["detached"] is True
    # now rename the whole series and move it an hour later
    r = client.patch(
        f"/api/v1/bookings/{ids[0]}",
        json={"title": "Review", "start": iso(at(10)), "end": iso(at(11)), "scope": "series"},
        headers=member,
    )
    assert r.status_code == 200, r.text
    assert sorted(r.json()["changed"]) == sorted(ids[:2] + ids[3:])
    got = {b["id"]: b for b in client.get("/api/v1/bookings", headers=member).json()}
    assert got[ids[2]]["title"] == "Moved review" and local(got[ids[2]]["start"]).hour == 15
    assert all(got[i]["title"] == "Review" and local(got[i]["start"]).hour == 10 for i in ids if i != ids[2])
    # this and following: from the 4th on, a new title; the split leaves the first ones alone
    r = client.patch(f"/api/v1/bookings/{ids[3]}", json={"title": "Later review", "scope": "following"}, headers=member)
    assert sorted(r.json()["changed"]) == ids[3:]
    got = {b["id"]: b for b in client.get("/api/v1/bookings", headers=member).json()}
    assert [got[i]["title"] for i in ids] == ["Review", "Review", "Moved review", "Later review", "Later review"]
    assert got[ids[3]]["series_id"] != got[ids[0]]["series_id"]
    # cancel this and following of the first series (the one moved alone goes too; the rest split off),
    # then the whole second series
    r = client.delete(f"/api/v1/bookings/{ids[1]}", params={"scope": "following"}, headers=member)
    assert sorted(r.json()["cancelled"]) == ids[1:3]
    r = client.delete(f"/api/v1/bookings/{ids[4]}", params={"scope": "series"}, headers=member)
    assert sorted(r.json()["cancelled"]) == ids[3:]
    status = {b.id: b.status for b in rows(client, select(Booking))}
    assert [status[i] for i in ids] == ["confirmed", "cancelled", "cancelled", "cancelled", "cancelled"]


def test_this_and_following_takes_the_occurrences_changed_alone_with_their_changes(client):
    admin, member = api_token(client, "room_admin"), api_token(client, "member")
    room = make_room(client, admin, name="Split", capacity=6)
    body = {"room_id": room["id"], "title": "Daily", "start": iso(at(9)), "end": iso(at(10))}
    body["rrule"] = "FREQ=DAILY;COUNT=5"
    ids = [o["id"] for o in client.post("/api/v1/bookings", json=body, headers=member).json()["occurrences"]]
    # the 4th is moved alone to the afternoon, the 2nd renamed alone
    moved = {"start": iso(at(15, days=4)), "end": iso(at(16, days=4)), "title": "Moved"}
    assert client.patch(f"/api/v1/bookings/{ids[3]}", json=moved, headers=member).status_code == 200
    assert client.patch(f"/api/v1/bookings/{ids[1]}", json={"title": "Own"}, headers=member).status_code == 200
    # this and following from the 3rd: the 3rd and 5th change, the 4th keeps its changes but joins them
    r = client.patch(f"/api/v1/bookings/{ids[2]}", json={"title": "Later", "scope": "following"}, headers=member)
    assert sorted(r.json()["changed"]) == [ids[2], ids[4]]
    got = {b["id"]: b for b in client.get("/api/v1/bookings", params={"room_id": room["id"]}, headers=member).json()}
    assert [got[i]["title"] for i in ids] == ["Daily", "Own", "Later", "Moved", "Later"]
    assert local(got[ids[3]]["start"]).hour == 15
    assert len({got[i]["series_id"] for i in ids[:2]}) == 1 and len({got[i]["series_id"] for i in ids[2:]}) == 1
    assert got[ids[0]]["series_id"] != got[ids[2]]["series_id"]
    # so cancelling this and following from the 3rd cancels the moved 4th too; the first two stay
    r = client.delete(f"/api/v1/bookings/{ids[2]}", params={"scope": "following"}, headers=member)
    assert sorted(r.json()["cancelled"]) == ids[2:]
    status = {b.id: b.status for b in rows(client, select(Booking))}
    assert [status[i] for i in ids] == ["confirmed", "confirmed", "cancelled", "cancelled", "cancelled"]
    # and cancelling the first series takes its renamed occurrence too
    r = client.delete(f"/api/v1/bookings/{ids[0]}", params={"scope": "series"}, headers=member)
    assert sorted(r.json()["cancelled"]) == ids[:2]


def test_moving_a_series_into_a_taken_slot_changes_nothing(client):
    admin, member = api_token(client, "room_admin"), api_token(client, "member")
    room = make_room(client, admin, name="Blocked", capacity=6)
    body = {
        "room_id": room["id"],
        "title": "Daily",
        "start": iso(at(9)),
        "end": iso(at(10)),
        "rrule": "FREQ=DAILY;COUNT=3",
    }
    made = client.post("/api/v1/bookings", json=body, headers=member).json()
    book(client, member, room["id"], at(14, days=2), at(15, days=2))
    r = client.patch(
        f"/api/v1/bookings/{made['id']}",
        json={"start": iso(at(14)), "end": iso(at(15)), "scope": "series"},
        headers=member,
    )
    assert r.status_code == 409 and len(r.json()["detail"]["conflicts"]) == 1
    assert {local(b.start_at.isoformat()).hour for b in rows(client, select(Booking)) if b.series_id} == {9}
