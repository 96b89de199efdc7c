"""The media library in Chromium: several files at once with a progress bar each, a
file dropped onto the page, live progress of the transcode over SSE, and the
transcoded video playing (its currentTime advances)."""

from __future__ import annotations

import base64
import os

import pytest
from conftest import PASSWORD, make_user, server_settings
from images import png
from videos import make_video

pytestmark = pytest.mark.browser

TIMEOUT_MS = 20_000
SHOTS = os.environ.get("SIGNAGE_TEST_SCREENSHOTS")  # a folder: save screenshots there to look at


def sign_in(page, base, email):
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.locator("form[action='/login'] button[type=submit]").click()


def test_upload_with_progress_then_play_the_transcoded_video(make_server, browser, tmp_path):
    server = make_server()
    base = server.url
    email = make_user(server_settings(server), "editor")
    # A HEVC .mov (browsers cannot play it) of 4 s, and a picture.
    movie = make_video(
        tmp_path / "promo.mov",
        ["-c:v", "libx265", "-tag:v", "hvc1", "-x265-params", "log-level=error", "-c:a", "aac"],
        seconds=4,
        size="320x240",
    )
    picture = tmp_path / "poster.png"
    picture.write_bytes(png(800, 600, "orange"))

    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(page, base, email)
        page.goto(base + "/media")
        page.evaluate("window.__marker = 1")
        page.set_input_files("input[name=files]", [str(movie), str(picture)])
        page.locator("form.upload button[type=submit]").click()

        items = page.locator("#uploads li.upload-item")
        items.nth(1).wait_for()
        assert items.count() == 2
        page.wait_for_function("document.querySelectorAll('#uploads li.done').length === 2")
        names = page.locator("#uploads li .name").all_inner_texts()
        assert sorted(names) == ["poster.png", "promo.mov"]
        bars = page.locator("#uploads li progress").evaluate_all("els => els.map(e => e.value)")
        assert bars == [100, 100]
        statuses = page.locator("#uploads li .upload-status").all_inner_texts()
        assert "Uploaded; processing…" in statuses and "Uploaded" in statuses
        assert page.locator("[role=alert]").count() == 0

        # The grid updates by itself: the picture at once, the video once transcoded (SSE).
        video_item = page.locator(".media-grid li[data-kind=video]")
        video_item.wait_for()
        page.locator(".media-grid li[data-kind=video][data-status=ready]").wait_for(timeout=60_000)
        assert page.locator(".media-grid li[data-kind=image][data-status=ready]").count() == 1
        assert page.evaluate("window.__marker") == 1, "the library page was reloaded"
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/library.png", full_page=True)

        # The detail page plays the transcoded MP4.
        with page.expect_navigation():
            page.locator(".media-grid li[data-kind=video] a.name").click()
        video = page.locator(".media-view video")
        src = video.get_attribute("src")
        assert src.endswith(".play.mp4"), src
        assert video.get_attribute("poster").endswith(".poster.jpg")
        page.evaluate("document.querySelector('.media-view video').play()")
        page.wait_for_function("document.querySelector('.media-view video').currentTime > 0.5", timeout=15_000)
        assert page.evaluate("document.querySelector('.media-view video').videoWidth") == 320
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/detail.png", full_page=True)
            page.goto(base + "/widgets/preview?widget=weather")
            page.screenshot(path=f"{SHOTS}/weather.png")
            page.goto(base + "/widgets/preview?widget=qrcode")
            page.screenshot(path=f"{SHOTS}/qrcode.png")
        assert not errors, errors
    except BaseException:
        print(server.log.read_text(errors="replace")[-3000:])
        raise
    finally:
        ctx.close()


def test_a_file_dropped_on_the_page_is_uploaded_and_a_bad_one_explained(make_server, browser):
    server = make_server(SIGNAGE_MAX_UPLOAD_MB="1")
    base = server.url
    email = make_user(server_settings(server), "editor")
    ctx = browser.new_context()
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        page = ctx.new_page()
        sign_in(page, base, email)
        page.goto(base + "/media")
        drop = """([name, data]) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name));
            document.body.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }"""
        page.evaluate(drop, ["dropped.png", base64.b64encode(png(300, 200, "purple")).decode()])
        page.locator(".media-grid li[data-kind=image] .name", has_text="dropped.png").wait_for()
        page.evaluate(drop, ["notes.png", base64.b64encode(b"just some text").decode()])
        alert = page.locator("#uploads li[role=alert]")
        alert.wait_for()
        assert "This file is not an image or a video." in alert.inner_text()
        page.evaluate(drop, ["huge.png", base64.b64encode(b"\x89PNG" + bytes(1_100_000)).decode()])
        page.locator("#uploads li[role=alert]", has_text="The upload is larger than 1 MB.").wait_for()
        assert page.locator(".media-grid li[data-media-id]").count() == 1
    finally:
        ctx.close()
