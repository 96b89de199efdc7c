"""Call service from the meeting's page on a phone (issue 16.2), in Chromium: an attendee of
a meeting that is on taps a kind with a note, the call reaches the desk's API once with its
meeting, and the page shows who is on the way once the desk accepts, without a reload."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from fixtures import make_token, make_user, run_sync, server_settings, sign_in_page
from sqlalchemy import select

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000


def meeting_on_now(settings, attendee: str) -> tuple[int, int]:
    """(room id, booking id) of a meeting that started ten minutes ago, the attendee invited."""
    from booking_api.models import Attendee, Booking, Room
    from signage.db import Database
    from signage.models import User

    async def make() -> tuple[int, int]:
        db = Database(settings.db_url)
        try:
            async with db.begin() as s:
                user = await s.scalar(select(User).where(User.email == attendee))
                room = Room(name="Orchid 兰", capacity=8)
                s.add(room)
                await s.flush()
                start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=10)
                end = start + dt.timedelta(hours=1)
                b = Booking(room_id=room.id, title="Design review", organizer_id=None, start_at=start, end_at=end,
                            blocked_until=end, services=["tea"])  # fmt: skip
                s.add(b)
                await s.flush()
                s.add(Attendee(booking_id=b.id, user_id=user.id, name="Li", email=attendee))
                return room.id, b.id
        finally:
            await db.close()

    return run_sync(make())


def test_an_attendee_calls_service_from_the_phone_page(make_server, browser):
    server = make_server()
    base, settings = server.url, server_settings(server)
    attendee = make_user(settings, "member")
    desk = make_token(settings, "service")
    room_id, booking_id = meeting_on_now(settings, attendee)
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    ctx.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in_page(page, base, attendee)
        page.goto(f"{base}/m/meetings/{booking_id}")
        page.evaluate("window.__marker = 1")
        page.fill("form.meeting-call input[name=note]", "4 cups, 2 green tea")
        page.locator("form.meeting-call button[value=tea]").tap()
        page.locator(".meeting-called[data-status=open]").wait_for()

        calls = httpx.get(base + "/api/v1/service-calls?status=open", headers=desk).json()["service_calls"]
        mine = [c for c in calls if c["origin"] == "meeting"]
        assert [(c["room_id"], c["before_booking_id"], c["kind"], c["note"]) for c in mine] == [
            (room_id, booking_id, "tea", "4 cups, 2 green tea")
        ]
        r = httpx.post(f"{base}/api/v1/service-calls/{mine[0]['id']}/accept", headers=desk)
        assert r.status_code == 200, r.text
        page.locator(".meeting-called[data-status=accepted]").wait_for()  # live: the meetings topic
        assert r.json()["accepted_by"] in page.locator(".meeting-called").inner_text()
        assert page.evaluate("window.__marker") == 1, "the page was reloaded"
        assert errors == []
    finally:
        ctx.close()
