"""Schedule entries through the API and the page; what a screen plays; the emergency override."""

import datetime as dt

from fixtures import api_token, csrf, login, rows
from screens import make_group, make_screen, state
from sqlalchemy import select

from playlists.models import Emergency, Schedule
from signage.models import AuditEntry

CLOCK = {"x": 0, "y": 0, "w": 100, "h": 100, "widget": "clock", "options": {}}


def published_layout(client, headers, name):
    r = client.post("/api/v1/layouts", headers=headers, json={"name": name, "regions": [CLOCK]})
    lid = r.json()["id"]
    assert client.post(f"/api/v1/layouts/{lid}/publish", headers=headers).status_code == 201
    return lid


def today_in(tz="Asia/Shanghai") -> dt.date:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(tz)).date()


def morning_zone(now: dt.datetime) -> tuple[str, dt.datetime]:
    """A fixed-offset zone where it is 10:xx at `now`, and the local time there.

    A window "two hours from now" in a zone the test picks never crosses midnight,
    whatever the hour of the run (it did in UTC between 21:00 and 21:59).
    """
    from zoneinfo import ZoneInfo

    offset = 10 - now.hour  # -13 … 10 hours
    if offset < -12:
        offset += 24
    zone = f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-3 is UTC+3
    return zone, now.astimezone(ZoneInfo(zone))


def test_morning_zone_is_morning_at_every_hour_of_the_day():
    day = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    for minutes in range(0, 24 * 60, 7):
        _zone, local = morning_zone(day + dt.timedelta(minutes=minutes))
        assert local.hour == 10


def test_the_winning_entry_plays_and_next_check_says_when_it_changes(client):
    headers = api_token(client, "editor")
    default, lobby, promo = (published_layout(client, headers, n) for n in ("Default", "Lobby", "Promo"))
    group = make_group(client, "Lobbies")
    sid, key = make_screen(client, layout_id=default, group_id=group)
    assert state(client, key)["layout"]["id"] == default and state(client, key)["next_check"] is None
    all_day = {"start_date": str(today_in()), "weekdays": list(range(7))}
    today_only = {**all_day, "end_date": str(today_in())}
    r = client.post("/api/v1/schedules", headers=headers, json={"layout_id": lobby, "group_id": group, **today_only})
    assert r.status_code == 201, r.text
    assert r.json()["timezone"] == "Asia/Shanghai" and r.json()["end_time"] == "24:00"
    lobby_entry = r.json()["id"]
    got = state(client, key)
    assert got["layout"]["id"] == lobby and 0 < got["next_check"] <= 86400  # ends at local midnight
    body = {"layout_id": promo, "screen_id": sid, "priority": 0, **all_day}
    promo_id = client.post("/api/v1/schedules", headers=headers, json=body).json()["id"]
    assert state(client, key)["layout"]["id"] == promo  # same priority: the screen's own entry wins
    r = client.put(f"/api/v1/schedules/{promo_id}", headers=headers, json={**body, "start_date": "2099-01-01"})
    assert r.status_code == 200
    assert state(client, key)["layout"]["id"] == lobby
    playing = client.get(f"/api/v1/screens/{sid}/playing", headers=headers).json()
    assert playing["now"]["layout_id"] == lobby and playing["emergency"] is None
    assert playing["timeline"][0]["layout_id"] == lobby and len(playing["timeline"]) >= 1
    assert client.delete(f"/api/v1/schedules/{promo_id}", headers=headers).status_code == 204
    assert [s.id for s in rows(client, select(Schedule))] == [lobby_entry]


def test_a_window_that_starts_later_today_is_next(client):
    headers = api_token(client, "editor")
    default, evening = published_layout(client, headers, "Default"), published_layout(client, headers, "Evening")
    sid, key = make_screen(client, layout_id=default)
    zone, local = morning_zone(dt.datetime.now(dt.UTC))
    start, end = f"{local.hour + 2:02}:00", f"{local.hour + 3:02}:00"
    body = {"layout_id": evening, "screen_id": sid, "start_date": str(local.date()), "timezone": zone}
    client.post("/api/v1/schedules", headers=headers, json={**body, "start_time": start, "end_time": end})
    got = state(client, key)
    assert got["layout"]["id"] == default and 3600 <= got["next_check"] <= 26 * 3600
    playing = client.get(f"/api/v1/screens/{sid}/playing", headers=headers).json()
    assert playing["next"]["layout_id"] == evening
    login(client, "editor")
    page = client.get(f"/schedules/screens/{sid}")
    assert page.status_code == 200 and page.text.count('class="week-day"') == 7 and "Evening" in page.text


def test_bad_schedule_entries_are_refused_and_change_nothing(client):
    headers = api_token(client, "editor")
    lid = published_layout(client, headers, "L")
    sid, _key = make_screen(client)
    good = {"layout_id": lid, "screen_id": sid, "start_date": "2026-06-01", "start_time": "09:00", "end_time": "17:00"}
    cases = [
        ({"start_time": "18:00"}, "must end after it starts"),
        ({"end_time": "09:00"}, "must end after it starts"),
        ({"end_time": "25:00"}, "must be a time like 09:30"),
        ({"end_date": "2026-05-01"}, "end date must not be before"),
        ({"weekdays": []}, "at least one weekday"),
        ({"weekdays": [7]}, "at least one weekday"),
        ({"timezone": "Moon/Base"}, "Unknown time zone"),
        ({"screen_id": None}, "either a screen or a screen group"),
        ({"group_id": 5}, "either a screen or a screen group"),
        ({"layout_id": 999}, "No such layout"),
        ({"screen_id": 999}, "No such screen"),
        ({"start_date": "soon"}, "Some fields are not valid"),
    ]
    for change, message in cases:
        r = client.post("/api/v1/schedules", headers=headers, json={**good, **change})
        assert r.status_code == 400 and message in r.json()["message"], (change, r.text)
    assert rows(client, select(Schedule)) == []
    login(client, "editor")
    form = {"layout_id": lid, "target": f"screen:{sid}", "start_date": "2026-06-01", "weekdays": ["0", "1"]}
    r = client.post("/schedules", data={**form, "start_time": "17:00", "end_time": "08:00", "csrf_token": csrf(client)})
    assert r.status_code == 400 and "must end after it starts" in r.text
    assert rows(client, select(Schedule)) == []
    r = client.post("/schedules", data={**form, "start_time": "08:00", "end_time": "17:00", "csrf_token": csrf(client)})
    assert r.status_code == 200 and "data-schedule-id" in r.text
    [entry] = rows(client, select(Schedule))
    assert (entry.weekdays, entry.start_minute, entry.end_minute) == ([0, 1], 480, 1020)


def test_emergency_override_wins_until_cleared_and_is_audited(client):
    headers = api_token(client, "editor")
    lid = published_layout(client, headers, "Normal")
    group = make_group(client, "Floor 3")
    _a, in_group = make_screen(client, "In group", layout_id=lid, group_id=group)
    _b, elsewhere = make_screen(client, "Elsewhere", layout_id=lid)
    r = client.post("/api/v1/emergency", headers=headers, json={"message": "Fire drill <now>", "group_id": group})
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    shown = state(client, in_group)["layout"]
    assert shown["id"] == f"emergency:{eid}" and shown["emergency"] is True
    assert "Fire drill &lt;now&gt;" in shown["regions"][0]["html"]
    assert state(client, elsewhere)["layout"]["id"] == lid
    r = client.post("/api/v1/emergency", headers=headers, json={"layout_id": lid})
    everywhere = r.json()["id"]
    assert state(client, elsewhere)["layout"]["id"] == f"emergency:{everywhere}"
    assert [e["id"] for e in client.get("/api/v1/emergency", headers=headers).json()] == [everywhere, eid]
    assert client.post(f"/api/v1/emergency/{everywhere}/clear", headers=headers).status_code == 200
    assert client.post(f"/api/v1/emergency/{everywhere}/clear", headers=headers).status_code == 409
    assert state(client, elsewhere)["layout"]["id"] == lid
    assert state(client, in_group)["layout"]["id"] == f"emergency:{eid}"
    client.post(f"/api/v1/emergency/{eid}/clear", headers=headers)
    assert state(client, in_group)["layout"]["id"] == lid
    for body, message in (({}, "Write a message or choose a layout"), ({"message": "x", "group_id": 99}, "No such")):
        r = client.post("/api/v1/emergency", headers=headers, json=body)
        assert r.status_code == 400 and message in r.json()["message"]
    assert len(rows(client, select(Emergency))) == 2
    audit = rows(client, select(AuditEntry).where(AuditEntry.action.like("emergency.%")))
    assert [(e.action, e.result) for e in audit] == [
        ("emergency.start", "success"),
        ("emergency.start", "success"),
        ("emergency.clear", "success"),
        ("emergency.clear", "failure"),
        ("emergency.clear", "success"),
        ("emergency.start", "failure"),
        ("emergency.start", "failure"),
    ]


def test_publishing_tells_every_screen_whose_plan_involves_the_layout(client):
    """Default layout, an entry for the screen, an entry for its group, an override: each counts."""
    from fixtures import in_app

    from playlists.publishing import affected_screens

    headers = api_token(client, "editor")
    lid, other = published_layout(client, headers, "Target"), published_layout(client, headers, "Other")
    group, quiet_group = make_group(client, "G"), make_group(client, "Quiet")
    by_default, _k = make_screen(client, layout_id=lid)
    by_entry, _k = make_screen(client, layout_id=other)
    in_group, _k = make_screen(client, group_id=group)
    untouched, _k = make_screen(client, layout_id=other, group_id=quiet_group)
    entry = {"start_date": "2026-01-01"}
    client.post("/api/v1/schedules", headers=headers, json={"layout_id": lid, "screen_id": by_entry, **entry})
    client.post("/api/v1/schedules", headers=headers, json={"layout_id": lid, "group_id": group, **entry})

    async def affected(layout_id):
        async with client.app.state.db.session() as s:
            return await affected_screens(s, {layout_id})

    assert in_app(client, affected, lid) == {by_default, by_entry, in_group}
    assert untouched not in in_app(client, affected, lid)
    client.post("/api/v1/emergency", headers=headers, json={"layout_id": lid, "group_id": quiet_group})
    assert in_app(client, affected, lid) == {by_default, by_entry, in_group, untouched}


def test_many_screens_at_once_play_what_each_plays_alone(client):
    """`screen_layouts` (the batch a reconnect storm uses) answers for every screen what
    `screen_layout` answers for it alone: own entries, group entries, overrides, defaults."""
    from fixtures import in_app

    from player.models import Screen
    from playlists.playing import screen_layout, screen_layouts

    headers = api_token(client, "editor")
    default, lobby, promo, alert = (published_layout(client, headers, n) for n in ("D", "L", "P", "A"))
    lobbies, doors, quiet = make_group(client, "Lobbies"), make_group(client, "Doors"), make_group(client, "Quiet")
    all_day = {"start_date": str(today_in()), "weekdays": list(range(7))}
    client.post("/api/v1/schedules", headers=headers, json={"layout_id": lobby, "group_id": lobbies, **all_day})
    ids = [
        make_screen(client, "plain", layout_id=default)[0],
        make_screen(client, "nothing")[0],
        make_screen(client, "in lobbies", layout_id=default, group_id=lobbies)[0],
        make_screen(client, "own entry", layout_id=default, group_id=lobbies)[0],
        make_screen(client, "door", layout_id=default, group_id=doors)[0],
        make_screen(client, "quiet", layout_id=default, group_id=quiet)[0],
    ]
    client.post("/api/v1/schedules", headers=headers, json={"layout_id": promo, "screen_id": ids[3], **all_day})
    r = client.post("/api/v1/emergency", headers=headers, json={"layout_id": alert, "group_id": doors})
    assert r.status_code == 201, r.text
    client.post("/api/v1/emergency", headers=headers, json={"message": "Quiet please", "group_id": quiet})

    async def both():
        db = client.app.state.db
        async with db.session() as s:
            screens = (await s.scalars(select(Screen).where(Screen.id.in_(ids)).order_by(Screen.id))).all()
        together = await screen_layouts(db, list(screens))
        alone = [await screen_layout(db, sc) for sc in screens]
        return together, alone

    together, alone = in_app(client, both)
    assert together == alone
    shown = [layout and layout["id"] for layout, _next in together]
    assert shown[:5] == [default, None, lobby, promo, f"emergency:{r.json()['id']}"]
    assert together[5][0]["emergency"] and together[5][0]["regions"][0]["widget"] == "message"
