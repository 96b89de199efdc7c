"""The attendee picker in Chromium (issue 19 point 2): in the grid's booking dialog, typing
pinyin initials finds a person, a department adds everyone in and under it, and the booking
made has them as attendees (linked to their accounts); the same picker on /m/book; the
organisation page finds people as one types."""

from __future__ import annotations

import httpx
import pytest
from bookings_helpers import at
from fixtures import make_token, make_user, server_settings, sign_in_page

from tests.browser.test_booking_grid import api_room, drag

pytestmark = pytest.mark.browser
TIMEOUT_MS = 10_000

ORG = (
    "employee_no,name,email,mobile,department_path,title\n"
    "E1,张三丰,zsf@example.com,,总部/研发部/平台组,工程师\n"
    "E2,李雷,lilei@example.com,,总部/研发部,Lead\n"
    "E3,韩梅梅,hmm@example.com,,总部/市场部,\n"
)


@pytest.fixture
def site(make_server, browser):
    server = make_server()
    settings = server_settings(server)
    admin = make_token(settings, "admin")
    r = httpx.post(f"{server.url}/api/v1/directory/csv", files={"file": ("org.csv", ORG.encode(), "text/csv")},
                   headers=admin)  # fmt: skip
    assert r.status_code == 200 and r.json()["created"] == 3, r.text
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    yield server, settings, admin, ctx
    ctx.close()


def test_the_picker_finds_by_initials_and_adds_a_department(site):
    server, settings, admin, ctx = site
    api_room(server, make_token(settings, "room_admin"), name="Everest", capacity=8)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_page(page, server.url, make_user(settings, "member"))
    page.goto(f"{server.url}/rooms?date={at(0).date().isoformat()}")
    page.wait_for_function("document.body.dataset.live === '1'")
    drag(page, "Everest", at(10), at(10, 30))
    page.fill("#book-form input[name=title]", "Sprint review")
    search = page.locator("#book-form .pp-search")
    search.fill("zsf")
    option = page.locator("#book-form .pp-list li[data-kind=person]")
    option.first.wait_for()
    assert option.count() == 1 and "张三丰" in option.first.inner_text()
    option.first.click()
    area = page.locator("#book-form textarea[name=attendees]")
    assert area.input_value() == "张三丰, zsf@example.com"
    # a department by its pinyin initials: everyone in it and under it, nobody twice
    search.fill("yfb")
    dept = page.locator("#book-form .pp-list li[data-kind=department]")
    dept.first.wait_for()
    assert "总部/研发部" in dept.first.inner_text()
    dept.first.click()
    page.wait_for_function(
        "document.querySelector('#book-form textarea[name=attendees]').value.split('\\n').length === 2"
    )
    assert sorted(area.input_value().split("\n")) == ["张三丰, zsf@example.com", "李雷, lilei@example.com"]
    # Enter in the search box never submits the booking
    search.fill("hmm")
    page.locator("#book-form .pp-list li").first.wait_for()
    search.press("ArrowDown")
    search.press("Enter")
    assert area.input_value().endswith("韩梅梅, hmm@example.com")
    area.press("End")
    area.type("\nGuest Wang, wang@guest.example")  # a guest is still typed
    page.locator("#book-form [data-action=book]").click()
    page.locator("dialog#book").wait_for(state="hidden")
    [made] = httpx.get(f"{server.url}/api/v1/bookings", headers=admin).json()
    people = {a["name"]: a for a in made["attendees"]}
    assert set(people) == {"张三丰", "李雷", "韩梅梅", "Guest Wang"}
    assert people["张三丰"]["user_id"] is not None and people["Guest Wang"]["user_id"] is None
    assert not errors, errors


def test_the_phone_booking_page_and_the_organisation_page(site):
    server, settings, admin, ctx = site
    api_room(server, make_token(settings, "room_admin"), name="Everest", capacity=8)
    page = ctx.new_page()
    sign_in_page(page, server.url, make_user(settings, "admin"))
    page.goto(f"{server.url}/m/book")
    page.locator(".pp-search").fill("ll")
    page.locator(".pp-list li[data-kind=person]").first.click()
    assert page.locator("textarea[name=attendees]").input_value() == "李雷, lilei@example.com"
    page.goto(f"{server.url}/admin/directory")
    page.fill("input[name=q]", "韩")
    page.wait_for_function("document.querySelectorAll('#people-table tbody tr[data-person]').length === 1")
    assert page.locator("#people-table tbody tr[data-person]").get_attribute("data-person") == "韩梅梅"
    page.locator("nav.org-tree a", has_text="研发部").first.click()
    page.wait_for_function("document.querySelectorAll('#people-table tbody tr[data-person]').length === 2")
