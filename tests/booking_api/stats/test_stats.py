"""Statistics (issue 17): two weeks of meetings lived through with the test clock (check-ins,
no-shows, End now, extensions, cancellations, the freed time booked again, service calls),
then the report's figures against a direct calculation here; CSV and the workbook hold
the same numbers; who may see what; bad input is a 400."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

import pytest
from bookings_helpers import TZ, at, book, make_room
from doors_helpers import go_to, wait_for
from fixtures import api_token, login, request_statements

MIN = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAYS = 14  # each of PATTERN's kinds twice
PATTERN = ("used", "no_show", "end_early", "extended", "cancelled", "used", "no_show")


@pytest.fixture
def client(make_client):
    return make_client(test_clock=True)


@dataclasses.dataclass
class Meeting:
    """What happened to a meeting, as the test made it happen."""

    start: dt.datetime
    end: dt.datetime  # as booked (extensions in)
    ended: dt.datetime | None = None  # End now
    checked_in: bool = False
    no_show: bool = False
    cancelled_at: dt.datetime | None = None
    headcount: int = 1
    rebooked: bool = False

    @property
    def counted(self) -> bool:
        return self.cancelled_at is None

    @property
    def released_at(self) -> dt.datetime | None:
        if self.no_show:
            return self.start + 15 * MIN  # the default grace
        return self.ended


def hours(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 3600


def post(client, url, headers, body=None, status=200):
    r = client.post(url, json=body, headers=headers)
    assert r.status_code == status, r.text
    return r.json()


def live_a_month(client, admin, room_id) -> tuple[list[Meeting], list[float]]:
    """Book a meeting a day at 10:00 for DAYS days, then walk the clock through them.
    Returns the meetings and the minutes each service call waited for the desk."""
    service = api_token(client, "service")
    made = []
    for day in range(1, DAYS + 1):
        people = [{"name": f"P{i}", "email": f"p{i}@example.com"} for i in range(day % 4)]
        r = book(client, admin, room_id, at(10, 0, day), at(11, 0, day), title=f"Day {day}", attendees=people)
        assert r.status_code == 201, r.text
        made.append((r.json()["id"], Meeting(at(10, 0, day), at(11, 0, day), headcount=max(1, day % 4))))
    meetings, waits = [], []
    for day, (booking_id, m) in enumerate(made, start=1):
        kind = PATTERN[day % len(PATTERN)]
        meetings.append(m)
        if kind == "cancelled":
            go_to(client, m.start - 2 * HOUR)
            assert client.delete(f"/api/v1/bookings/{booking_id}", headers=admin).status_code in (200, 204)
            m.cancelled_at = m.start - 2 * HOUR
            continue
        if kind == "no_show":
            go_to(client, m.start + 16 * MIN)
            wait_for(lambda b=booking_id: client.get(f"/api/v1/bookings/{b}", headers=admin).json()["status"] == "no_show")
            m.no_show = True
            if day % 2:  # someone takes the freed time
                extra = again(client, admin, room_id, m.start + 20 * MIN, m.end)
                meetings.append(extra)
                m.rebooked = True
            continue
        go_to(client, m.start + MIN)
        post(client, f"/api/v1/bookings/{booking_id}/check-in", admin)
        m.checked_in = True
        if kind == "used":
            call = post(client, f"/api/v1/rooms/{room_id}/service-calls", admin, {"kind": "tea"}, 201)
            go_to(client, m.start + 4 * MIN)
            post(client, f"/api/v1/service-calls/{call['id']}/accept", service)
            waits.append(3.0)
        elif kind == "end_early":
            go_to(client, m.start + 30 * MIN)
            post(client, f"/api/v1/bookings/{booking_id}/end", admin)
            m.ended = m.start + 30 * MIN
            if day % 2:
                extra = again(client, admin, room_id, m.start + 35 * MIN, m.end)
                meetings.append(extra)
                m.rebooked = True
        elif kind == "extended":
            go_to(client, m.start + 50 * MIN)
            post(client, f"/api/v1/bookings/{booking_id}/extend", admin, {"minutes": 15})
            m.end += 15 * MIN
    go_to(client, at(12, 0, DAYS))
    return meetings, waits


def again(client, admin, room_id, start, end) -> Meeting:
    """The freed time booked again at once, and checked in a minute after it starts."""
    r = book(client, admin, room_id, start, end, title="Walk-in")
    assert r.status_code == 201, r.text
    go_to(client, start + MIN)
    post(client, f"/api/v1/bookings/{r.json()['id']}/check-in", admin)
    return Meeting(start, end, checked_in=True)


def expected(meetings: list[Meeting], bookable: float, waits: list[float]) -> dict:
    counted = [m for m in meetings if m.counted]
    started = len(counted)  # every meeting of the month has started by the end
    released = [m for m in counted if m.released_at is not None]
    cancelled = [m for m in meetings if not m.counted]
    booked = sum(hours(m.end - m.start) for m in counted)
    used = sum(hours((m.ended or m.end) - m.start) for m in counted if m.checked_in)
    return {
        "bookable_hours": bookable,
        "booked_hours": round(booked, 2),
        "used_hours": round(used, 2),
        "utilization": round(booked / bookable, 4),
        "occupancy": round(used / bookable, 4),
        "meetings": len(counted),
        "no_shows": sum(m.no_show for m in counted),
        "no_show_hours": round(sum(hours(m.end - m.start) for m in counted if m.no_show), 2),
        "released": len(released),
        "recovered_hours": round(sum(hours(m.end - m.released_at) for m in released), 2),
        "rebooked": sum(m.rebooked for m in released),
        "started": started,
        "checked_in": sum(m.checked_in for m in counted),
        "check_in_rate": round(sum(m.checked_in for m in counted) / started, 4),
        "avg_headcount": round(sum(m.headcount for m in counted) / len(counted), 2),
        "cancelled": len(cancelled),
        "avg_cancel_lead_hours": round(sum(hours(m.start - m.cancelled_at) for m in cancelled) / len(cancelled), 2),
        "service_calls": len(waits),
        "avg_response_minutes": round(sum(waits) / len(waits), 2),
    }


def report(client, headers, group="room", **params):
    first, last = at(0, 0, 1).date(), at(0, 0, DAYS).date()
    query = {"from": first.isoformat(), "to": last.isoformat(), "group": group, **params}
    return client.get("/api/v1/stats/rooms", params=query, headers=headers)


def test_a_month_of_meetings_adds_up(client, backend):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid", capacity=8, opens_at="08:00", closes_at="20:00")
    make_room(client, admin, name="Lotus", capacity=4, building="B", floor="2")  # nothing booked
    meetings, waits = live_a_month(client, admin, room["id"])
    want = expected(meetings, 12.0 * DAYS, waits)

    r = report(client, admin)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["columns"][:4] == ["key", "label", "weekday", "hour"]
    rows = {row["label"]: row for row in data["rows"]}
    assert set(rows) == {"Orchid", "Lotus"}
    for name, value in want.items():  # End now and accepting a call take the clock's time, a moment after it was set
        assert rows["Orchid"][name] == pytest.approx(value, abs=0.05 if "minutes" in name else 0.011), name
    assert rows["Orchid"]["avg_capacity"] == 8
    assert rows["Lotus"]["booked_hours"] == 0 and rows["Lotus"]["bookable_hours"] == 24.0 * DAYS
    assert data["total"]["booked_hours"] == pytest.approx(want["booked_hours"], abs=0.011)
    assert data["total"]["bookable_hours"] == 12.0 * DAYS + 24.0 * DAYS

    # per day: each meeting on its day; per weekday × hour: the hours split over the cells
    days = {row["key"]: row for row in report(client, admin, "day").json()["rows"]}
    assert len(days) == DAYS
    for m in meetings:
        if m.counted and m.start.hour == 10 and m.start.minute == 0:
            same_day = [x for x in meetings if x.counted and x.start.date() == m.start.date()]
            assert days[m.start.date().isoformat()]["booked_hours"] == round(
                sum(hours(x.end - x.start) for x in same_day), 2
            )
    cells = report(client, admin, "hour").json()
    assert len(cells["rows"]) == 7 * 24
    assert sum(row["booked_hours"] for row in cells["rows"]) == pytest.approx(want["booked_hours"], abs=0.05)
    eleven = [row for row in cells["rows"] if row["hour"] == 11]
    extended_bits = sum(hours(m.end - m.start - HOUR) for m in meetings if m.counted and m.start.minute == 0)
    assert sum(row["booked_hours"] for row in eleven) == pytest.approx(extended_bits, abs=0.05)
    assert cells["total"]["meetings"] == want["meetings"]
    mondays = sum(1 for d in range(1, DAYS + 1) if at(0, 0, d).weekday() == 0)
    row = next(r for r in cells["rows"] if (r["weekday"], r["hour"]) == (1, 9))
    assert row["bookable_hours"] == mondays * 2.0  # Orchid 09-10 and Lotus 09-10, each Monday

    department = report(client, admin, "department").json()
    assert department["message"] and len(department["rows"]) == 1
    assert department["rows"][0]["booked_hours"] == data["total"]["booked_hours"]

    # the same numbers as CSV (with a BOM) and as a workbook
    r = report(client, admin, format="csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert lines[0] == data["columns"]
    assert len(lines) == len(data["rows"]) + 2  # header, rows, total
    for line, row in zip(lines[1:], [*data["rows"], data["total"]], strict=True):
        assert line == ["" if row[c] is None else str(row[c]) for c in data["columns"]]

    from openpyxl import load_workbook

    r = report(client, admin, format="xlsx")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    sheet = load_workbook(io.BytesIO(r.content)).active
    found = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert found[0] == data["columns"]
    for line, row in zip(found[1:], [*data["rows"], data["total"]], strict=True):
        assert line == [None if row[c] == "" else row[c] for c in data["columns"]]  # an empty cell reads None


def test_who_sees_what_and_bad_input(client):
    admin = api_token(client, "admin")
    owner = api_token(client, "room_admin")
    mine = make_room(client, owner, name="Mine")
    make_room(client, admin, name="Theirs")
    r = report(client, owner)
    assert r.status_code == 200 and [row["label"] for row in r.json()["rows"]] == ["Mine"]
    assert {row["label"] for row in report(client, admin).json()["rows"]} == {"Mine", "Theirs"}
    assert report(client, api_token(client, "member")).status_code == 403
    assert report(client, api_token(client, "editor")).status_code == 403
    assert client.get("/api/v1/stats/rooms").status_code == 401
    assert mine["id"]

    for params, field in (
        ({"from": "2026-13-01"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-1-1"}, "to"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from"),
        ({"from": "2020-01-01", "to": "2026-12-01"}, "from"),
        ({"group": "person"}, "group"),
        ({"format": "pdf"}, "format"),
        ({"colour": "red"}, "colour"),
    ):
        r = client.get("/api/v1/stats/rooms", params=params, headers=admin)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["detail"]["field"] == field
    r = client.get("/api/v1/stats/rooms", headers=admin)  # the last 30 days
    today = dt.datetime.now(TZ).date()
    assert r.status_code == 200 and r.json()["to"] == today.isoformat()
    assert r.json()["from"] == (today - dt.timedelta(days=29)).isoformat()


def test_report_takes_a_constant_number_of_queries(client):
    """A room's meetings or a hundred: the same statements (no loop over bookings)."""
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    counts = []
    for n in (1, 12):
        for i in range(n if not counts else n - 1):
            start = at(8, 0, 1 + i + (1 if counts else 0))
            assert book(client, admin, room["id"], start, start + HOUR).status_code == 201
        for group in ("room", "hour"):
            statements = request_statements(client, lambda g=group: report(client, admin, g))
            counts.append(len(statements))
    assert counts[:2] == counts[2:]


def test_the_page_for_room_admins(client):
    login(client, "room_admin")
    r = client.get("/stats?preset=week&group=floor")
    assert r.status_code == 200 and "echarts-6.1.0.min.js" in r.text
    for preset in ("today", "week", "month", "30", "90", "365"):
        assert client.get(f"/stats?preset={preset}").status_code == 200
    assert client.get("/stats?preset=decade").status_code == 400
    assert client.get("/stats?from=2026-12-01&to=2026-12-31&group=department").status_code == 200
    assert 'href="/stats"' in client.get("/stats").text
    login(client, "member")
    assert client.get("/stats").status_code == 403



def test_by_the_organizers_department(client, backend):
    """With the directory's departments (issue 19), a report by department has a row per
    organizer's department, each measured against every room, and one for organizers with none."""
    from fixtures import add_user, run_sync

    from signage.users.store import create_token

    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid", capacity=8, opens_at="08:00", closes_at="20:00")
    org = ("employee_no,name,email,mobile,department_path,title\n"
           "E1,Ann,ann@example.com,,总部/研发部,\nE2,Bob,bob@example.com,,总部/市场部,\n")  # fmt: skip
    r = client.post("/api/v1/directory/csv", files={"file": ("o.csv", org.encode(), "text/csv")}, headers=admin)
    assert r.json()["created"] == 2
    add_user(client, "member", "cat@example.com")  # in no department
    for day, (email, length) in enumerate((("ann@example.com", 2), ("bob@example.com", 1), ("cat@example.com", 3)), 2):
        token = {"Authorization": f"Bearer {run_sync(create_token(client.app.state.settings, email))}"}
        made = book(client, token, room["id"], at(9, 0, day), at(9 + length, 0, day), title=email)
        assert made.status_code == 201, made.text
    data = report(client, admin, "department").json()
    assert data["message"] == ""
    rows = {row["label"]: (row["booked_hours"], row["meetings"], row["bookable_hours"]) for row in data["rows"]}
    assert rows == {
        "总部/市场部": (1, 1, 12.0 * DAYS),
        "总部/研发部": (2, 1, 12.0 * DAYS),
        "No department": (3, 1, 12.0 * DAYS),
    }
    assert (data["total"]["booked_hours"], data["total"]["bookable_hours"]) == (6, 12.0 * DAYS)
