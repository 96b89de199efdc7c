"""The IT admin manages users, roles and API tokens in the browser's pages."""

import re

import pytest
from fixtures import csrf, login, rows
from sqlalchemy import select

from signage.models import ApiToken, AuditEntry, User

pytestmark = pytest.mark.one_database  # not about the database: SQLite only (tests/conftest.py)


def user(client, email):
    [u] = rows(client, select(User).where(User.email == email))
    return u


def test_admin_adds_a_user_who_can_sign_in(client):
    login(client, "admin")
    r = client.post(
        "/admin/users",
        data={
            "email": "New@Example.com",
            "name": "Li Lei",
            "role": "room_admin",
            "password": "long enough",
            "csrf_token": csrf(client),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    u = user(client, "new@example.com")
    assert (u.name, u.role, u.is_active) == ("Li Lei", "room_admin", True)
    page = client.get("/admin/users").text
    assert "new@example.com" in page and "Room admin" in page
    client.cookies.clear()
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text).group(1)
    r = client.post(
        "/login",
        data={"email": "new@example.com", "password": "long enough", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_bad_new_users_are_refused_with_a_message(client):
    email = login(client, "admin")
    cases = [
        ({"email": "not-an-email", "role": "member", "password": "long enough"}, "Enter a valid email address."),
        ({"email": "a@example.com", "role": "member", "password": "short"}, "at least 8 characters"),
        ({"email": "a@example.com", "role": "king", "password": "long enough"}, "Unknown role."),
        ({"email": email, "role": "member", "password": "long enough"}, "exists already"),
    ]
    for data, message in cases:
        r = client.post("/admin/users", data={**data, "csrf_token": csrf(client)})
        assert r.status_code == 400 and message in r.text, data
    assert len(rows(client, select(User))) == 1
    failures = rows(
        client, select(AuditEntry).where(AuditEntry.action == "user.create", AuditEntry.result == "failure")
    )
    assert len(failures) == 4


def test_role_change_and_deactivation_take_effect(client):
    editor = login(client, "editor")
    editor_jar = dict(client.cookies)
    assert client.get("/layouts").status_code == 200
    client.cookies.clear()
    login(client, "admin")
    admin_jar = dict(client.cookies)
    uid = user(client, editor).id
    r = client.post(
        f"/admin/users/{uid}",
        data={"role": "member", "active": "on", "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and user(client, editor).role == "member"
    client.cookies = editor_jar  # a role change ends every session of the user (signage.sessions)
    r = client.get("/layouts", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    client.cookies.clear()
    login(client, "member", editor)  # signed in again: the new role
    editor_jar = dict(client.cookies)
    assert client.get("/layouts").status_code == 403
    client.cookies = admin_jar
    client.post(f"/admin/users/{uid}", data={"role": "member", "csrf_token": csrf(client)})
    assert user(client, editor).is_active is False
    client.cookies = editor_jar
    assert client.get("/", follow_redirects=False).status_code == 303


def test_admin_cannot_lock_themself_out(client):
    email = login(client, "admin")
    uid = user(client, email).id
    r = client.post(f"/admin/users/{uid}", data={"role": "member", "active": "on", "csrf_token": csrf(client)})
    assert r.status_code == 400 and "your own admin role" in r.text
    assert user(client, email).role == "admin"


def test_tokens_are_issued_once_and_revoked(client):
    login(client, "admin")
    client.post(
        "/admin/users",
        data={"email": "oa@example.com", "role": "member", "password": "long enough", "csrf_token": csrf(client)},
    )
    uid = user(client, "oa@example.com").id
    page = client.post(f"/admin/users/{uid}/tokens", data={"name": "OA", "csrf_token": csrf(client)}).text
    token = re.search(r'<code class="token">(sgn_[^<]+)</code>', page).group(1)
    assert token not in client.get("/admin/users").text
    headers = {"Authorization": f"Bearer {token}"}
    admin_jar = dict(client.cookies)
    client.cookies.clear()
    assert client.get("/api/v1/me", headers=headers).json()["email"] == "oa@example.com"
    client.cookies = admin_jar
    client.post(f"/admin/users/{uid}/tokens/revoke", data={"csrf_token": csrf(client)})
    assert rows(client, select(ApiToken)) == []
    client.cookies.clear()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
