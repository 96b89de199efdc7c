"""The meeting's page in Chromium (issue 15, point 7): an attendee uploads two files with a
progress bar each, another attendee's open page shows them without a reload, the organizer
uploads the minutes after the meeting, and an outsider's view of it shows neither."""

from __future__ import annotations

import datetime as dt
import io
import os

import pytest
from fixtures import make_user, run_sync, server_settings, sign_in_page
from PIL import Image
from sqlalchemy import select

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000
SHOTS = os.environ.get("SIGNAGE_TEST_SCREENSHOTS")  # a folder: save screenshots there to look at


def agenda_pdf() -> bytes:
    buf = io.BytesIO()
    pages = [Image.new("RGB", (595, 842), color) for color in ("white", "navy")]
    pages[0].save(buf, "PDF", save_all=True, append_images=pages[1:])
    return buf.getvalue()


def ended_meeting(settings, organizer: str, attendees: list[str], ends_in: dt.timedelta = -dt.timedelta(hours=1)):
    """A meeting that ended an hour ago, or ends `ends_in` from now after an hour (the API
    books only what is still to come): its id."""
    from booking_api.models import Attendee, Booking, Room
    from signage.db import Database
    from signage.models import User

    async def make() -> int:
        db = Database(settings.db_url)
        try:
            async with db.begin() as s:
                ids = {u.email: u.id for u in (await s.scalars(select(User))).all()}
                room = Room(name="Jade 翡翠", capacity=8)
                s.add(room)
                await s.flush()
                end = dt.datetime.now(dt.UTC).replace(microsecond=0) + ends_in
                start = end - dt.timedelta(hours=1)
                b = Booking(
                    room_id=room.id,
                    title="Budget review",
                    organizer_id=ids[organizer],
                    start_at=start,
                    end_at=end,
                    blocked_until=end,
                )
                s.add(b)
                await s.flush()
                s.add_all(Attendee(booking_id=b.id, user_id=ids[e], name=e.split("@")[0], email=e) for e in attendees)
                return b.id
        finally:
            await db.close()

    return run_sync(make())


def test_materials_arrive_live_and_minutes_after_the_meeting(make_server, browser, tmp_path):
    server = make_server()
    base, settings = server.url, server_settings(server)
    organizer, first, second, outsider = (make_user(settings, "member") for _ in range(4))
    booking_id = ended_meeting(settings, organizer, [first, second])
    agenda, figures, minutes = tmp_path / "agenda.pdf", tmp_path / "figures.txt", tmp_path / "minutes.txt"
    agenda.write_bytes(agenda_pdf())
    figures.write_text("Q4 revenue: 12.3 M\n第四季度收入：1230 万\n")
    minutes.write_text("Decision: the budget is approved. 决议：预算通过。\n")
    url = f"{base}/bookings/{booking_id}"

    contexts, errors = [], []

    def open_as(email):
        ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
        ctx.set_default_timeout(TIMEOUT_MS)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in_page(page, base, email)
        page.goto(url)
        return page

    try:
        watcher = open_as(second)
        watcher.evaluate("window.__marker = 1")
        uploader = open_as(first)
        assert (
            uploader.locator("form.uploader[data-kind=minutes] input[type=file]").count() == 0
        )  # attendees: no minutes

        uploader.set_input_files("form.uploader[data-kind=before] input[type=file]", [str(agenda), str(figures)])
        progress = uploader.locator("form.uploader[data-kind=before] .progress-list li")
        progress.nth(1).wait_for()
        assert progress.locator("progress").count() == 2  # a bar each
        uploader.wait_for_function("document.querySelectorAll('.progress-list li.done').length === 2")
        assert progress.locator("progress").evaluate_all("els => els.map(e => e.value)") == [100, 100]

        # the other attendee's open page shows both, with the PDF's preview, without a reload
        watcher.locator(".files-before .file").nth(1).wait_for()
        assert sorted(watcher.locator(".files-before .file-name").all_inner_texts()) == ["agenda.pdf", "figures.txt"]
        watcher.locator(".files-before img[src$='/preview']").wait_for()
        assert watcher.evaluate("window.__marker") == 1, "the page was reloaded"

        # after the meeting, the organizer adds the minutes; they reach the attendees' pages live
        chair = open_as(organizer)
        chair.set_input_files("form.uploader[data-kind=minutes] input[type=file]", [str(minutes)])
        chair.wait_for_function("document.querySelectorAll('.progress-list li.done').length === 1")
        watcher.locator(".files-minutes .file-name", has_text="minutes.txt").wait_for()
        assert watcher.evaluate("window.__marker") == 1
        if SHOTS:
            watcher.screenshot(path=f"{SHOTS}/meeting.png", full_page=True)

        # an outsider sees the meeting's outline: neither the materials nor the minutes
        stranger = open_as(outsider)
        assert stranger.locator("h1").inner_text() == "Budget review"
        assert stranger.locator(".file").count() == 0 and stranger.locator("form.uploader").count() == 0
        assert "agenda.pdf" not in stranger.content() and "minutes.txt" not in stranger.content()
        href = watcher.locator(".files-before .file-name").first.get_attribute("href")
        assert stranger.request.get(base + href).status == 404
        assert watcher.request.get(base + href).status == 200
        assert errors == []
    finally:
        for ctx in contexts:
            ctx.close()


def test_the_desks_work_for_a_meeting_shows_on_its_page_live(make_server, browser):
    """Issue 15.2: a call from the room during the meeting appears on its open page, then its
    acceptance, without a reload."""
    import httpx
    from fixtures import make_token

    from booking_api.models import Booking

    server = make_server()
    base, settings = server.url, server_settings(server)
    organizer = make_user(settings, "member")
    booking_id = ended_meeting(settings, organizer, [], ends_in=dt.timedelta(minutes=30))

    async def room_of() -> int:
        from signage.db import Database

        db = Database(settings.db_url)
        try:
            async with db.session() as s:
                return (await s.get(Booking, booking_id)).room_id
        finally:
            await db.close()

    room_id = run_sync(room_of())
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        page = ctx.new_page()
        sign_in_page(page, base, organizer)
        page.goto(f"{base}/bookings/{booking_id}")
        page.evaluate("window.__marker = 1")
        with httpx.Client(base_url=base, timeout=30) as api:
            r = api.post(
                f"/api/v1/rooms/{room_id}/service-calls", json={"kind": "tea"}, headers=make_token(settings, "admin")
            )
            assert r.status_code == 201, r.text
            task = page.locator(f".desk-tasks li[data-task-id='{r.json()['id']}']")
            task.wait_for()
            assert task.inner_text() == "tea service: open"
            accepted = api.post(
                f"/api/v1/service-calls/{r.json()['id']}/accept", headers=make_token(settings, "service")
            )
            assert accepted.status_code == 200, accepted.text
        page.locator(".desk-tasks li.task-accepted").wait_for()
        assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    finally:
        ctx.close()
