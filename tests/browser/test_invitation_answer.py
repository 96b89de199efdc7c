"""Issue 14 point 4 in Chromium: a guest opens the Accept link of the invitation an SMTP
server (aiosmtpd) received, presses Accept, and the organizer's open booking page shows
the answer without a reload."""

from __future__ import annotations

import re

import httpx
import pytest
from bookings_helpers import at, iso
from fixtures import make_user, run_sync, server_settings, sign_in_page, wait_for
from mail_helpers import SmtpServer
from playwright.sync_api import expect

from signage.users.store import create_token

pytestmark = pytest.mark.browser
SITE_URL = "http://rooms.test"  # what the mails say; the test opens the same path on its server


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def test_a_guest_accepts_from_the_mail_and_the_organizer_sees_it_live(make_server, browser, smtp):
    server = make_server(
        SIGNAGE_SMTP_URL=smtp.url, SIGNAGE_MAIL_FROM="Rooms <rooms@example.com>", SIGNAGE_PUBLIC_URL=SITE_URL
    )
    settings = server_settings(server)
    organizer = make_user(settings, "member")
    api = {"Authorization": f"Bearer {run_sync(create_token(settings, organizer))}"}
    admin = {"Authorization": f"Bearer {run_sync(create_token(settings, make_user(settings, 'admin')))}"}
    r = httpx.post(f"{server.url}/api/v1/rooms", json={"name": "Orchid", "capacity": 8}, headers=admin)
    assert r.status_code == 201, r.text
    guest = {"name": "Li Lei", "email": "li@example.com", "role": "required"}
    body = {"room_id": r.json()["id"], "title": "Budget", "start": iso(at(9)), "end": iso(at(10)), "attendees": [guest]}
    r = httpx.post(f"{server.url}/api/v1/bookings", json=body, headers=api)
    assert r.status_code == 201, r.text
    booking = r.json()["id"]
    wait_for(lambda: smtp.inbox.parsed("li@example.com"))
    (mail,) = smtp.inbox.parsed("li@example.com")
    html = next(p for p in mail.walk() if p.get_content_type() == "text/html").get_content()
    link = re.search(r'<a class="accept" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert link.startswith(SITE_URL + "/invitations/answer/")

    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    guest_ctx = browser.new_context(viewport={"width": 390, "height": 844})  # a phone, nobody signed in
    ctx.set_default_timeout(10_000)
    guest_ctx.set_default_timeout(10_000)
    try:
        page = ctx.new_page()
        sign_in_page(page, server.url, organizer)
        page.goto(f"{server.url}/bookings/{booking}")
        # the meeting's page (booking_api.meetings): the attendee's row and its answer
        answer = page.locator("table.attendees tr", has_text="li@example.com").locator(".answer")
        expect(answer).to_have_text("no answer")
        page.evaluate("window.__marker = 1")

        phone = guest_ctx.new_page()
        phone.goto(server.url + link.removeprefix(SITE_URL))
        expect(phone.locator("h1")).to_have_text("Budget")
        phone.get_by_role("button", name="Accept").click()
        expect(phone.locator(".notice")).to_be_visible()
        expect(phone.locator(".answer strong")).to_have_text("Accepted")

        expect(answer).to_have_text("accepted")
        assert page.evaluate("window.__marker") == 1, "the booking page was reloaded"

        forged = phone.goto(server.url + link.removeprefix(SITE_URL).replace("?", "x?"))
        assert forged.status == 400
        expect(phone.locator(".error")).to_contain_text("This link is not valid")
    finally:
        ctx.close()
        guest_ctx.close()


def test_the_bell_counts_a_new_notice_without_a_reload(make_server, browser):
    """Issue 14 point 7: the bell follows the user's own notices live (email off here)."""
    server = make_server()
    settings = server_settings(server)
    member = make_user(settings, "member")
    admin = {"Authorization": f"Bearer {run_sync(create_token(settings, make_user(settings, 'admin')))}"}
    r = httpx.post(f"{server.url}/api/v1/rooms", json={"name": "Orchid", "capacity": 8}, headers=admin)
    room = r.json()["id"]
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(10_000)
    try:
        page = ctx.new_page()
        sign_in_page(page, server.url, member)
        page.goto(server.url + "/bookings")
        expect(page.locator(".topbar .bell")).to_be_visible()
        expect(page.locator(".bell-count")).to_have_count(0)
        page.evaluate("window.__marker = 1")
        body = {"room_id": room, "title": "Budget", "start": iso(at(9)), "end": iso(at(10))}
        body["attendees"] = [{"name": "Me", "email": member}]
        assert httpx.post(f"{server.url}/api/v1/bookings", json=body, headers=admin).status_code == 201
        expect(page.locator(".bell-count")).to_have_text("1")
        assert page.evaluate("window.__marker") == 1, "the page was reloaded"
        page.locator(".topbar .bell").click()
        expect(page.locator(".notices li.unread a")).to_contain_text("Invitation: Budget")
        page.locator(".notices li.unread a").click()
        expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
        expect(page.locator(".bell-count")).to_have_count(0)
    finally:
        ctx.close()
