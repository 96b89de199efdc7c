"""Issue 18.9 in Chromium: service staff press "Open door" on a room's tile of the service
desk; the fake ESPHome relay (a real HTTP server in the test) is called and the tile shows
the controller's answer; a room without doors has no button."""

from __future__ import annotations

import pytest
from access_helpers import Controllers
from fixtures import PASSWORD, make_user, wait_for

from browser.test_door_screen import TIMEOUT_MS, Site

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


@pytest.fixture
def controllers():
    c = Controllers()
    yield c
    c.stop()


def test_the_desk_opens_a_rooms_door_and_shows_the_answer(make_server, browser, controllers):
    site = Site(make_server(SIGNAGE_WEBHOOK_ALLOW_PRIVATE="1"))
    room = site.post("/api/v1/rooms", {"name": "Orchid", "capacity": 8})
    bare = site.post("/api/v1/rooms", {"name": "Lotus", "capacity": 4})
    site.post(f"/api/v1/rooms/{room['id']}/doors", {"name": "Front", "kind": "relay", "url": controllers.url,
                                                     "target": "front"})  # fmt: skip
    staff = make_user(site.settings, "service")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    try:
        ctx.set_default_timeout(TIMEOUT_MS)
        desk = ctx.new_page()
        desk.on("pageerror", lambda exc: errors.append(str(exc)))
        desk.goto(site.base + "/login?next=/desk")
        desk.fill("input[name=email]", staff)
        desk.fill("input[name=password]", PASSWORD)
        with desk.expect_navigation():
            desk.get_by_role("button", name="Sign in").click()
        tile = desk.locator(f".desk-tile[data-room-id='{room['id']}']")
        assert desk.locator(f".desk-tile[data-room-id='{bare['id']}'] .desk-door").count() == 0
        tile.get_by_role("button", name="Open door").click()
        answer = desk.locator(f".desk-tile[data-room-id='{room['id']}'] .desk-door-answers li.ok")
        answer.wait_for()
        assert answer.inner_text().startswith("Front: opened") and "HTTP 200" in answer.inner_text()
        wait_for(lambda: ("POST", "/switch/front/turn_on", b"") in controllers.calls)
        assert desk.url.endswith("/desk")  # answered in place (htmx), the page stayed
        assert errors == []
    finally:
        ctx.close()
