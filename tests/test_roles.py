"""Every route, with every role and with no login: who gets in, who is refused."""

import re

import pytest
from conftest import api_token, csrf, csrf_of, login
from starlette.routing import Mount, Route

from signage.auth import PUBLIC, SCREEN, SIGNED_IN
from signage.settings import ROLES

PARAMS = {
    "id": "999999",
    "rid": "nope",
    "iid": "nope",
    "name": "nope.png",
    "code": "en",
    "topic": "nope",
    "action": "identify",
    "token": "nope",
    "secret": "nope.ics",
    "answer": "accept",
    "decision": "approve",
}


def concrete(path: str) -> str:
    return re.sub(r"{(\w+)(:\w+)?}", lambda m: PARAMS[m.group(1)], path)


def every_route(app):
    out = []
    for r in app.routes:
        if isinstance(r, Mount):
            continue
        assert isinstance(r, Route)
        assert hasattr(r, "allow"), f"{r.path} was not made with signage.auth.route"
        for method in sorted(r.methods - {"HEAD"}):
            out.append((method, r.path, r.allow))
    # signing out last, so the walk keeps its session
    return sorted(out, key=lambda x: x[1] == "/logout")


def may(role, allow):
    if allow == SCREEN:  # no user may, only a screen with its key (tests/test_player.py)
        return False
    if allow == PUBLIC:
        return True
    if role is None:
        return False
    return allow == SIGNED_IN or role == "admin" or role in allow


def call(client, method, path, headers):
    kwargs = {"headers": headers, "follow_redirects": False}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["content"] = b"{}" if "/api/" in path else b""
        kwargs["headers"] = {
            **headers,
            "Content-Type": "application/json" if "/api/" in path else "application/x-www-form-urlencoded",
        }
    return client.request(method, concrete(path), **kwargs)


@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_route_checks_the_role(client, role):
    if role:
        login(client, role)
    headers = {"X-CSRF-Token": csrf(client) if role else csrf_of(client, "/login")}
    seen = []
    for method, path, allow in every_route(client.app):
        r = call(client, method, path, headers)
        seen.append((method, path))
        assert r.status_code != 500, (method, path, r.text[:300])
        if may(role, allow):
            assert r.status_code not in (401, 403), (method, path, role, r.status_code, r.text[:200])
        elif allow == SCREEN:
            assert r.status_code == 401 and r.json()["error"] == "unauthorized", (method, path)
        elif role is None:
            if "/api/" in path or path.startswith("/events/"):
                assert r.status_code == 401 and r.json()["error"] == "unauthorized", (method, path)
            else:
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), (method, path)
        else:
            assert r.status_code == 403, (method, path, role, r.status_code)
    assert len(seen) > 20


@pytest.mark.parametrize("role", ROLES)
def test_api_routes_check_the_role_with_tokens(client, role):
    headers = api_token(client, role)
    client.cookies.clear()
    for method, path, allow in every_route(client.app):
        if not path.startswith("/api/"):
            continue
        r = call(client, method, path, headers)
        assert r.status_code != 500
        if may(role, allow):
            assert r.status_code not in (401, 403), (method, path, role, r.text[:200])
        elif allow == SCREEN:
            assert r.status_code == 401
        else:
            assert r.status_code == 403 and r.json()["error"] == "forbidden", (method, path, role)
