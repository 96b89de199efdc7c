"""The webhooks page in Chromium: add a subscription, see its secret once, send a test
message, watch its delivery turn "Sent" without a reload, send it again."""

import pytest
from fixtures import make_user, server_settings, sign_in_page, wait_for
from webhooks_helpers import Receiver, verifies


@pytest.mark.browser
def test_add_a_subscription_and_follow_its_deliveries(make_server, browser):
    receiver = Receiver()
    server = make_server(SIGNAGE_WEBHOOK_ALLOW_PRIVATE="1")
    admin = make_user(server_settings(server), "admin")
    page = browser.new_context().new_page()
    try:
        sign_in_page(page, server.url, admin)
        page.goto(server.url + "/admin/webhooks")
        page.fill("#add-webhook input[name=url]", receiver.url)
        page.fill("#add-webhook input[name=events]", "booking.* room.updated")
        with page.expect_navigation():
            page.locator("#add-webhook button[type=submit]").click()
        secret = page.locator("#secret code").inner_text().strip()
        assert secret.startswith("whsec_")
        with page.expect_navigation():
            page.get_by_role("button", name="Send a test message").click()
        assert page.locator("#secret").count() == 0  # shown once
        page.evaluate("window.__marker = 1")
        page.locator("#deliveries tr.sent", has_text="webhook.test").wait_for(timeout=15_000)
        assert page.evaluate("window.__marker") == 1  # updated in place
        assert "200" in page.locator("#deliveries tr.sent").inner_text()
        with page.expect_navigation():
            page.get_by_role("button", name="Send again").click()
        wait_for(lambda: len(receiver.answered(200)) == 2)
        first, again = receiver.requests
        assert first[0] == again[0] and verifies(secret, first) and verifies(secret, again)
    finally:
        page.context.close()
        receiver.stop()
