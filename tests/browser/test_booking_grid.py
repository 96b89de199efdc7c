"""The availability grid in Chromium: drag to book, a conflict shows suggestions,
an approval on one page changes the colour on another without a reload."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from bookings_helpers import at, iso
from fixtures import make_token, make_user, run_sync, server_settings, sign_in_page
from playwright.sync_api import expect

from signage.users.store import create_token

pytestmark = pytest.mark.browser
TIMEOUT_MS = 10_000


def sign_in(ctx, base: str, email: str):
    page = ctx.new_page()
    sign_in_page(page, base, email)
    return page


def token_for(settings, email: str) -> dict:
    return {"Authorization": f"Bearer {run_sync(create_token(settings, email))}"}


def cell(page, room: str, when: dt.datetime):
    """The grid cell of `room` at `when` (its column's header carries the time)."""
    start = when.astimezone(dt.UTC).isoformat()
    index = page.evaluate(
        "s => [...document.querySelectorAll('#grid thead th')].findIndex(th => th.dataset.start === s)", start
    )
    assert index > 0, start
    return page.locator(f"#grid tr[data-room-name='{room}'] > :nth-child({index + 1})")


def drag(page, room: str, first: dt.datetime, last: dt.datetime) -> None:
    cell(page, room, first).hover()
    page.mouse.down()
    cell(page, room, last).hover()
    page.mouse.up()


@pytest.fixture
def site(make_server, browser):
    server = make_server()
    settings = server_settings(server)
    ctxs = []

    def context():
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        ctx.set_default_timeout(TIMEOUT_MS)
        ctxs.append(ctx)
        return ctx

    yield server, settings, context
    for ctx in ctxs:
        ctx.close()


def api_room(server, headers, **body) -> dict:
    r = httpx.post(f"{server.url}/api/v1/rooms", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_drag_to_book_then_a_conflict_offers_suggestions(site):
    server, settings, context = site
    admin = make_token(settings, "room_admin")
    api_room(server, admin, name="Everest", capacity=8, buffer_minutes=15)
    other = api_room(server, admin, name="Kilimanjaro", capacity=10)
    rival = make_token(settings, "member")
    page = sign_in(context(), server.url, make_user(settings, "member"))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    day = at(0).date().isoformat()
    page.goto(f"{server.url}/rooms?date={day}")
    page.wait_for_function("document.body.dataset.live === '1'")

    # 1. drag over 10:00-10:45 and book
    drag(page, "Everest", at(10), at(10, 45))
    page.fill("#book-form input[name=title]", "Design review")
    page.fill("#book-form input[name=services]", "tea, projector")
    page.fill("#book-form textarea[name=attendees]", "Li Lei, li@example.com, 13800000000, chair\nGuest")
    page.locator("#book-form [data-action=book]").click()
    page.locator("dialog#book").wait_for(state="hidden")
    for minute in (0, 15, 30, 45):
        expect(cell(page, "Everest", at(10, minute))).to_have_class("cell booked")
    assert cell(page, "Everest", at(11)).get_attribute("class") == "cell free"
    [made] = httpx.get(f"{server.url}/api/v1/bookings", headers=admin).json()
    assert made["title"] == "Design review" and dt.datetime.fromisoformat(made["start"]) == at(10)
    assert made["services"] == ["tea", "projector"]
    assert [(a["name"], a["email"], a["phone"], a["role"]) for a in made["attendees"]] == [
        ("Li Lei", "li@example.com", "13800000000", "chair"),
        ("Guest", "", "", "required"),
    ]
    assert dt.datetime.fromisoformat(made["end"]) == at(11)

    # 2. while the dialog is open someone else takes the slot: the answer shows suggestions
    drag(page, "Everest", at(14), at(14, 45))
    page.fill("#book-form input[name=title]", "Planning")
    taken = httpx.post(
        f"{server.url}/api/v1/bookings",
        json={"room_id": made["room_id"], "title": "Faster", "start": iso(at(14, 30)), "end": iso(at(15, 30))},
        headers=rival,
    )
    assert taken.status_code == 201
    page.locator("#book-form [data-action=book]").click()
    problem = page.locator("#book-form .problem")
    problem.wait_for()
    assert "Everest is already booked" in problem.inner_text()
    suggestions = page.locator("#book-form .suggestions")
    assert "15:45" in suggestions.locator(".next").inner_text()  # after the rival and the 15-minute buffer
    alt = suggestions.locator(f"li[data-room-id='{other['id']}']")
    assert "Kilimanjaro" in alt.inner_text()
    alt.get_by_role("button").click()
    page.locator("dialog#book").wait_for(state="hidden")
    expect(cell(page, "Kilimanjaro", at(14))).to_have_class("cell booked")
    mine = [b for b in httpx.get(f"{server.url}/api/v1/bookings", headers=admin).json() if b["title"] == "Planning"]
    assert [b["room_id"] for b in mine] == [other["id"]]
    # a booked slot opens its booking's page
    with page.expect_navigation():
        cell(page, "Everest", at(10, 15)).click()
    assert page.url.endswith(f"/bookings/{made['id']}") and "Design review" in page.locator("h1").inner_text()
    assert not errors, errors


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_approval_changes_the_colour_on_another_page_live(site):
    server, settings, context = site
    owner_email = make_user(settings, "room_admin")
    owner = token_for(settings, owner_email)
    room = api_room(server, owner, name="Boardroom", capacity=12, needs_approval=True)
    member_email = make_user(settings, "member")
    member = token_for(settings, member_email)
    r = httpx.post(
        f"{server.url}/api/v1/bookings",
        json={"room_id": room["id"], "title": "Budget", "start": iso(at(9)), "end": iso(at(10))},
        headers=member,
    )
    assert r.json()["status"] == "pending"
    grid = sign_in(context(), server.url, member_email)
    grid.goto(f"{server.url}/rooms?date={at(0).date().isoformat()}")
    grid.wait_for_function("document.body.dataset.live === '1'")
    slot = cell(grid, "Boardroom", at(9, 15))
    assert slot.get_attribute("class") == "cell booked pending"
    grid.evaluate("window.__marker = 1")

    mine = sign_in(context(), server.url, member_email)
    mine.goto(f"{server.url}/bookings")
    mine.wait_for_function("document.body.dataset.live === '1'")
    status = mine.locator(f"tr[data-booking-id='{r.json()['id']}'] td").last
    assert status.inner_text() == "Waiting for approval"

    inbox = sign_in(context(), server.url, owner_email)
    inbox.goto(f"{server.url}/approvals")
    row = inbox.locator(f"tr[data-booking-id='{r.json()['id']}']")
    assert "Budget" in row.inner_text()
    with inbox.expect_navigation():
        row.get_by_role("button", name="Approve").click()
    assert "Nothing is waiting for approval." in inbox.content()

    expect(slot).to_have_class("cell booked")
    assert grid.evaluate("window.__marker") == 1, "the grid page was reloaded"
    # the organizer's list follows too
    mine.wait_for_function(
        f"document.querySelector(\"tr[data-booking-id='{r.json()['id']}'] td:last-child\").textContent.trim() === 'Confirmed'"
    )


def test_the_grid_opens_at_the_earliest_opening_or_the_hour_before_now(site):
    server, settings, context = site
    admin = make_token(settings, "room_admin")
    api_room(server, admin, name="Early", capacity=4, opens_at="07:00", closes_at="22:00")
    api_room(server, admin, name="Late", capacity=4, opens_at="09:00", closes_at="22:00")
    page = sign_in(context(), server.url, make_user(settings, "member"))
    page.set_viewport_size({"width": 800, "height": 900})  # a laptop's few hours of a day

    def shown(start: str) -> dict:
        """The first column right of the (sticky) room names, whether the column that
        starts at `start` is in view, and whether the grid is scrolled to its end."""
        return page.evaluate(
            """start => {
              const grid = document.getElementById('grid');
              const edge = document.querySelector('#grid thead th.room').getBoundingClientRect().right;
              const right = grid.getBoundingClientRect().right;
              const heads = [...document.querySelectorAll('#grid thead th.time')];
              const box = heads.find(th => th.dataset.start === start).getBoundingClientRect();
              // a column counts as shown when no more than 3 px of it (borders, rounding) are hidden
              return {
                first: heads.find(th => th.getBoundingClientRect().left >= edge - 3).dataset.start,
                visible: box.left >= edge - 3 && box.right <= right + 3,
                end: grid.scrollLeft > 0 && grid.scrollLeft + grid.clientWidth >= grid.scrollWidth - 1,
              };
            }""",
            start,
        )

    def column(day: dt.date, hour: int) -> str:
        return dt.datetime.combine(day, dt.time(hour), at(0).tzinfo).astimezone(dt.UTC).isoformat()

    tomorrow = at(0).date()
    page.goto(f"{server.url}/rooms?date={tomorrow.isoformat()}")
    assert shown(column(tomorrow, 7))["first"] == column(tomorrow, 7)

    def first_column(now: dt.datetime) -> str:
        """Today's grid opens at the hour before now, or at the earliest opening (07:00); after
        the rooms close (22:00) at its last hour, 21:00 (failed in CI at 23:20 site time)."""
        today, hour_ago = now.date(), now - dt.timedelta(hours=1)
        return column(today, min(max(7, hour_ago.hour), 21) if hour_ago.date() == today else 7)

    before = first_column(dt.datetime.now(at(0).tzinfo))
    page.goto(f"{server.url}/rooms")  # today: from the hour before now (late in the day: its end)
    after = first_column(dt.datetime.now(at(0).tzinfo))  # another hour (or day) may have begun meanwhile
    seen = {want: shown(want) for want in {before, after}}
    assert any(s["visible"] and (s["first"] == want or s["end"]) for want, s in seen.items()), seen


def test_the_approvals_inbox_follows_new_and_cancelled_requests_live_and_keeps_a_typed_reason(site):
    server, settings, context = site
    owner_email = make_user(settings, "room_admin")
    owner = token_for(settings, owner_email)
    room = api_room(server, owner, name="Boardroom", capacity=12, needs_approval=True)
    member = token_for(settings, make_user(settings, "member"))

    def request(title: str, hour: int) -> int:
        body = {"room_id": room["id"], "title": title, "start": iso(at(hour)), "end": iso(at(hour + 1))}
        r = httpx.post(f"{server.url}/api/v1/bookings", json=body, headers=member)
        assert r.json()["status"] == "pending", r.text
        return r.json()["id"]

    first = request("Budget", 9)
    inbox = sign_in(context(), server.url, owner_email)
    inbox.goto(f"{server.url}/approvals")
    inbox.wait_for_function("document.body.dataset.live === '1'")
    inbox.evaluate("window.__marker = 1")
    inbox.fill(f"#reason-{first}", "Board members only")

    second = request("Offsite", 14)
    expect(inbox.locator(f"tr[data-booking-id='{second}']")).to_contain_text("Offsite")
    assert inbox.input_value(f"#reason-{first}") == "Board members only"
    assert httpx.delete(f"{server.url}/api/v1/bookings/{second}", headers=member).status_code == 200
    expect(inbox.locator(f"tr[data-booking-id='{second}']")).to_have_count(0)
    assert inbox.evaluate("window.__marker") == 1, "the inbox was reloaded"

    with inbox.expect_navigation():
        inbox.locator(f"tr[data-booking-id='{first}']").get_by_role("button", name="Reject").click()
    got = httpx.get(f"{server.url}/api/v1/bookings/{first}", headers=member).json()
    assert got["status"] == "rejected" and got["reason"] == "Board members only"


def test_manage_rooms_follows_rooms_added_and_deleted_elsewhere(site):
    server, settings, context = site
    admin_email = make_user(settings, "admin")
    admin = token_for(settings, admin_email)
    page = sign_in(context(), server.url, admin_email)
    page.goto(f"{server.url}/rooms/manage")
    page.wait_for_function("document.body.dataset.live === '1'")
    page.evaluate("window.__marker = 1")
    room = api_room(server, admin, name="Lotus", capacity=6)
    row = page.locator(f"#room-list tr[data-room-id='{room['id']}']")
    expect(row).to_contain_text("Lotus")
    assert httpx.delete(f"{server.url}/api/v1/rooms/{room['id']}", headers=admin).status_code == 204
    expect(row).to_have_count(0)
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    # deleting on the page: confirmed in a dialog, then gone
    other = api_room(server, admin, name="Jade", capacity=4)
    row = page.locator(f"#room-list tr[data-room-id='{other['id']}']")
    expect(row).to_contain_text("Jade")
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    assert httpx.get(f"{server.url}/api/v1/rooms/{other['id']}", headers=admin).status_code == 404
    assert page.evaluate("window.__marker") is None  # the delete itself was a form post: a new page


def test_the_dialog_shows_the_price_before_booking(site):
    """Issue 17 point 7: a room with a rate card shows the quote in the grid's dialog, and
    again for a series; a room without one shows no price."""
    server, settings, context = site
    admin = make_token(settings, "admin")
    paid = api_room(server, admin, name="Summit", capacity=8)
    api_room(server, admin, name="Valley", capacity=8)
    card = {"rules": [{"label": "Hourly", "unit_minutes": 30, "unit_price": 5000, "minimum": 0}]}
    assert httpx.put(f"{server.url}/api/v1/rooms/{paid['id']}/rate-card", json=card, headers=admin).status_code == 200
    page = sign_in(context(), server.url, make_user(settings, "member"))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/rooms?date={at(0).date().isoformat()}")
    page.wait_for_function("document.body.dataset.live === '1'")

    drag(page, "Summit", at(10), at(10, 45))  # an hour: 2 half hours at 50 yuan
    price = page.locator("#book-form [data-field=price]")
    expect(price).to_be_visible()
    expect(price).to_have_attribute("data-total", "10000")
    assert "100.00" in price.inner_text() and "2 × " in price.inner_text() and "Hourly" in price.inner_text()
    page.select_option("#book-form select[name=freq]", "WEEKLY")  # 4 times by default
    expect(price).to_have_attribute("data-total", "40000")
    assert "4 times" in price.inner_text()
    page.fill("#book-form input[name=title]", "Paid meeting")
    page.locator("#book-form [data-action=book]").click()
    page.locator("dialog#book").wait_for(state="hidden")

    drag(page, "Valley", at(14), at(14, 45))  # no rate card: no price
    page.wait_for_timeout(300)
    expect(page.locator("#book-form [data-field=price]")).to_be_hidden()

    # its page shows what it costs (the billing consumer charged it at confirmation)
    paid = [b for b in httpx.get(f"{server.url}/api/v1/bookings", headers=admin).json() if b["title"] == "Paid meeting"]
    page.goto(f"{server.url}/bookings/{paid[0]['id']}")
    expect(page.locator(".charges-now")).to_have_attribute("data-amount", "10000")
    page.fill("#booking-edit input[name=end]", at(11, 30).strftime("%Y-%m-%dT%H:%M"))  # half an hour more
    expect(page.locator("#edit-price")).to_contain_text("150.00")
    assert "+CN¥50.00" in page.locator("#edit-price").inner_text()
    # the phone's booking page says the price too, as the room, start and length change
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/m/book")
    page.locator("label.m-room", has_text="Summit").click()
    page.fill("input[name=start]", at(16).strftime("%Y-%m-%dT%H:%M"))
    page.select_option("select[name=minutes]", "90")
    line = page.locator("#m-price")
    expect(line).to_contain_text("150.00")  # 3 half hours
    assert "3 × " in line.inner_text() and "Hourly" in line.inner_text()
    page.locator("label.m-room", has_text="Valley").click()
    expect(line).to_be_hidden()
    assert not errors, errors
