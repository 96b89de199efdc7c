"""Billing (issue 17 points 6–7): rate cards and the price of a booking before it is made.

The rule engine (`booking_api.billing.rates`) against prices worked out by hand: rules in
order, a meeting crossing from off-peak into peak and across midnight, a minimum charge,
rounding, the meeting's length and who books. Then the API on both databases: a card's
versions, who may change it, bad cards refused with a 400 naming the field, quotes for
one meeting and a series, a billing tag set on the Users page, a card removed."""

from __future__ import annotations

import datetime as dt

import pytest
from bookings_helpers import TZ, at, book, make_room
from fixtures import add_user, api_token, csrf, login, rows, run_sync
from sqlalchemy import select

from booking_api.billing import rates
from booking_api.billing.models import RateCardVersion
from signage.models import AuditEntry, User
from signage.users.store import create_token

# Monday 2026-12-07 in Shanghai
MON = dt.date(2026, 12, 7)


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), TZ)


PEAK = {"label": "Peak", "weekdays": [1, 2, 3, 4, 5], "from": "09:00", "to": "18:00", "unit_minutes": 30,
        "unit_price": 5000}  # fmt: skip
OFF_PEAK = {"label": "Off-peak", "unit_minutes": 60, "unit_price": 6000}  # any day, all day


def priced(rules, start, end, tags=()):
    q = rates.quote(rules, start, end, TZ, tags)
    return [(line.label, line.units, line.amount) for line in q.lines], q.total


def test_the_first_rule_that_matches_prices_each_part():
    # inside the peak band: 90 minutes = 3 half hours at 50 yuan
    assert priced([PEAK, OFF_PEAK], local(MON, 10), local(MON, 11, 30)) == ([("Peak", 3, 15000)], 15000)
    # the order decides: off-peak first takes everything
    assert priced([OFF_PEAK, PEAK], local(MON, 10), local(MON, 11, 30)) == ([("Off-peak", 2, 12000)], 12000)
    # from off-peak into peak: 08:00–09:00 off-peak (1 hour), 09:00–10:15 peak (3 half hours, rounded up)
    assert priced([PEAK, OFF_PEAK], local(MON, 8), local(MON, 10, 15)) == (
        [("Off-peak", 1, 6000), ("Peak", 3, 15000)],
        21000,
    )
    # out of peak and back: 17:00–19:00 is peak 2 units, then off-peak 1 hour
    assert priced([PEAK, OFF_PEAK], local(MON, 17), local(MON, 19)) == ([("Peak", 2, 10000), ("Off-peak", 1, 6000)], 16000)
    # Saturday: no peak
    sat = MON + dt.timedelta(days=5)
    assert priced([PEAK, OFF_PEAK], local(sat, 10), local(sat, 12)) == ([("Off-peak", 2, 12000)], 12000)


def test_across_midnight_and_parts_no_rule_prices():
    night = {"label": "Night", "from": "22:00", "to": "24:00", "unit_minutes": 60, "unit_price": 1000}
    early = {"label": "Early", "from": "00:00", "to": "06:00", "unit_minutes": 60, "unit_price": 500}
    # Monday 23:00 → Tuesday 01:30: an hour of night, 90 minutes early (2 hours rounded up)
    assert priced([night, early], local(MON, 23), local(MON + dt.timedelta(days=1), 1, 30)) == (
        [("Night", 1, 1000), ("Early", 2, 1000)],
        2000,
    )
    # 20:00–23:00: only 22:00–23:00 has a rule; the rest costs nothing
    assert priced([night], local(MON, 20), local(MON, 23)) == ([("Night", 1, 1000)], 1000)
    # one rule all night long is one line, across midnight
    allday = {"label": "Any", "unit_minutes": 60, "unit_price": 100}
    assert priced([allday], local(MON, 22), local(MON + dt.timedelta(days=1), 2)) == ([("Any", 4, 400)], 400)
    assert priced([], local(MON, 10), local(MON, 11)) == ([], 0)


def test_minimum_rounding_length_and_who():
    base = {"unit_minutes": 60, "unit_price": 1000}
    assert priced([{**base, "minimum": 3000}], local(MON, 10), local(MON, 11)) == ([("Mon–Sun 00:00–24:00", 1, 3000)], 3000)
    for rounding, units in (("up", 2), ("down", 1), ("nearest", 1)):
        assert priced([{**base, "rounding": rounding}], local(MON, 10), local(MON, 11, 29))[1] == units * 1000
    assert priced([{**base, "rounding": "nearest"}], local(MON, 10), local(MON, 11, 30))[1] == 2000  # a half rounds up
    half_day = {**base, "label": "Half day", "min_minutes": 240, "unit_minutes": 240, "unit_price": 80000}
    hourly = {**base, "label": "Hourly"}
    assert priced([half_day, hourly], local(MON, 9), local(MON, 13)) == ([("Half day", 1, 80000)], 80000)
    assert priced([half_day, hourly], local(MON, 9), local(MON, 12)) == ([("Hourly", 3, 3000)], 3000)
    capped = {**base, "label": "Short", "max_minutes": 60, "unit_price": 500}
    assert priced([capped, hourly], local(MON, 9), local(MON, 10))[0] == [("Short", 1, 500)]
    assert priced([capped, hourly], local(MON, 9), local(MON, 11))[0] == [("Hourly", 2, 2000)]
    tenant = {**base, "label": "Tenant", "who": "tenant", "unit_price": 2000}
    assert priced([tenant, hourly], local(MON, 9), local(MON, 10), tags=["tenant"])[0] == [("Tenant", 1, 2000)]
    assert priced([tenant, hourly], local(MON, 9), local(MON, 10), tags=[])[0] == [("Hourly", 1, 1000)]


CARD = {
    "currency": "CNY",
    "rules": [
        {"weekdays": [1, 2, 3, 4, 5], "from": "09:00", "to": "18:00", "unit_minutes": 30, "unit_price": 5000},
        {"label": "Tenant", "who": "tenant", "unit_minutes": 60, "unit_price": 4000},
        {"label": "Evenings and weekends", "unit_minutes": 60, "unit_price": 6000, "minimum": 6000},
    ],
}


def test_a_rate_card_through_the_api(client):
    admin = api_token(client, "admin")
    member = api_token(client, "member")
    room = make_room(client, admin, name="Orchid")
    card_url = f"/api/v1/rooms/{room['id']}/rate-card"
    assert client.get(card_url, headers=member).status_code == 404
    r = client.put(card_url, json=CARD, headers=admin)
    assert r.status_code == 200, r.text
    card = r.json()
    assert (card["version"], card["currency"], card["room_id"]) == (1, "CNY", room["id"])
    assert card["rules"][0] == {"label": "", "weekdays": [1, 2, 3, 4, 5], "from": "09:00", "to": "18:00",
                                "min_minutes": 0, "max_minutes": None, "unit_minutes": 30, "unit_price": 5000,
                                "minimum": 0, "rounding": "up", "who": None}  # fmt: skip
    got = client.get(card_url, headers=member)
    assert got.status_code == 200 and got.json() == card and got.headers["etag"]
    # a member may read it but not change it; a room admin only their own rooms'
    assert client.put(card_url, json=CARD, headers=member).status_code == 403
    assert client.put(card_url, json=CARD, headers=api_token(client, "room_admin")).status_code == 403
    cheaper = {**CARD, "rules": [{**CARD["rules"][0], "unit_price": 4500}, *CARD["rules"][1:]]}
    again = client.put(card_url, json=cheaper, headers=admin).json()
    assert (again["id"], again["version"]) == (card["id"], 2)
    versions = rows(client, select(RateCardVersion).order_by(RateCardVersion.version))
    assert [(v.version, v.rules[0]["unit_price"]) for v in versions] == [(1, 5000), (2, 4500)]
    audited = rows(client, select(AuditEntry).where(AuditEntry.action == "rate_card.update"))
    assert [e.target for e in audited] == [f"room:{room['id']}"] * 2

    # a quote: Monday-to-Friday 10:00–11:15 → 3 half hours at the new price
    day = next(d for d in (at(0, days=k).date() for k in range(1, 8)) if d.isoweekday() == 2)
    body = {"room_id": room["id"], "title": "Review", "start": local(day, 10).isoformat(),
            "end": local(day, 11, 15).isoformat()}  # fmt: skip
    q = client.post("/api/v1/bookings/quote", json=body, headers=member)
    assert q.status_code == 200, q.text
    assert q.json() == {
        "currency": "CNY",
        "total": 13500,
        "lines": [{"label": "Mon–Fri 09:00–18:00", "units": 3, "unit_price": 4500, "amount": 13500, "minutes": 75, "rule": 0}],
        "occurrences": 1,
        "rate_card": {"id": card["id"], "version": 2},
    }
    # four Tuesdays, 17:30–18:30: half an hour peak (1 unit) and half an hour in the evening (1 hour's minimum)
    series = {**body, "start": local(day, 17, 30).isoformat(), "end": local(day, 18, 30).isoformat(),
              "rrule": "FREQ=WEEKLY;COUNT=4"}  # fmt: skip
    q = client.post("/api/v1/bookings/quote", json=series, headers=member).json()
    assert (q["occurrences"], q["total"]) == (4, 4 * (4500 + 6000))
    assert [(line["label"], line["units"], line["amount"]) for line in q["lines"]] == [
        ("Mon–Fri 09:00–18:00", 4, 18000),
        ("Evenings and weekends", 4, 24000),
    ]
    # nothing was booked by asking
    assert client.get("/api/v1/bookings", params={"room_id": room["id"]}, headers=admin).json() == []

    # removed: the room charges nothing; its versions stay (quotes name them)
    assert client.delete(card_url, headers=member).status_code == 403
    assert client.delete(card_url, headers=admin).status_code == 204
    assert client.get(card_url, headers=member).status_code == 404
    q = client.post("/api/v1/bookings/quote", json=body, headers=member).json()
    assert (q["total"], q["lines"], q["rate_card"]) == (0, [], None)
    assert len(rows(client, select(RateCardVersion))) == 2
    assert client.put(card_url, json=CARD, headers=admin).json()["version"] == 3


def test_the_room_admin_of_a_room_sets_its_card_and_a_tenant_pays_its_own_rate(client):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Lotus")
    owner = login(client, "room_admin")
    owner_id = rows(client, select(User).where(User.email == owner))[0].id
    assert client.patch(f"/api/v1/rooms/{room['id']}", json={"owner_ids": [owner_id]}, headers=admin).status_code == 200
    token = csrf(client)
    r = client.put(f"/api/v1/rooms/{room['id']}/rate-card", json=CARD, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.text

    # the admin gives a user the billing tag "tenant" on the Users page
    client.cookies.clear()
    login(client, "admin")
    tenant = rows(client, select(User).where(User.email == add_user(client, "member", "tenant@example.com")))[0]
    form = {"csrf_token": csrf(client), "role": "member", "active": "on", "billing_tag": "tenant"}
    page = client.post(f"/admin/users/{tenant.id}", data=form, follow_redirects=False)
    assert page.status_code == 303, page.text
    assert rows(client, select(User).where(User.id == tenant.id))[0].billing_tag == "tenant"
    assert 'name="billing_tag" value="tenant"' in client.get("/admin/users").text

    saturday = next(d for d in (at(0, days=k).date() for k in range(1, 8)) if d.isoweekday() == 6)
    body = {"room_id": room["id"], "title": "Workshop", "start": local(saturday, 10).isoformat(),
            "end": local(saturday, 12).isoformat()}  # fmt: skip
    as_tenant = {"Authorization": f"Bearer {run_sync(create_token(client.app.state.settings, tenant.email))}"}
    assert client.post("/api/v1/bookings/quote", json=body, headers=as_tenant).json()["total"] == 8000  # 2 h at 40
    untagged = api_token(client, "member")
    assert client.post("/api/v1/bookings/quote", json=body, headers=untagged).json()["total"] == 12000  # 2 h at 60


BAD_CARDS = [
    ({"rules": [{"unit_minutes": 30, "unit_price": 100, "from": "18:00", "to": "09:00"}]}, "rules.0"),
    ({"rules": [{"unit_minutes": 30, "unit_price": 100, "weekdays": [0]}]}, "rules.0.weekdays.0"),
    ({"rules": [{"unit_minutes": 30, "unit_price": 100, "weekdays": [1, 1]}]}, "rules.0.weekdays"),
    ({"rules": [{"unit_minutes": 30, "unit_price": -1}]}, "rules.0.unit_price"),
    ({"rules": [{"unit_minutes": 0, "unit_price": 1}]}, "rules.0.unit_minutes"),
    ({"rules": [{"unit_minutes": 30, "unit_price": 1.5}]}, "rules.0.unit_price"),
    ({"rules": [{"unit_minutes": 30, "unit_price": 1, "from": "25:00"}]}, "rules.0.from"),
    ({"rules": [{"unit_minutes": 30, "unit_price": 1, "rounding": "sideways"}]}, "rules.0.rounding"),
    ({"rules": [{"unit_minutes": 30, "unit_price": 1, "colour": "red"}]}, "rules.0.colour"),
    ({"currency": "yuan", "rules": []}, "currency"),
    ({"rules": [], "cancel_percent": 101}, "cancel_percent"),
    ({}, "rules"),
]


@pytest.mark.parametrize("body,field", BAD_CARDS)
def test_a_bad_card_is_a_400_naming_its_field(client, body, field):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    r = client.put(f"/api/v1/rooms/{room['id']}/rate-card", json=body, headers=admin)
    assert r.status_code == 400, r.text
    assert field in r.text, r.text
    assert client.get(f"/api/v1/rooms/{room['id']}/rate-card", headers=admin).status_code == 404  # nothing half-written


def test_quotes_of_what_is_not_there(client):
    member = api_token(client, "member")
    body = {"room_id": 999, "title": "x", "start": at(10).isoformat(), "end": at(11).isoformat()}
    assert client.post("/api/v1/bookings/quote", json=body, headers=member).status_code == 404
    assert client.put("/api/v1/rooms/999/rate-card", json=CARD, headers=api_token(client, "admin")).status_code == 404
    room = make_room(client, api_token(client, "admin"), name="Plain")
    body["room_id"] = room["id"]
    assert client.post("/api/v1/bookings/quote", json={**body, "end": at(9).isoformat()}, headers=member).status_code == 400
    assert client.post("/api/v1/bookings/quote", json=body).status_code == 401
    free = client.post("/api/v1/bookings/quote", json=body, headers=member).json()
    assert free == {"currency": "CNY", "total": 0, "lines": [], "occurrences": 1, "rate_card": None}
    assert book(client, member, room["id"], at(10), at(11)).status_code == 201  # quoting changed nothing


def charges_of(client, booking_id: int, headers: dict, count: int) -> dict:
    """The booking's charges once the billing consumer has written `count` of them."""
    from fixtures import wait_for

    def ready():
        r = client.get(f"/api/v1/bookings/{booking_id}/charges", headers=headers)
        return r.json() if r.status_code == 200 and len(r.json()["charges"]) >= count else None

    return wait_for(ready)


HOURLY = {"currency": "CNY", "cancel_free_hours": 48, "cancel_percent": 50,
          "rules": [{"label": "Hourly", "unit_minutes": 60, "unit_price": 10000}]}  # fmt: skip


def test_a_booking_is_charged_when_confirmed_changed_and_cancelled(client):
    """Issue 17 point 7: the charge equals the quote; an edit records the difference; a late
    cancellation costs the card's share, an early one nothing; a changed card does not
    reprice a booking made before it; a pending meeting costs nothing until approved."""
    admin = api_token(client, "admin")
    member = api_token(client, "member")
    room = make_room(client, admin, name="Hall")
    assert client.put(f"/api/v1/rooms/{room['id']}/rate-card", json=HOURLY, headers=admin).status_code == 200
    start, end = at(10, days=1), at(12, days=1)
    body = {"room_id": room["id"], "title": "Rental", "start": start.isoformat(), "end": end.isoformat()}
    quoted = client.post("/api/v1/bookings/quote", json=body, headers=member).json()
    made = book(client, member, room["id"], start, end, title="Rental").json()
    got = charges_of(client, made["id"], member, 1)
    assert got["amount"] == quoted["total"] == 20000
    assert [(c["kind"], c["amount"], c["difference"]) for c in got["charges"]] == [("booked", 20000, 20000)]
    assert got["charges"][0]["lines"] == quoted["lines"] and got["charges"][0]["rate_card"] == quoted["rate_card"]

    # the card doubles its price: the booking keeps the version it was charged with
    dearer = {**HOURLY, "rules": [{**HOURLY["rules"][0], "unit_price": 20000}]}
    assert client.put(f"/api/v1/rooms/{room['id']}/rate-card", json=dearer, headers=admin).json()["version"] == 2
    r = client.patch(f"/api/v1/bookings/{made['id']}", json={"end": at(13, days=1).isoformat()}, headers=member)
    assert r.status_code == 200, r.text
    got = charges_of(client, made["id"], member, 2)
    assert [(c["kind"], c["amount"], c["difference"], c["rate_card"]["version"]) for c in got["charges"]] == [
        ("booked", 20000, 20000, 1),
        ("changed", 30000, 10000, 1),
    ]
    # a new title changes no price
    client.patch(f"/api/v1/bookings/{made['id']}", json={"title": "Rental (board)"}, headers=member)
    # moved to a room without a card, it costs nothing; moved back, the room's card now prices it
    free_room = make_room(client, admin, name="Free hall")
    assert client.patch(f"/api/v1/bookings/{made['id']}", json={"room_id": free_room["id"]}, headers=member).status_code == 200
    got = charges_of(client, made["id"], member, 3)
    assert [(c["kind"], c["amount"], c["difference"]) for c in got["charges"]][2:] == [("changed", 0, -30000)]
    assert client.patch(f"/api/v1/bookings/{made['id']}", json={"room_id": room["id"]}, headers=member).status_code == 200
    got = charges_of(client, made["id"], member, 4)
    assert [(c["kind"], c["amount"], c["difference"], c["rate_card"]["version"]) for c in got["charges"]][3:] == [
        ("changed", 60000, 60000, 2)
    ]
    # cancelled within 48 hours of its start: half the price
    assert client.delete(f"/api/v1/bookings/{made['id']}", headers=member).status_code in (200, 204)
    got = charges_of(client, made["id"], member, 5)
    assert [(c["kind"], c["amount"], c["difference"]) for c in got["charges"]][4:] == [("cancelled", 30000, -30000)]
    assert got["amount"] == 30000

    # far ahead (version 2 now): cancelled more than 48 hours before, it costs nothing
    later = book(client, member, room["id"], at(10, days=6), at(11, days=6), title="Later").json()
    assert charges_of(client, later["id"], member, 1)["amount"] == 20000
    client.delete(f"/api/v1/bookings/{later['id']}", headers=member)
    assert [(c["kind"], c["amount"]) for c in charges_of(client, later["id"], member, 2)["charges"]] == [
        ("booked", 20000),
        ("cancelled", 0),
    ]

    # only its organizer and the room's admins see what it costs
    assert client.get(f"/api/v1/bookings/{made['id']}/charges", headers=admin).status_code == 200
    assert client.get(f"/api/v1/bookings/{made['id']}/charges", headers=api_token(client, "member")).status_code == 404


def test_a_room_without_a_card_and_a_meeting_waiting_for_approval_cost_nothing(client):
    from fixtures import wait_for

    admin = api_token(client, "admin")
    member = api_token(client, "member")
    free = make_room(client, admin, name="Free")
    gated = make_room(client, admin, name="Gated", needs_approval=True)
    client.put(f"/api/v1/rooms/{gated['id']}/rate-card", json=HOURLY, headers=admin)
    plain = book(client, member, free["id"], at(9), at(10)).json()
    pending = book(client, member, gated["id"], at(9), at(10)).json()
    assert pending["status"] == "pending"
    later = book(client, member, free["id"], at(11), at(12)).json()  # events after both: the consumer passed them
    wait_for(lambda: client.get("/healthz").json()["event_log"]["consumers"]["billing"]["behind"] == 0)
    assert later["id"]
    for b in (plain, pending):
        assert client.get(f"/api/v1/bookings/{b['id']}/charges", headers=member).json() == {
            "currency": "CNY", "amount": 0, "charges": []}  # fmt: skip
    r = client.post(f"/api/v1/bookings/{pending['id']}/approve", json={}, headers=admin)
    assert r.status_code == 200, r.text
    assert charges_of(client, pending["id"], member, 1)["amount"] == 10000
    # the booking's page shows its price to its room's admins (and its organizer), not to others
    login(client, "admin")
    page = client.get(f"/bookings/{pending['id']}").text
    assert 'class="charges-now" data-amount="10000"' in page and "CN¥100.00" in page
    client.cookies.clear()
    login(client, "member")
    assert "charges-now" not in client.get(f"/bookings/{pending['id']}").text
    assert "charges-now" not in client.get(f"/bookings/{plain['id']}").text


def test_the_phone_booking_page_prices_what_its_form_says(client):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    client.put(f"/api/v1/rooms/{room['id']}/rate-card", json=HOURLY, headers=admin)
    login(client, "member")
    start = at(10).strftime("%Y-%m-%dT%H:%M")
    r = client.get("/m/book/price", params={"room_id": room["id"], "start": start, "minutes": 90})
    assert r.status_code == 200 and r.text == "Price: CN¥200.00 (2 × CN¥100.00 Hourly)", r.text
    for bad in ({"room_id": room["id"], "start": "soon", "minutes": 90}, {"room_id": "x", "start": start, "minutes": 90},
                {"room_id": room["id"], "start": start, "minutes": 7}, {"room_id": 999, "start": start, "minutes": 30},
                {}):  # fmt: skip
        r = client.get("/m/book/price", params=bad)
        assert (r.status_code, r.text) == (200, ""), bad
    client.cookies.set("lang", "zh_CN")
    r = client.get("/m/book/price", params={"room_id": room["id"], "start": start, "minutes": 60})
    assert r.text == "价格：¥100.00 (1 × ¥100.00 Hourly)", r.text
    assert 'id="m-price"' in client.get("/m/book").text


def test_a_month_of_charges_by_organizer_and_room_with_csv_statements_and_overrides(client):
    """Issue 17 point 8: what bookings cost in a month, by organizer, room and department,
    as JSON, CSV and a page with printable statements; a room admin's override with a reason,
    audited; a room admin sees only their rooms."""
    import csv as csv_module
    import io

    admin = api_token(client, "admin")
    hall = make_room(client, admin, name="Hall")
    annex = make_room(client, admin, name="Annex")
    for room in (hall, annex):
        client.put(f"/api/v1/rooms/{room['id']}/rate-card", json=HOURLY, headers=admin)
    ann, bob = add_user(client, "member", "ann@example.com"), add_user(client, "member", "bob@example.com")
    tokens = {email: {"Authorization": f"Bearer {run_sync(create_token(client.app.state.settings, email))}"}
              for email in (ann, bob)}  # fmt: skip
    day = at(0, days=10)
    month = day.strftime("%Y-%m")
    made = [
        book(client, tokens[ann], hall["id"], day.replace(hour=9), day.replace(hour=11), title="A1").json(),  # 200
        book(client, tokens[ann], annex["id"], day.replace(hour=9), day.replace(hour=10), title="A2").json(),  # 100
        book(client, tokens[bob], hall["id"], day.replace(hour=14), day.replace(hour=17), title="B1").json(),  # 300
    ]
    for b in made:
        charges_of(client, b["id"], tokens[ann] if b["title"].startswith("A") else tokens[bob], 1)
    r = client.get("/api/v1/billing/charges", params={"month": month}, headers=admin).json()
    # the most first, then by name
    assert [(row["label"], row["bookings"], row["amount"]) for row in r["rows"]] == [("ann", 2, 30000), ("bob", 1, 30000)]
    assert (r["total"], r["bookings"]) == (60000, 3)
    by_room = client.get("/api/v1/billing/charges", params={"month": month, "group": "room"}, headers=admin).json()
    assert [(row["label"], row["amount"]) for row in by_room["rows"]] == [("Hall", 50000), ("Annex", 10000)]
    by_dept = client.get("/api/v1/billing/charges", params={"month": month, "group": "department"}, headers=admin).json()
    assert [(row["label"], row["amount"]) for row in by_dept["rows"]] == [("No department", 60000)]
    # the directory puts ann in 总部/研发部 (her account linked by email): the report follows
    org = "employee_no,name,email,mobile,department_path,title\nE1,Ann,ann@example.com,,总部/研发部,\n"
    uploaded = client.post("/api/v1/directory/csv", files={"file": ("org.csv", org.encode(), "text/csv")}, headers=admin)
    assert uploaded.json()["changed"] == 1
    by_dept = client.get("/api/v1/billing/charges", params={"month": month, "group": "department"}, headers=admin).json()
    assert sorted((row["label"], row["amount"]) for row in by_dept["rows"]) == [("No department", 30000), ("总部/研发部", 30000)]
    got = client.get("/api/v1/billing/charges", params={"month": month, "group": "room", "format": "csv"}, headers=admin)
    assert got.content.startswith("\ufeff".encode()) and got.headers["content-type"].startswith("text/csv")
    lines = list(csv_module.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert lines[0] == ["key", "label", "bookings", "amount", "currency"]
    assert lines[1][1:] == ["Hall", "2", "500.00", "CNY"] and lines[-1][1:4] == ["Total", "3", "600.00"]

    # a room admin of the annex overrides A2's price, with a reason; the report follows
    owner = add_user(client, "room_admin", "owner@example.com")
    owner_id = rows(client, select(User).where(User.email == owner))[0].id
    client.patch(f"/api/v1/rooms/{annex['id']}", json={"owner_ids": [owner_id]}, headers=admin)
    as_owner = {"Authorization": f"Bearer {run_sync(create_token(client.app.state.settings, owner))}"}
    url = f"/api/v1/bookings/{made[1]['id']}/charges"
    assert client.post(url, json={"amount": 5000}, headers=as_owner).status_code == 400  # a reason is wanted
    assert client.post(f"/api/v1/bookings/{made[0]['id']}/charges", json={"amount": 1, "reason": "x"},
                       headers=as_owner).status_code == 404  # not their room  # fmt: skip
    assert client.post(url, json={"amount": 5000, "reason": "projector broken"}, headers=tokens[ann]).status_code == 403
    r = client.post(url, json={"amount": 5000, "reason": "projector broken"}, headers=as_owner)
    assert r.status_code == 200, r.text
    assert (r.json()["amount"], r.json()["charges"][-1]["kind"], r.json()["charges"][-1]["difference"]) == (5000, "override", -5000)
    audited = rows(client, select(AuditEntry).where(AuditEntry.action == "booking.charge_override"))
    assert [(e.target, e.reason) for e in audited] == [(f"booking:{made[1]['id']}", "10000 → 5000 CNY: projector broken")]
    mine = client.get("/api/v1/billing/charges", params={"month": month, "group": "room"}, headers=as_owner).json()
    assert [(row["label"], row["amount"]) for row in mine["rows"]] == [("Annex", 5000)]  # only their room

    # the page and a printable statement
    login(client, "admin")
    page = client.get("/billing", params={"month": month, "group": "organizer"})
    assert page.status_code == 200 and 'data-amount="55000"' in page.text and "CN¥550.00" in page.text
    assert f'organizer_id={rows(client, select(User).where(User.email == bob))[0].id}"' in page.text
    ann_id = rows(client, select(User).where(User.email == ann))[0].id
    statement = client.get("/billing/statement", params={"month": month, "organizer_id": ann_id})
    assert statement.status_code == 200 and "A1" in statement.text and "A2" in statement.text
    assert 'data-amount="25000"' in statement.text  # 200 + 50 after the override
    assert client.get("/billing/statement", params={"month": month, "organizer_id": 999999}).status_code == 404
    for bad in ({"month": "2026-13"}, {"month": "soon"}, {"group": "team"}, {"format": "pdf"}, {"colour": "red"}):
        r = client.get("/api/v1/billing/charges", params=bad, headers=admin)
        assert r.status_code == 400, (bad, r.text)


def test_a_room_s_first_card_set_by_many_at_once_is_one_card(client):
    """Concurrent PUTs of a room's first card: one card, one version each, never a 500."""
    import concurrent.futures

    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Busy")
    url = f"/api/v1/rooms/{room['id']}/rate-card"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _n: client.put(url, json=CARD, headers=admin), range(8)))
    assert [r.status_code for r in answers] == [200] * 8, [r.text for r in answers if r.status_code != 200]
    assert sorted(r.json()["version"] for r in answers) == list(range(1, 9))
    assert len({r.json()["id"] for r in answers}) == 1


def test_the_edit_form_shows_what_a_change_would_cost(client):
    """A booking's page: the price of the room and times in its edit form, against its price
    now, by the version it was charged with (as the charge will be)."""
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Hall")
    client.put(f"/api/v1/rooms/{room['id']}/rate-card", json=HOURLY, headers=admin)
    email = login(client, "member")
    as_member = {"Authorization": f"Bearer {run_sync(create_token(client.app.state.settings, email))}"}
    made = book(client, as_member, room["id"], at(10, days=3), at(12, days=3), title="Rental").json()
    charges_of(client, made["id"], as_member, 1)
    dearer = {**HOURLY, "rules": [{**HOURLY["rules"][0], "unit_price": 99900}]}
    client.put(f"/api/v1/rooms/{room['id']}/rate-card", json=dearer, headers=admin)  # not this booking's version
    page = client.get(f"/bookings/{made['id']}").text
    assert 'id="edit-price"' in page and "price-line.js" in page
    day = at(0, days=3).strftime("%Y-%m-%d")
    longer = {"start": f"{day}T10:00", "end": f"{day}T13:00", "room_id": room["id"]}
    r = client.get(f"/bookings/{made['id']}/price", params=longer)
    assert r.text == "After this change: CN¥300.00 (+CN¥100.00)", r.text
    shorter = {**longer, "end": f"{day}T11:00"}
    assert client.get(f"/bookings/{made['id']}/price", params=shorter).text == "After this change: CN¥100.00 (-CN¥100.00)"
    for bad in ({**longer, "end": "never"}, {**longer, "end": f"{day}T09:00"}, {**longer, "room_id": "x"}):
        assert client.get(f"/bookings/{made['id']}/price", params=bad).text == "", bad
    assert client.get("/bookings/999999/price", params=longer).text == ""
    client.cookies.clear()
    login(client, "member")  # someone else: sees no price
    assert client.get(f"/bookings/{made['id']}/price", params=longer).text == ""
