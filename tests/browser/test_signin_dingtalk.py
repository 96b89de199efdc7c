"""DingTalk in-app sign-in in Chromium (issue 19 points 5–6): a phone page opened inside
DingTalk (its user agent) goes to /signin/dingtalk, whose script asks the DingTalk JS API for
an auth code (the JS API is served here by a stand-in with the documented
`dd.runtime.permission.requestAuthCode({corpId, onSuccess, onFail})`), posts it, and the
person lands on the page signed in; outside DingTalk the page says what to do instead."""

from __future__ import annotations

import httpx
import pytest
from directory_fakes import DINGTALK, Contacts
from fixtures import run_sync, server_settings

from signage.signin.inapp import DINGTALK_JSAPI

pytestmark = pytest.mark.browser
TIMEOUT_MS = 10_000
DINGTALK_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AliApp(DingTalk/7.6.0) com.laiwang.DingTalk/1"
FAKE_DD = """
window.dd = {
  ready(cb) { setTimeout(cb, 10); },
  error(cb) {},
  runtime: { permission: { requestAuthCode(options) {
    if (options.corpId !== "ding-corp-1") { options.onFail({errorMessage: "corpId"}); return; }
    setTimeout(() => options.onSuccess({code: "code-from-dingtalk"}), 10);
  } } },
};
"""


def test_a_phone_page_inside_dingtalk_signs_in_by_itself(make_server, browser):
    fake = Contacts().start()
    try:
        server = make_server()
        settings = server_settings(server)
        _configure(settings, fake)
        fake.codes["code-from-dingtalk"] = "dt-zhang"
        ctx = browser.new_context(user_agent=DINGTALK_UA, viewport={"width": 390, "height": 800})
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.route(DINGTALK_JSAPI, lambda route: route.fulfill(body=FAKE_DD, content_type="application/javascript"))
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server.url}/m/book")
        page.wait_for_url(f"{server.url}/m/book")
        me = page.evaluate("fetch('/api/v1/me').then(r => r.json())")
        assert me["name"] == "张伟"
        assert not errors, errors
        ctx.close()

        # outside DingTalk (no JS API): the page says so and offers the password
        ctx = browser.new_context()
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.route(DINGTALK_JSAPI, lambda route: route.fulfill(body="", content_type="application/javascript"))
        page = ctx.new_page()
        page.goto(f"{server.url}/signin/dingtalk?next=/m/book")
        status = page.locator("#dingtalk-signin [role=status]")
        assert "DingTalk" in status.inner_text() and "password" in status.inner_text()
        ctx.close()
    finally:
        fake.stop()


def _configure(settings, fake) -> None:
    """The DingTalk source on, with sign-in, and synced (tests/signage/directory/test_directory_apps.py does it
    through the sources page)."""
    import json

    from signage.db import Database
    from signage.directory import sync
    from signage.directory.models import Source
    from signage.directory.sources import dingtalk
    from signage.notify.channels.base import Conf

    async def go():
        db = Database(settings.db_url)
        try:
            values = {"app_key": DINGTALK["appkey"], "app_secret": DINGTALK["appsecret"], "corp_id": "ding-corp-1"}
            async with db.begin() as s:
                s.add(Source(name="dingtalk", enabled=True, signin=True, base_url=fake.url, config=json.dumps(values)))
            async with httpx.AsyncClient() as http:
                snapshot = await dingtalk.snapshot(http, Conf(fake.url, values))
            await sync.run(db, "dingtalk", snapshot, by="test")
        finally:
            await db.close()

    run_sync(go())
