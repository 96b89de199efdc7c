"""The audit page shows new entries live, without a reload."""

import httpx
import pytest
from fixtures import make_token, make_user, server_settings, sign_in_page


@pytest.mark.browser
def test_new_audit_entries_appear_live(make_server, browser):
    server = make_server()
    settings = server_settings(server)
    admin = make_user(settings, "admin")
    page = browser.new_context().new_page()
    try:
        sign_in_page(page, server.url, admin)  # waits for the signed-in page (a click did not)
        page.goto(server.url + "/admin/audit")
        page.evaluate("window.__marker = 1")
        assert page.locator("tbody tr", has_text="/api/v1/screens/claim").count() == 0
        headers = make_token(settings, "editor")
        r = httpx.post(server.url + "/api/v1/screens/claim", headers=headers, json={"code": "000000", "name": "x"})
        assert r.status_code == 400
        page.locator("tbody tr.failure", has_text="/api/v1/screens/claim").wait_for(timeout=10_000)
        assert page.evaluate("window.__marker") == 1
    finally:
        page.context.close()
