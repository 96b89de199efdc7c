"""SPEC "the first screen, end to end", in a real browser against a real server.

An editor signs in, uploads two images, builds and publishes a layout (an image
and a clock); a fresh player shows a pairing code, the editor pairs it, and the
screen shows the layout live. A second publish reaches the screen within a second,
over the event stream, without a reload.
"""

from __future__ import annotations

import hashlib
import re
import time

import pytest
from fixtures import PASSWORD, make_user, server_settings
from PIL import Image, ImageDraw

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
IMG_SRC = "((el) => el && (el.dataset.src || el.getAttribute('src')))(document.querySelector('#stage img.w-image'))"


def make_png(path, background, shape, fill) -> str:
    """An 800x600 PNG; its media URL (content-addressed: sha256 of the bytes)."""
    im = Image.new("RGB", (800, 600), background)
    draw = ImageDraw.Draw(im)
    if shape == "circle":
        draw.ellipse((250, 150, 550, 450), fill=fill)
    else:
        draw.rectangle((100, 100, 400, 500), fill=fill)
    im.save(path, format="PNG")
    return f"/media/files/{hashlib.sha256(path.read_bytes()).hexdigest()}.png"


def submit(page, form_selector: str, button_name: str) -> None:
    """Click a form's submit button and wait for the page it leads to."""
    with page.expect_navigation(wait_until="load"):
        page.locator(form_selector).get_by_role("button", name=button_name, exact=True).click()


def no_error_shown(page) -> None:
    errors = page.locator("[role=alert]")
    assert errors.count() == 0, f"{page.url}: {errors.all_inner_texts()}"


def upload(page, base: str, path) -> str:
    """Upload one file in /media; returns its media id, read from the grid."""
    page.goto(base + "/media")
    page.set_input_files("input[name=files]", str(path))
    page.locator("form.upload").get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_function("document.querySelectorAll('#uploads li.done, #uploads li.failed').length === 1")
    no_error_shown(page)
    item = page.locator(".media-grid li[data-media-id]").filter(has=page.locator(".name", has_text=path.name))
    item.wait_for()
    assert item.count() == 1, page.locator(".media-grid").inner_text()
    return item.get_attribute("data-media-id")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_first_screen_end_to_end(make_server, browser, tmp_path):
    server = make_server()
    base = server.url
    email = make_user(server_settings(server), "editor")

    editor_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    screen_ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page_errors: list[str] = []
    try:
        for ctx in (editor_ctx, screen_ctx):
            ctx.set_default_timeout(TIMEOUT_MS)
        a = editor_ctx.new_page()
        b = screen_ctx.new_page()
        for name, page in (("editor", a), ("screen", b)):
            page.on("pageerror", lambda exc, name=name: page_errors.append(f"{name}: {exc}"))

        # 2. The editor signs in.
        a.goto(base + "/login")
        a.fill("input[name=email]", email)
        a.fill("input[name=password]", PASSWORD)
        submit(a, "form[action='/login']", "Sign in")
        assert a.url == base + "/", a.url
        assert a.locator(".topbar .who").inner_text() == email

        # 3. Two different images into the library.
        red, blue = tmp_path / "red.png", tmp_path / "blue.png"
        red_url = make_png(red, (220, 20, 20), "circle", (255, 255, 255))
        blue_url = make_png(blue, (20, 40, 220), "rectangle", (255, 220, 0))
        assert red_url != blue_url
        red_id = upload(a, base, red)
        blue_id = upload(a, base, blue)
        assert red_id != blue_id
        assert a.locator(".media-grid li[data-media-id]").count() == 2
        thumbs = a.locator(".media-grid li[data-media-id] img").evaluate_all(
            "els => els.map(e => e.getAttribute('src'))"
        )
        assert sorted(thumbs) == sorted(u.replace(".png", ".thumb.webp") for u in (red_url, blue_url))

        # 4. A 1920x1080 layout: an image on the left, a clock on the right; publish.
        a.goto(base + "/layouts")
        a.fill("form[action='/layouts'] input[name=name]", "Lobby")
        a.select_option("form[action='/layouts'] select[name=size]", "1920x1080")
        submit(a, "form[action='/layouts']", "New layout")
        match = re.fullmatch(re.escape(base) + r"/layouts/(\d+)", a.url)
        assert match, a.url
        layout_id = match.group(1)
        assert "1920×1080" in a.locator("h1").inner_text()

        add_form = f"form[action='/layouts/{layout_id}/regions']"
        for widget, box in (("image", (0, 0, 1280, 1080)), ("clock", (1280, 0, 640, 1080))):
            a.select_option(f"{add_form} select[name=widget]", widget)
            for field, value in zip("xywh", box, strict=True):
                a.fill(f"{add_form} input[name={field}]", str(value))
            submit(a, add_form, "Add region")
            assert a.url == f"{base}/layouts/{layout_id}", a.url
            no_error_shown(a)
        assert a.locator("form.region[data-widget=image]").count() == 1
        assert a.locator("form.region[data-widget=clock]").count() == 1

        image_form = "form.region[data-widget=image]"
        publish_form = f"form[action='/layouts/{layout_id}/publish']"

        def choose_image(media_id: str) -> None:
            a.select_option(f"{image_form} select[name='o.media_id']", media_id)
            submit(a, image_form, "Save region")
            assert a.url == f"{base}/layouts/{layout_id}", a.url
            no_error_shown(a)
            assert a.locator(f"{image_form} select[name='o.media_id']").input_value() == media_id

        choose_image(red_id)
        submit(a, publish_form, "Publish")
        no_error_shown(a)
        assert a.locator("ul.versions li").first.inner_text().startswith("v1 ")

        # 5. A new screen asks to be paired.
        b.goto(base + "/player")
        code_el = b.locator("#code")
        code_el.wait_for(state="visible")
        b.wait_for_function("/^\\d{6}$/.test(document.getElementById('code').textContent)")
        code = code_el.inner_text()

        # 6. The editor pairs it and gives it the layout.
        a.goto(base + "/screens")
        claim_form = "form[action='/screens/claim']"
        a.fill(f"{claim_form} input[name=code]", code)
        a.fill(f"{claim_form} input[name=name]", "Lobby screen")
        a.select_option(f"{claim_form} select[name=layout_id]", label="Lobby")
        submit(a, claim_form, "Pair")
        assert a.url == base + "/screens", a.url
        no_error_shown(a)
        assert a.locator("tr[data-screen-id] td").first.inner_text() == "Lobby screen"

        # 7. Without a reload the screen shows the layout: the first image and a ticking clock.
        b.locator("#stage").wait_for(state="visible")
        b.wait_for_function(f"{IMG_SRC} === {red_url!r}")
        assert b.locator("#pairing").is_hidden()
        assert b.locator("#stage img.w-image").is_visible()
        clock = b.locator("#stage .w-clock-time")
        clock.wait_for(state="visible")
        b.wait_for_function("/\\d{2}:\\d{2}:\\d{2}/.test(document.querySelector('#stage .w-clock-time').textContent)")
        first_tick = clock.inner_text()
        b.wait_for_function(
            "t => document.querySelector('#stage .w-clock-time').textContent !== t", arg=first_tick, timeout=1_500
        )
        assert clock.inner_text() != first_tick

        # 8. Switch the image, publish; the screen follows within a second, without a reload.
        a.goto(f"{base}/layouts/{layout_id}")
        b.evaluate("window.__marker = 1")
        choose_image(blue_id)
        clicked = time.monotonic()
        submit(a, publish_form, "Publish")
        published = time.monotonic()
        no_error_shown(a)
        assert a.locator("ul.versions li").first.inner_text().startswith("v2 ")
        b.wait_for_function(f"{IMG_SRC} === {blue_url!r}", timeout=10_000)
        shown = time.monotonic()
        after_load, after_click = shown - published, shown - clicked
        print(
            f"publish → screen: {after_load * 1000:.0f} ms after the publish page loaded "
            f"({after_click * 1000:.0f} ms after the click)"
        )
        assert b.evaluate("window.__marker") == 1, "the player page was reloaded"
        assert b.locator("#stage").get_attribute("data-version") == "2"
        assert b.locator("#stage .w-clock-time").is_visible()
        assert not page_errors, page_errors
    except BaseException:
        print("--- server log (tail) ---")
        print(server.log.read_text(errors="replace")[-4000:])
        raise
    finally:
        editor_ctx.close()
        screen_ctx.close()
