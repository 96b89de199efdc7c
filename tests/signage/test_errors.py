"""Bad input gets a clear 4xx with a message: JSON under /api/, a page elsewhere."""

import pytest
from fixtures import api_token, login

pytestmark = pytest.mark.one_database  # not about the database: SQLite only (tests/conftest.py)


@pytest.fixture
def api(client):
    headers = api_token(client, "editor")
    client.cookies.clear()
    return client, headers


def test_malformed_json(api):
    client, headers = api
    r = client.post(
        "/api/v1/screens/claim", headers={**headers, "Content-Type": "application/json"}, content=b'{"code": "12'
    )
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "invalid" and body["message"] == "The request body is not valid JSON."


def test_json_that_is_not_an_object(api):
    client, headers = api
    r = client.post("/api/v1/screens/claim", headers=headers, json=["a"])
    assert r.status_code == 400 and r.json()["message"] == "The request body must be a JSON object."


def test_wrong_types_name_the_field(api):
    client, headers = api
    r = client.post("/api/v1/screens/claim", headers=headers, json={"code": 123456, "name": ["x"]})
    assert r.status_code == 400
    fields = {d["field"] for d in r.json()["detail"]}
    assert fields == {"code", "name"}


def test_unknown_ids(api):
    client, headers = api
    r = client.post("/api/v1/layouts/424242/publish", headers=headers)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.get("/api/v1/nothing-here", headers=headers)
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_unknown_page_is_a_page(client):
    login(client, "editor")
    r = client.get("/layouts/424242")
    assert r.status_code == 404 and "<html" in r.text and "No such layout." in r.text
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "<html" in r.text


def test_wrong_method(client):
    r = client.delete("/healthz")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_oversized_body_announced_or_streamed(make_client):
    client = make_client(max_upload_mb=1)
    headers = api_token(client, "editor")
    big = b"x" * (1024 * 1024 + 10)
    r = client.post("/api/v1/screens/claim", headers={**headers, "Content-Type": "application/json"}, content=big)
    assert r.status_code == 413 and r.json()["error"] == "too_large"

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(3):
            yield b"x" * (512 * 1024)

    r = client.post("/api/v1/screens/claim", headers={**headers, "Content-Type": "application/json"}, content=chunks())
    assert r.status_code == 413 and r.json()["error"] == "too_large"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_what_no_database_holds_is_refused_on_both(client):
    """NUL characters (PostgreSQL stores none), ids past a database integer, and years no
    time zone can hold: a 4xx with a message on both databases, and nothing written."""
    from bookings_helpers import at, iso, make_room

    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Edge")
    booking = {"room_id": room["id"], "title": "t", "start": iso(at(9)), "end": iso(at(10))}
    refused = [
        client.post("/api/v1/rooms", json={"name": "a\x00b", "capacity": 3}, headers=admin),
        client.post("/api/v1/bookings", json={**booking, "title": "a\x00b"}, headers=admin),
        client.post("/api/v1/bookings", json={**booking, "attendees": [{"name": "\x00"}]}, headers=admin),
        client.get("/api/v1/availability", params={"floor": "3\x00F"}, headers=admin),
        client.post("/api/v1/bookings", json={**booking, "room_id": 2**31}, headers=admin),
        client.post("/api/v1/bookings", json={**booking, "start": "0001-01-01T00:00:00+14:00"}, headers=admin),
        client.get("/api/v1/bookings", params={"room_id": "²"}, headers=admin),
        client.get("/api/v1/bookings", params={"from": "9999-12-31T23:59:59-14:00"}, headers=admin),
        client.get("/api/v1/availability", params={"date": "0001-01-01"}, headers=admin),
        client.post("/api/v1/bookings", json={**booking, "rrule": "FREQ=DAILY;COUNT=2;UNTIL=20301231"}, headers=admin),
    ]
    for r in refused:
        assert r.status_code == 400 and r.json()["message"], (r.request.url, r.status_code, r.text)
    assert "NUL" in refused[0].json()["message"]
    for path in ("/api/v1/bookings/99999999999999999999", f"/api/v1/rooms/{2**31}"):
        r = client.get(path, headers=admin)
        assert r.status_code == 404 and r.json()["error"] == "not_found", (path, r.text)
    assert client.get("/api/v1/bookings", headers=admin).json() == []
    assert [r["name"] for r in client.get("/api/v1/rooms", headers=admin).json()] == ["Edge"]


def test_a_room_photo_is_a_web_address_or_a_path(client):
    """A room's photo is shown in pages: http(s) or a path of this server, nothing that runs."""
    headers = api_token(client, "admin")
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "data:,x", "https://a b"):
        r = client.post("/api/v1/rooms", json={"name": "P", "capacity": 2, "photo_url": bad}, headers=headers)
        assert r.status_code == 400 and r.json()["detail"][0]["field"] == "photo_url", (bad, r.text)
    for n, good in enumerate(("https://example.com/room.jpg", "/media/7/file", "")):
        r = client.post("/api/v1/rooms", json={"name": f"P{n}", "capacity": 2, "photo_url": good}, headers=headers)
        assert r.status_code == 201 and r.json()["photo_url"] == good, (good, r.text)


def test_a_superscript_digit_in_a_form_or_a_query_is_refused_not_a_500(client):
    """"²".isdigit() is true but int("²") fails: each number read from a form or a query
    checks `isascii()` too (the robustness probe found it on /api/v1/stats/ghosts)."""
    from fixtures import csrf, login

    login(client, "admin")
    token = csrf(client)
    assert client.get("/rooms", params={"page": "²"}).status_code == 200
    r = client.post("/rooms/manage", data={"csrf_token": token, "name": "Orchid", "capacity": "²", "opens_at": "08:00",
                                           "closes_at": "18:00"})  # fmt: skip
    assert r.status_code == 400
    r = client.post("/account/tokens", data={"csrf_token": token, "name": "t", "days": "²"})
    assert r.status_code == 400
