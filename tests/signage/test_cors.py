"""CORS for OA front-ends (issue 20, point 6): no other site by default, the origins of
SIGNAGE_CORS_ORIGINS allowed, preflights answered; OPTIONS and 405 name every method."""

import pytest
from fixtures import api_token

pytestmark = pytest.mark.one_database  # not about the database: SQLite only (tests/conftest.py)

OA = "https://oa.example.com"


def preflight(client, path, origin=OA, method="POST"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_no_other_site_is_allowed_by_default(client):
    r = preflight(client, "/api/v1/bookings")
    assert r.status_code == 204 and set(r.headers["allow"].split(", ")) == {"POST", "GET", "HEAD", "OPTIONS"}
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/api/v1/me", headers={"Origin": OA, **api_token(client, "member")})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_allowed_origins_get_preflights_and_answers(make_client):
    client = make_client(cors_origins=(OA,))
    r = preflight(client, "/api/v1/bookings/5")
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == OA
    assert set(r.headers["access-control-allow-methods"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}
    assert "authorization" in r.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in r.headers  # tokens, never the session cookie
    headers = api_token(client, "member")
    client.cookies.clear()
    r = client.get("/api/v1/me", headers={"Origin": OA, **headers})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == OA
    assert "link" in r.headers["access-control-expose-headers"]
    r = client.get("/api/v1/me", headers={"Origin": "https://evil.example", **headers})
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in preflight(client, "/api/v1/me", origin="https://evil.example").headers
    assert preflight(client, "/nothing/here").status_code == 404


def test_a_405_names_every_method_of_the_path(client):
    headers = api_token(client, "admin")
    r = client.put("/api/v1/rooms", headers=headers, json={})
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}
