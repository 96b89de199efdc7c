"""Content pages that follow changes made elsewhere, without a reload: schedules and the
emergency override (an editor starts one from the API; another editor's page shows it)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from bookings_helpers import TZ
from fixtures import make_token, make_user, run_sync, server_settings, sign_in_page
from playwright.sync_api import expect

from player.models import ScreenGroup
from signage.db import Database

pytestmark = pytest.mark.browser
CLOCK = {"x": 0, "y": 0, "w": 100, "h": 100, "widget": "clock", "options": {}}


def add_group(settings, name: str) -> int:
    async def add():
        db = Database(settings.database_url)
        try:
            async with db.begin() as s:
                group = ScreenGroup(name=name)
                s.add(group)
                await s.flush()
                return group.id
        finally:
            await db.close()

    return run_sync(add())


def test_schedules_and_emergency_pages_follow_changes_made_elsewhere(make_server, browser):
    server = make_server()
    settings = server_settings(server)
    editor_email = make_user(settings, "editor")
    api = make_token(settings, "editor")
    r = httpx.post(f"{server.url}/api/v1/layouts", headers=api, json={"name": "Promo", "regions": [CLOCK]})
    layout = r.json()["id"]
    assert httpx.post(f"{server.url}/api/v1/layouts/{layout}/publish", headers=api).status_code == 201
    group = add_group(settings, "Lobbies")

    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(10_000)
    try:
        page = ctx.new_page()
        sign_in_page(page, server.url, editor_email)

        page.goto(server.url + "/schedules")
        page.evaluate("window.__marker = 1")
        today = dt.datetime.now(TZ).date().isoformat()  # the site's day
        entry = {"layout_id": layout, "group_id": group, "start_date": today, "priority": 7}
        r = httpx.post(f"{server.url}/api/v1/schedules", headers=api, json=entry)
        assert r.status_code == 201, r.text
        row = page.locator(f"tr[data-schedule-id='{r.json()['id']}']")
        expect(row).to_contain_text("Promo")
        expect(row).to_contain_text("Lobbies")
        assert httpx.delete(f"{server.url}/api/v1/schedules/{r.json()['id']}", headers=api).status_code == 204
        expect(row).to_have_count(0)
        assert page.evaluate("window.__marker") == 1, "the schedules page was reloaded"

        page.goto(server.url + "/emergency")
        page.evaluate("window.__marker = 2")
        expect(page.locator(".emergencies .none")).to_be_visible()
        r = httpx.post(f"{server.url}/api/v1/emergency", headers=api, json={"message": "Fire drill at 15:00"})
        assert r.status_code == 201, r.text
        card = page.locator(f".emergency-active[data-emergency-id='{r.json()['id']}']")
        expect(card).to_contain_text("Fire drill at 15:00")
        assert httpx.post(f"{server.url}/api/v1/emergency/{r.json()['id']}/clear", headers=api).status_code == 200
        expect(card).to_have_count(0)
        expect(page.locator(".emergencies .none")).to_be_visible()
        assert page.evaluate("window.__marker") == 2, "the emergency page was reloaded"
    finally:
        ctx.close()
