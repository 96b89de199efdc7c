"""The Content-Security-Policy in Chromium (issue 20, point 3): the watch that fails every
browser test on a violation hears one, and pages whose behaviour was inline script (a
confirm before deleting, the account page) work without it."""

import httpx
import pytest
from conftest import make_token, make_user, server_settings, sign_in_page

from signage.security import security_headers
from signage.settings import Settings


@pytest.mark.browser
def test_the_watch_hears_a_violation(browser):
    page = browser.new_page()
    try:
        headers = {k.decode(): v.decode() for k, v in security_headers(Settings())}
        page.route(
            "http://csp.test/",
            lambda route: route.fulfill(
                body="<p>x</p><script>document.title = 'ran'</script>", headers=headers, content_type="text/html"
            ),
        )
        page.goto("http://csp.test/")
        page.wait_for_function("true")
        assert page.title() != "ran"
        assert any("script-src" in v for v in browser.violations), browser.violations
    finally:
        browser.violations.clear()
        page.close()


@pytest.mark.browser
def test_confirm_and_account_pages_work_under_the_policy(make_server, browser):
    server = make_server()
    settings = server_settings(server)
    r = httpx.post(
        server.url + "/api/v1/rooms", headers=make_token(settings, "room_admin"), json={"name": "Lotus", "capacity": 6}
    )
    assert r.status_code == 201, r.text
    page = browser.new_context().new_page()
    try:
        sign_in_page(page, server.url, make_user(settings, "admin"))
        page.goto(server.url + "/rooms/manage")
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.locator("form[action$='/delete'] button").first.click()
        page.wait_for_timeout(300)  # a dismissed confirm sends nothing: the room stays
        page.goto(server.url + "/rooms/manage")
        assert page.locator("text=Lotus").count() >= 1
        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_navigation():
            page.locator("form[action$='/delete'] button").first.click()
        assert page.locator("td", has_text="Lotus").count() == 0
        page.goto(server.url + "/account")
        page.fill("form[action='/account/tokens'] input[name=name]", "oa")
        with page.expect_navigation():
            page.locator("form[action='/account/tokens'] button").click()
        token = page.locator("code.token").inner_text()
        assert httpx.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert page.locator("#sessions tbody tr").count() == 1
    finally:
        page.context.close()
