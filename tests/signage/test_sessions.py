"""Sessions that end (issue 20, point 1): signing out, sign out everywhere, a new
password, a role change and deactivation end them, and a saved cookie replayed after
that is refused; API tokens expire, record their last use and can be revoked."""

import datetime as dt
import re

from fixtures import PASSWORD, add_user, csrf, csrf_of, in_app, login, request_statements, rows
from sqlalchemy import select, update

from signage.models import ApiToken, AuditEntry, UserSession


def sign_in(client, email: str, password: str = PASSWORD) -> dict:
    """Sign in as `email` in a fresh cookie jar; returns that browser's cookies."""
    client.cookies.clear()
    r = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return dict(client.cookies)


def as_browser(client, cookies: dict):
    client.cookies.clear()
    client.cookies.update(cookies)


def me(client, cookies: dict) -> int:
    as_browser(client, cookies)
    return client.get("/api/v1/me").status_code


def test_a_cookie_saved_before_signing_out_is_refused_after(client):
    email = login(client, "member")
    saved = dict(client.cookies)
    other = sign_in(client, email)  # a second browser of the same user
    as_browser(client, saved)
    assert client.post("/logout", data={"csrf_token": csrf(client)}, follow_redirects=False).status_code == 303
    assert me(client, saved) == 401
    assert me(client, other) == 200  # signing out ends this browser's session only
    assert len(rows(client, select(UserSession))) == 1


def test_sign_out_everywhere_ends_every_session_of_the_user(client):
    email = login(client, "editor")
    first = dict(client.cookies)
    second = sign_in(client, email)
    r = client.get("/account")
    assert r.status_code == 200 and r.text.count('data-session="') == 2
    r = client.post("/account/sessions/end", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert me(client, first) == 401 and me(client, second) == 401
    [entry] = rows(client, select(AuditEntry).where(AuditEntry.action == "auth.sign_out_everywhere"))
    assert entry.reason == "2 sessions"


def test_ending_one_other_session_from_the_account_page(client):
    email = login(client, "member")
    first = dict(client.cookies)
    second = sign_in(client, email)
    old = min(rows(client, select(UserSession)), key=lambda s: s.id)
    r = client.post(f"/account/sessions/{old.id}/end", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"
    assert me(client, first) == 401 and me(client, second) == 200
    assert client.post("/account/sessions/999/end", data={"csrf_token": csrf(client)}).status_code == 404


def test_role_change_deactivation_and_admin_sign_out_end_the_users_sessions(client):
    email = add_user(client, "member")
    member = sign_in(client, email)
    [user_id] = {s.user_id for s in rows(client, select(UserSession))}
    login(client, "admin")
    admin = dict(client.cookies)

    def admin_posts(path, **data):
        as_browser(client, admin)
        r = client.post(path, data={"csrf_token": csrf(client), **data}, follow_redirects=False)
        assert r.status_code == 303, r.text

    admin_posts(f"/admin/users/{user_id}", role="editor", active="on")
    assert me(client, member) == 401
    member = sign_in(client, email)
    admin_posts(f"/admin/users/{user_id}", role="editor", active="on")  # nothing changed: still signed in
    assert me(client, member) == 200
    admin_posts(f"/admin/users/{user_id}/sessions/end")
    assert me(client, member) == 401
    member = sign_in(client, email)
    admin_posts(f"/admin/users/{user_id}", role="editor")  # deactivated
    assert me(client, member) == 401
    assert me(client, admin) == 200


def test_a_new_password_ends_the_other_sessions_and_keeps_this_one(client):
    email = login(client, "member")
    other = dict(client.cookies)
    this = sign_in(client, email)
    r = client.post("/account/password", data={"csrf_token": csrf(client), "current": "nope", "password": "x" * 9})
    assert r.status_code == 400 and "The current password is wrong." in r.text
    r = client.post("/account/password", data={"csrf_token": csrf(client), "current": PASSWORD, "password": "short"})
    assert r.status_code == 400 and "at least 8 characters" in r.text
    r = client.post(
        "/account/password", data={"csrf_token": csrf(client), "current": PASSWORD, "password": "a new long one"}
    )
    assert r.status_code == 200 and "Your password is changed." in r.text
    now = dict(client.cookies)
    assert now != this and me(client, now) == 200
    assert me(client, other) == 401 and me(client, this) == 401
    sign_in(client, email, "a new long one")


def new_token(client, **form) -> str:
    r = client.post("/account/tokens", data={"csrf_token": csrf(client), "name": "oa", **form})
    assert r.status_code == 200, r.text
    return re.search(r'<code class="token">([^<]+)</code>', r.text).group(1)


def test_own_tokens_record_their_last_use_expire_and_are_revoked(client):
    login(client, "editor")
    cookies = dict(client.cookies)
    assert client.post("/account/tokens", data={"csrf_token": csrf(client), "days": "0"}).status_code == 400
    assert client.post("/account/tokens", data={"csrf_token": csrf(client), "days": "x"}).status_code == 400
    value = new_token(client, days="30")
    [token] = rows(client, select(ApiToken))
    assert token.last_used_at is None and token.expires_at > token.created_at + dt.timedelta(days=29)
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {value}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    [token] = rows(client, select(ApiToken))
    assert token.last_used_at is not None

    async def expire():
        async with client.app.state.db.begin() as s:
            await s.execute(update(ApiToken).values(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
        client.app.state.recent_users.clear()

    in_app(client, expire)
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    as_browser(client, cookies)
    assert "expired" in client.get("/account").text
    r = client.post(f"/account/tokens/{token.id}/revoke", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303 and rows(client, select(ApiToken)) == []
    value = new_token(client, days="")  # never expires
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {value}"}).status_code == 200
    [token] = rows(client, select(ApiToken))
    assert token.expires_at is None
    client.cookies.clear()
    login(client, "editor")  # someone else cannot revoke it
    assert client.post(f"/account/tokens/{token.id}/revoke", data={"csrf_token": csrf(client)}).status_code == 404


def test_the_session_check_adds_no_query_per_request(client):
    """The session row is read with its user, once per `RECENT_SECONDS` (the query the
    check made before sessions were rows): 50 requests, at most one query for them."""
    login(client, "member")
    assert client.get("/api/v1/me").status_code == 200

    def fifty():
        for _ in range(50):
            assert client.get("/api/v1/me").status_code == 200

    statements = request_statements(client, fifty)
    assert len(statements) <= 2, statements  # a cache refresh: the lookup, and maybe last_seen_at
