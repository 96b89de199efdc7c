"""Sign-in, sessions, CSRF and API tokens."""

import subprocess
import sys

from fixtures import PASSWORD, add_user, api_token, csrf, csrf_of, login, rows
from sqlalchemy import select

from signage.models import AuditEntry


def audit_entries(client, action):
    return rows(client, select(AuditEntry).where(AuditEntry.action == action))


def test_login_sets_session_and_audits(client):
    email = login(client, "editor")
    assert client.get("/").status_code == 200
    entries = audit_entries(client, "auth.login")
    assert [(e.user_email, e.result) for e in entries] == [(email, "success")]


def test_wrong_password_shows_form_error_and_audits_failure(client):
    email = add_user(client, "member")
    token = csrf_of(client)
    r = client.post("/login", data={"email": email, "password": "nope", "csrf_token": token})
    assert r.status_code == 400
    assert "The email or password is wrong." in r.text
    assert client.get("/", follow_redirects=False).status_code == 303
    [entry] = audit_entries(client, "auth.login")
    assert entry.result == "failure" and entry.target == email


def test_login_without_csrf_token_is_refused(client):
    email = add_user(client, "member")
    client.get("/login")
    r = client.post("/login", data={"email": email, "password": PASSWORD})
    assert r.status_code == 403
    assert "expired" in r.text


def test_form_post_without_csrf_is_refused_but_with_header_passes(client):
    login(client, "editor")
    assert client.post("/layouts", data={"name": "x", "size": "1920x1080"}).status_code == 403
    r = client.post(
        "/layouts",
        data={"name": "x", "size": "1920x1080"},
        headers={"X-CSRF-Token": csrf(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_logout_ends_the_session(client):
    login(client, "member")
    r = client.post("/logout", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_session_cookie_is_httponly_and_secure_when_configured(make_client):
    c = make_client(secure_cookies=True)
    r = c.get("/login")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie


def test_next_parameter_cannot_leave_the_site(client):
    email = add_user(client, "member")
    token = csrf_of(client)
    r = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_bearer_token_reads_api_without_cookie(client):
    headers = api_token(client, "editor")
    client.cookies.clear()
    r = client.get("/api/v1/me", headers=headers)
    assert r.status_code == 200 and r.json()["role"] == "editor"
    # A token needs no CSRF token for writes.
    r = client.post("/api/v1/screens/claim", headers=headers, json={"code": "000000", "name": "x"})
    assert r.status_code == 400 and r.json()["error"] == "invalid"


def test_bad_bearer_token_is_401_json(client):
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer sgn_nope"})
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"


def test_password_is_stored_as_argon2(client):
    from signage.models import User

    email = add_user(client, "member")
    [user] = rows(client, select(User).where(User.email == email))
    assert user.password_hash.startswith("$argon2id$")


def test_cli_user_and_token(tmp_path, backend, database_url):
    env = {"SIGNAGE_DATA_DIR": str(tmp_path), "SIGNAGE_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "signage", *args], env=env, capture_output=True, text=True)

    r = cli("user", "create", "--email", "Ops@Example.com", "--password", "long enough", "--role", "room_admin")
    assert r.returncode == 0, r.stderr
    assert "created user" in r.stdout
    r = cli("user", "create", "--email", "x@example.com", "--password", "short", "--role", "admin")
    assert r.returncode != 0 and "8 characters" in r.stderr
    r = cli("user", "create", "--email", "x@example.com", "--password", "long enough", "--role", "king")
    assert r.returncode != 0
    r = cli("token", "create", "--email", "ops@example.com")
    assert r.returncode == 0 and r.stdout.startswith("sgn_")
    token = r.stdout.strip()
    r = cli("token", "create", "--email", "nobody@example.com")
    assert r.returncode == 1 and "no user" in r.stderr

    from starlette.testclient import TestClient

    from signage.app import create_app
    from signage.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, database_url=database_url, secret_key="k"))
    with TestClient(app) as c:
        me = c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["email"] == "ops@example.com" and me["role"] == "room_admin"
