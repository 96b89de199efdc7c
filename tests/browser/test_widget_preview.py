"""The widget preview in Chromium: pick a type, change its options, see it re-rendered live."""

from __future__ import annotations

import pytest
from fixtures import PASSWORD, make_user, server_settings

pytestmark = pytest.mark.browser


def test_pick_a_widget_and_see_options_live(make_server, browser):
    server = make_server()
    email = make_user(server_settings(server), "editor")
    ctx = browser.new_context()
    ctx.set_default_timeout(10_000)
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url + "/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.locator("form[action='/login'] button[type=submit]").click()
        page.goto(server.url + "/widgets/preview")
        page.locator("#rendered .w-clock-time").wait_for()
        page.wait_for_function(
            "/\\d{2}:\\d{2}:\\d{2}/.test(document.querySelector('#rendered .w-clock-time').textContent)"
        )

        with page.expect_navigation():
            page.select_option("select[name=widget]", "text")
        page.fill("textarea[name='o.text']", "<b>Welcome</b> **guests**")
        page.locator("#rendered .w-text strong", has_text="guests").wait_for()
        assert page.locator("#rendered .w-text-body").inner_text() == "<b>Welcome</b> guests"
        page.check("input[name='o.scroll']")
        page.locator("#rendered .w-ticker").wait_for()
        page.wait_for_function("document.querySelector('#rendered .w-text-body').getAnimations().length === 1")
        page.fill("input[name='o.speed']", "1")
        page.locator("#rendered [role=alert]", has_text="greater than or equal to 10").wait_for()
        assert not errors, errors
    finally:
        ctx.close()
