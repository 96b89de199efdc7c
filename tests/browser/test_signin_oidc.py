"""Signing in with the company's OpenID Connect provider in Chromium (issue 19 points 5–7):
the login page offers it, the provider's own page takes the password, PKCE and the ID
token's signature are checked, and the person lands signed in to the account with their
email; an unverified email, a forged token or an unknown person signs nobody in."""

from __future__ import annotations

import httpx
import pytest
from fixtures import make_token, make_user, server_settings, sign_in_page
from oidc_provider import Provider

pytestmark = pytest.mark.browser
TIMEOUT_MS = 10_000


@pytest.fixture
def idp():
    provider = Provider().start()
    yield provider
    provider.stop()


def configure(page, base: str, idp: Provider) -> None:
    page.goto(f"{base}/admin/directory/sources")
    form = page.locator("#source-oidc form").first
    form.locator("input[name=enabled]").check()
    form.locator("input[name=base_url]").fill(idp.issuer)
    form.locator("input[name=client_id]").fill(idp.client_id)
    form.locator("input[name=client_secret]").fill(idp.client_secret)
    form.locator("input[name=button]").fill("Example SSO")
    form.locator("button[type=submit]").click()
    page.locator("#source-oidc .notice").wait_for()
    page.locator("#source-oidc [data-action=test]").click()
    assert "issuer " + idp.issuer in page.locator("#source-oidc [data-test=ok]").inner_text()


def company_sign_in(ctx, base: str, user: str, password: str, next_path: str = "/rooms"):
    page = ctx.new_page()
    page.goto(f"{base}/login?next={next_path}")
    page.locator("[data-signin='/signin/oidc']").click()
    page.wait_for_url(lambda url: url.startswith("http://127.0.0.1") and "/authorize" in url)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def test_company_sign_in_with_pkce(make_server, browser, idp):
    server = make_server()
    settings = server_settings(server)
    admin_ctx = browser.new_context()
    admin_ctx.set_default_timeout(TIMEOUT_MS)
    admin = admin_ctx.new_page()
    sign_in_page(admin, server.url, make_user(settings, "admin"))
    configure(admin, server.url, idp)
    alice = make_user(settings, "member", "alice@example.com")
    idp.people["alice"] = ("alice-pw", {"email": "alice@example.com", "email_verified": True, "name": "Alice"})
    idp.people["eve"] = ("eve-pw", {"email": alice, "email_verified": False})
    idp.people["bob"] = ("bob-pw", {"email": "bob@nowhere.example", "email_verified": True})

    ctx = browser.new_context()
    ctx.set_default_timeout(TIMEOUT_MS)
    page = company_sign_in(ctx, server.url, "alice", "alice-pw")
    page.wait_for_url(f"{server.url}/rooms")
    me = page.evaluate("fetch('/api/v1/me').then(r => r.json())")
    assert me["email"] == "alice@example.com"
    assert idp.refused == []  # PKCE, the secret and the redirect URI were all as the provider wants
    ctx.close()

    for user, password in (("eve", "eve-pw"), ("bob", "bob-pw")):  # unverified email; nobody here
        ctx = browser.new_context()
        ctx.set_default_timeout(TIMEOUT_MS)
        page = company_sign_in(ctx, server.url, user, password)
        assert page.locator("p.error").is_visible()
        assert page.evaluate("fetch('/api/v1/me').then(r => r.status)") == 401
        ctx.close()

    idp.tamper = True  # an ID token not signed with the provider's key
    ctx = browser.new_context()
    ctx.set_default_timeout(TIMEOUT_MS)
    page = company_sign_in(ctx, server.url, "alice", "alice-pw")
    assert page.locator("p.error").is_visible()
    assert page.evaluate("fetch('/api/v1/me').then(r => r.status)") == 401
    ctx.close()
    admin_ctx.close()
    # a callback nobody started is refused, not a 500
    r = httpx.get(f"{server.url}/signin/oidc/callback?code=x&state=y", follow_redirects=False)
    assert r.status_code == 400
    assert make_token(settings, "member")  # the site still works
