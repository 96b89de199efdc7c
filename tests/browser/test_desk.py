"""SPEC B9 in Chromium: a tap on a door screen's "Call service" reaches the service desk
live, with its alert, its chime and its spoken sentence playing; the desk accepts it and
the door screen says who is on the way; the desk calls a meeting in and a waiting-room
screen shows it large and speaks it."""

from __future__ import annotations

import pytest
from bookings_helpers import at
from fixtures import PASSWORD, make_user, run_sync

from booking_api.doors.layouts import create_layout
from browser.test_door_screen import TIMEOUT_MS, Site
from signage.db import Database

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


def waiting_room_layout(site) -> int:
    region = {"id": "wr", "x": 0, "y": 0, "w": 1280, "h": 720, "z": 0, "widget": "waiting_room", "options": {}}

    async def run():
        db = Database(site.settings.db_url)
        try:
            return await create_layout(db, "Waiting room", (1280, 720, [region]), publish=True)
        finally:
            await db.close()

    return run_sync(run())


def pair(site, page, layout_id: int, name: str) -> None:
    page.goto(site.base + "/player")
    page.wait_for_function("document.querySelector('#code').textContent.trim().length === 6")
    code = page.locator("#code").inner_text().strip()
    site.post("/api/v1/screens/claim", {"code": code, "name": name, "layout_id": layout_id})


def test_a_door_screen_call_reaches_the_desk_live(make_server, browser):
    site = Site(make_server(SIGNAGE_TEST_CLOCK="1"))
    room = site.post("/api/v1/rooms", {"name": "Orchid", "capacity": 8})
    site.post("/api/v1/rooms", {"name": "Lotus", "capacity": 4, "floor": "3F"})
    layout_id = site.door_layout(room["id"])
    staff = make_user(site.settings, "service")
    review = site.book(room["id"], at(15, 0, 1), "Product review")
    site.go_to(at(11, 0, 1))  # the review is hours away: nothing to announce by itself

    door_ctx = browser.new_context(viewport={"width": 1280, "height": 800}, has_touch=True)
    desk_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    lobby_ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    errors: list[str] = []
    try:
        for ctx in (door_ctx, desk_ctx, lobby_ctx):
            ctx.set_default_timeout(TIMEOUT_MS)
        door = door_ctx.new_page()
        door.on("pageerror", lambda exc: errors.append(str(exc)))
        pair(site, door, layout_id, "Orchid door")
        door.locator(".w-room-status[data-state='booked']").wait_for()
        lobby = lobby_ctx.new_page()
        lobby.on("pageerror", lambda exc: errors.append(str(exc)))
        pair(site, lobby, waiting_room_layout(site), "Lobby")
        lobby.locator(f".w-wr-list tr[data-booking-id='{review['id']}']").wait_for()
        assert lobby.locator(".w-waiting-room.w-wr-announcing").count() == 0

        desk = desk_ctx.new_page()
        desk.on("pageerror", lambda exc: errors.append(str(exc)))
        desk.goto(site.base + "/login?next=/desk")
        desk.fill("input[name=email]", staff)
        desk.fill("input[name=password]", PASSWORD)
        with desk.expect_navigation():
            desk.get_by_role("button", name="Sign in").click()
        assert desk.locator(".desk-tile").count() == 2
        assert desk.locator(f".desk-tile[data-room-id='{room['id']}']").get_attribute("data-state") == "booked"
        desk.locator("#desk-sound").click()  # browsers play sound only after a tap on the page
        desk.wait_for_function("document.getElementById('desk').dataset.liveService === '1'")
        assert desk.locator("#desk-alert").is_hidden()

        door.locator("[data-action='service-ask']").tap()
        door.locator(".w-rs-note").fill("Four cups")
        door.locator("[data-action='service'][data-kind='tea']").tap()

        alert = desk.locator("#desk-alert")
        alert.wait_for(state="visible")
        assert alert.inner_text() == "Orchid requests tea service"
        # the chime plays: its <audio> element's clock moves on
        desk.wait_for_function("document.getElementById('desk-chime').currentTime > 0.05")
        # then the sentence, spoken by the server (espeak-ng), plays in its own <audio> element
        desk.wait_for_function("document.getElementById('desk-voice').currentTime > 0.05")
        assert "/speech" in desk.locator("#desk-voice").get_attribute("src")
        task = desk.locator(".desk-task[data-kind='tea'][data-status='open']")
        task.wait_for()
        assert "Four cups" in task.inner_text()
        door.locator(".w-rs-called[data-status='open']").wait_for()

        task.get_by_role("button", name="Accept").click()
        desk.locator(".desk-task[data-kind='tea'][data-status='accepted']").wait_for()
        called = door.locator(".w-rs-called[data-status='accepted']")
        called.wait_for()
        assert "Service on the way" in called.inner_text()
        assert alert.is_hidden()

        # the desk calls the review in: the waiting room shows it large and speaks it
        desk.locator(f".desk-tile[data-room-id='{room['id']}'] .desk-callin button").click()
        lobby.locator(".w-waiting-room.w-wr-announcing .w-wr-announce").wait_for()
        assert "Attendees of Product review, please go to Orchid" in lobby.locator(".w-wr-announce").inner_text()
        assert "/player/api/speech" in lobby.locator(".w-wr-voice").get_attribute("src")
        lobby.wait_for_function("document.querySelector('.w-wr-voice').readyState >= 2")  # a WAV it can play

        # the filter: rooms in a meeting (none), then booked ones (Orchid)
        desk.locator(".desk-chip.state-in_progress").click()
        desk.locator(".desk-tiles .desk-empty").wait_for()
        desk.wait_for_url("**/desk?*state=in_progress*")  # htmx pushes the URL once the board settled
        desk.locator(".desk-chip.state-booked").click()
        desk.locator(f".desk-tile[data-room-id='{room['id']}']").wait_for()
        assert desk.locator(".desk-tile").count() == 1

        # a filter chosen while a live refresh is on its way replaces (aborts) the refresh:
        # htmx rejects that request's promise, and the page must not log it as an error
        held: list = []

        def hold_first(route):
            if held:
                route.continue_()
            else:
                held.append(route)  # the live refresh: kept waiting until the filter replaced it

        desk.route(lambda url: url.split("?")[0].endswith("/desk"), hold_first)
        site.book(room["id"], at(17, 0, 1), "Late sync")  # a booking change: the desk refreshes itself
        for _ in range(100):
            if held:
                break
            desk.wait_for_timeout(50)
        assert held, "the desk did not refresh itself after a booking changed"
        desk.locator(".desk-chip").first.click()  # All
        desk.locator(".desk-tile").nth(1).wait_for()
        desk.wait_for_timeout(200)
        try:
            held[0].continue_()
        except Exception:  # the page already dropped the aborted request
            pass
        assert errors == []
    finally:
        door_ctx.close()
        desk_ctx.close()
        lobby_ctx.close()
