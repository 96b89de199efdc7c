"""SPEC B5 in Chromium: a 1280x800 door screen follows its room live, and attendees
check in by tapping it or by scanning its QR code with a phone.

The server runs with SIGNAGE_TEST_CLOCK, so the test moves the booking clock
(`POST /api/v1/clock`) instead of waiting for meetings to start and be released.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from bookings_helpers import at
from fixtures import PASSWORD, make_user, run_sync, server_settings
from sqlalchemy import select

from booking_api.doors.layouts import create_layout, door_display
from booking_api.models import Booking, CheckIn
from signage.db import Database
from signage.users.store import create_token

# The door screen in the browser does not depend on the database (tests/booking_api/doors/test_doors.py runs on both).
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

TIMEOUT_MS = 10_000
ORANGE, BLUE, WHITE = "rgb(243, 156, 18)", "rgb(30, 100, 200)", "rgb(255, 255, 255)"


class Site:
    def __init__(self, server):
        self.base = server.url
        self.settings = server_settings(server)
        self.email = make_user(self.settings, "admin")
        self.headers = {"Authorization": f"Bearer {run_sync(create_token(self.settings, self.email))}"}

    def post(self, path, body=None):
        r = httpx.post(self.base + path, json=body or {}, headers=self.headers)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def book(self, room_id, start, title):
        return self.post(
            "/api/v1/bookings",
            {
                "room_id": room_id,
                "title": title,
                "start": start.isoformat(),
                "end": (start + dt.timedelta(hours=1)).isoformat(),
            },
        )

    def go_to(self, when):
        now = dt.datetime.fromisoformat(self.post("/api/v1/clock", {"shift_seconds": 0})["now"])
        self.post("/api/v1/clock", {"shift_seconds": (when - now).total_seconds()})

    def door_layout(self, room_id) -> int:
        async def run():
            db = Database(self.settings.db_url)
            try:
                return await create_layout(db, "Orchid door", door_display(room_id), publish=True)
            finally:
                await db.close()

        return run_sync(run())


def shows(page, state, colour):
    widget = page.locator(f".w-room-status[data-state='{state}']")
    widget.wait_for()
    assert widget.evaluate("el => getComputedStyle(el).backgroundColor") == colour


def stored(site) -> dict[int, tuple[str, str | None]]:
    """Each booking's status and how it was checked in (None: it was not), from the database."""

    async def run():
        db = Database(site.settings.db_url)
        try:
            async with db.session() as s:
                found = await s.execute(
                    select(Booking.id, Booking.status, CheckIn.via).outerjoin(CheckIn, CheckIn.booking_id == Booking.id)
                )
                return {bid: (status, via) for bid, status, via in found}
        finally:
            await db.close()

    return run_sync(run())


def test_door_screen_live_check_in_walk_up_and_no_show(make_server, browser):
    site = Site(make_server(SIGNAGE_TEST_CLOCK="1"))
    room = site.post("/api/v1/rooms", {"name": "Orchid", "capacity": 8})
    first = site.book(room["id"], at(10, 0, 1), "Design review")
    second = site.book(room["id"], at(10, 0, 2), "Nobody comes")
    third = site.book(room["id"], at(10, 0, 3), "Phone check-in")
    layout_id = site.door_layout(room["id"])

    door_ctx = browser.new_context(viewport={"width": 1280, "height": 800}, has_touch=True)
    phone_ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    errors: list[str] = []
    try:
        for ctx in (door_ctx, phone_ctx):
            ctx.set_default_timeout(TIMEOUT_MS)
        door = door_ctx.new_page()
        door.on("pageerror", lambda exc: errors.append(str(exc)))
        door.goto(site.base + "/player")
        code = door.locator("#code")
        code.wait_for()
        door.wait_for_function("document.querySelector('#code').textContent.trim().length === 6")
        site.post(
            "/api/v1/screens/claim", {"code": code.inner_text().strip(), "name": "Orchid door", "layout_id": layout_id}
        )
        door.locator(".w-room-status").wait_for()

        # Before the first meeting: orange; check in by tap once the window opens.
        site.go_to(at(9, 58, 1))
        shows(door, "booked", ORANGE)
        door.locator("[data-action='check-in']").tap()
        door.locator(".w-rs-msg", has_text="Done.").wait_for()
        door.locator("[data-action='check-in']").wait_for(state="detached")

        # It starts: blue at 10:00 without any request from the screen.
        site.go_to(at(10, 0, 1) + dt.timedelta(seconds=1))
        shows(door, "in_progress", BLUE)
        assert "Design review" in door.locator(".w-rs-current").inner_text()
        assert door.locator(".w-rs-checked").count() == 1

        # The second day's meeting: orange, blue, then released as a no-show: white.
        # Time passing is an event: two seconds before the start, nobody asks anything more;
        # the server's room timer turns the screen blue at 10:00.
        site.go_to(at(10, 0, 2) - dt.timedelta(seconds=2))
        shows(door, "booked", ORANGE)
        shows(door, "in_progress", BLUE)
        site.go_to(at(10, 16, 2))
        shows(door, "free", WHITE)
        released = door.locator(f".w-meeting-list tr[data-booking-id='{second['id']}'][data-state='released']")
        released.wait_for()
        assert "no-show" in released.inner_text()

        # Walk-up: two taps, and the room is in use until the walk-up ends.
        door.locator("[data-action='walkup-ask']").tap()
        door.locator("[data-action='walkup']").tap()
        shows(door, "in_progress", BLUE)
        assert "Walk-up meeting" in door.locator(".w-rs-current").inner_text()
        # Ending asks first (issue 22 point 2): one tap only shows the question
        door.locator("[data-action='end-ask']").tap()
        assert door.locator("[data-action='end']").is_visible()
        assert door.locator(".w-rs-state").get_attribute("data-state") == "in_progress"
        door.locator("[data-action='end']").tap()
        door.locator(".w-rs-msg", has_text="Done").wait_for()
        site.go_to(at(10, 18, 2))  # a meeting lasts at least a minute
        door.locator(".w-room-status[data-state='ended']").wait_for()  # the day's meetings are over

        # Check-in by QR on a phone: sign in, confirm; the door screen sees it.
        site.go_to(at(9, 55, 3))
        qr = door.locator(".w-rs-qr img")
        qr.wait_for()
        link = qr.get_attribute("data-link")
        phone = phone_ctx.new_page()
        phone.goto(link)
        assert "/login" in phone.url
        phone.fill("input[name=email]", site.email)
        phone.fill("input[name=password]", PASSWORD)
        with phone.expect_navigation():
            phone.get_by_role("button", name="Sign in").tap()
        assert "Phone check-in" in phone.locator(".m-card").inner_text()
        button = phone.get_by_role("button", name="Check in")
        box = button.bounding_box()
        assert box["height"] >= 48 and box["width"] >= 300  # a large touch target on a phone
        with phone.expect_navigation():
            button.tap()
        phone.get_by_text("Checked in. Welcome!").wait_for()
        door.locator("[data-action='check-in']").wait_for(state="detached")

        # The organizer sees the no-show on their phone.
        phone.goto(site.base + "/m/bookings")
        assert "Released: nobody checked in to “Nobody comes”" in phone.locator(".m-notices").inner_text()
        got = stored(site)
        assert [got[b["id"]] for b in (first, second, third)] == [
            ("confirmed", "door"),
            ("no_show", None),
            ("confirmed", "qr"),
        ]
        assert errors == []
    finally:
        door_ctx.close()
        phone_ctx.close()


def test_my_bookings_on_a_phone_show_a_no_show_live(make_server, browser):
    site = Site(make_server(SIGNAGE_TEST_CLOCK="1"))
    room = site.post("/api/v1/rooms", {"name": "Cedar", "capacity": 4})
    site.book(room["id"], at(10, 0, 1), "Standup")
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        ctx.set_default_timeout(TIMEOUT_MS)
        phone = ctx.new_page()
        phone.goto(site.base + "/login?next=/m/bookings")
        phone.fill("input[name=email]", site.email)
        phone.fill("input[name=password]", PASSWORD)
        with phone.expect_navigation():
            phone.get_by_role("button", name="Sign in").tap()
        assert "Standup" in phone.locator(".m-list").inner_text()
        phone.wait_for_function("document.body.dataset.live === '1'")
        site.go_to(at(10, 16, 1))
        phone.locator(".m-notices", has_text="Released: nobody checked in to “Standup”").wait_for()
        assert phone.locator(".m-empty").count() == 1  # and it left the upcoming list
        tabs = phone.locator(".m-tabs a")
        assert all(tabs.nth(i).bounding_box()["height"] >= 48 for i in range(tabs.count()))
    finally:
        ctx.close()
