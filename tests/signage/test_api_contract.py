"""The API keeps its own document (issue 20, point 5): a JSON `true` is no number and `0`
no boolean, the
PATCH of a room documents every field as optional, and the 409s are documented."""

import datetime as dt

from bookings_helpers import at, iso
from fixtures import api_token
from images import png


def test_booleans_are_not_numbers(client):
    admin = api_token(client, "admin")
    r = client.post("/api/v1/rooms", headers=admin, json={"name": "Lotus", "capacity": 6})
    assert r.status_code == 201
    room = r.json()["id"]
    for path, body, field in [
        (
            "/api/v1/bookings",
            {"room_id": True, "title": "x", "start": "2030-01-01T09:00:00+08:00", "end": "2030-01-01T10:00:00+08:00"},
            "room_id",
        ),
        ("/api/v1/rooms", {"name": "Peony", "capacity": 4, "notice_minutes": False}, "notice_minutes"),
        ("/api/v1/rooms", {"name": "Peony", "capacity": True}, "capacity"),
        ("/api/v1/rooms", {"name": "Peony", "capacity": 4, "owner_ids": [True]}, "owner_ids"),
        (f"/api/v1/rooms/{room}/sensor-token", {"absent_minutes": False}, "absent_minutes"),
    ]:
        r = client.post(path, headers=admin, json=body)
        assert r.status_code == 400, (path, r.text)
        assert r.json()["detail"] == [{"field": field, "message": "Input should be a valid number, not a boolean"}]
    r = client.post("/api/v1/rooms", headers=admin, json={"name": "Peony", "capacity": 4, "needs_approval": 0})
    assert r.status_code == 400
    assert r.json()["detail"] == [{"field": "needs_approval", "message": "Input should be true or false"}]
    assert client.get("/api/v1/bookings", headers=admin).json() == []


def test_the_document_says_what_the_server_does(client):
    doc = client.get("/api/v1/openapi.json").json()
    patch = doc["paths"]["/api/v1/rooms/{id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert patch == {"$ref": "#/components/schemas/RoomInPatch"}
    assert "required" not in doc["components"]["schemas"]["RoomInPatch"]
    assert "capacity" in doc["components"]["schemas"]["RoomIn"]["required"]
    assert "409" in doc["paths"]["/api/v1/rooms"]["post"]["responses"]
    assert "409" in doc["paths"]["/api/v1/emergency/{id}/clear"]["post"]["responses"]
    assert "400" in doc["paths"]["/api/v1/bookings/{id}/approve"]["post"]["responses"]


def test_every_create_says_where_to_read_it(make_client):
    """Issue 13.8: every documented operation answering 201 carries `Location`, and a GET
    there answers 200 (the object made, or for several files the meeting's files or the
    first medium). A new create fails here until it uses `signage.responses.created`."""
    client = make_client(webhook_allow_private=True)  # the webhook's and importer's 127.0.0.1
    admin = api_token(client, "admin")
    doc = client.get("/api/v1/openapi.json").json()
    creates = {(m, p) for p, ops in doc["paths"].items() for m, op in ops.items() if "201" in op["responses"]}
    answers = {}

    def post(path: str, url: str | None = None, **kwargs) -> dict:
        r = client.post(url or path, headers=admin, **kwargs)
        assert r.status_code == 201, (url or path, r.text)
        answers[("post", path)] = r
        return r.json()

    room = post("/api/v1/rooms", json={"name": "Lotus", "capacity": 6})["id"]
    booking = {"room_id": room, "title": "Review", "start": iso(at(10)), "end": iso(at(11))}
    booking = post("/api/v1/bookings", json=booking)["id"]
    files = {"files": ("agenda.txt", b"1. Budget", "text/plain")}
    post(
        "/api/v1/bookings/{id}/materials", f"/api/v1/bookings/{booking}/materials", files=files, data={"kind": "before"}
    )
    door = {"name": "Front", "kind": "relay", "url": "http://127.0.0.1:9/door", "target": "r1"}
    post("/api/v1/rooms/{id}/doors", f"/api/v1/rooms/{room}/doors", json=door)
    post("/api/v1/rooms/{id}/sensor-token", f"/api/v1/rooms/{room}/sensor-token", json={})
    post("/api/v1/rooms/{id}/terminal-token", f"/api/v1/rooms/{room}/terminal-token", json={})
    post("/api/v1/rooms/{id}/service-calls", f"/api/v1/rooms/{room}/service-calls", json={"kind": "tea"})
    post("/api/v1/media", files={"files": ("a.png", png(), "image/png")})
    playlist = post("/api/v1/playlists", json={"name": "Clocks", "items": [{"widget": "clock", "options": {}}]})
    post("/api/v1/playlists/{id}/publish", f"/api/v1/playlists/{playlist['id']}/publish")
    region = {"id": "r1", "x": 0, "y": 0, "w": 640, "h": 360, "z": 0, "widget": "clock", "options": {}}
    layout = post("/api/v1/layouts", json={"name": "Door", "width": 1280, "height": 720, "regions": [region]})["id"]
    post("/api/v1/layouts/{id}/publish", f"/api/v1/layouts/{layout}/publish")
    post("/api/v1/layouts/{id}/rollback", f"/api/v1/layouts/{layout}/rollback", json={"version": 1})
    code = client.post("/player/api/pair").json()["code"]
    screen = post("/api/v1/screens/claim", json={"code": code, "name": "Lobby", "layout_id": layout})["id"]
    today = dt.date.today().isoformat()
    post("/api/v1/schedules", json={"layout_id": layout, "screen_id": screen, "start_date": today})
    post("/api/v1/emergency", json={"message": "Drill"})
    post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks", "events": ["booking.*"]})
    mapping = {"external_id": "id", "room": "room", "title": "title", "start": "start", "end": "end"}
    post("/api/v1/imports", json={"name": "oa", "kind": "http", "url": "http://127.0.0.1:9/api", "mapping": mapping})

    assert set(answers) == creates, "add a request for each new create here"
    for (_method, path), r in sorted(answers.items()):
        location = r.headers.get("location", "")
        assert location.startswith("/api/v1/"), (path, dict(r.headers))
        read = client.get(location, headers=admin)
        assert read.status_code == 200, (path, location, read.text)
        if "id" in r.json() and isinstance(read.json(), dict) and "id" in read.json():
            assert read.json()["id"] == r.json()["id"], (path, location)


def test_a_replayed_create_says_where_too(client):
    """A retry with the same Idempotency-Key gets the first answer with its Location."""
    admin = {**api_token(client, "admin"), "Idempotency-Key": "oa-1"}
    first = client.post("/api/v1/rooms", headers=admin, json={"name": "Lotus", "capacity": 6})
    again = client.post("/api/v1/rooms", headers=admin, json={"capacity": 6, "name": "Lotus"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.status_code == 201 and again.headers["location"] == first.headers["location"]
    body = {"room_id": first.json()["id"], "title": "Review", "start": iso(at(10)), "end": iso(at(11))}
    first = client.post("/api/v1/bookings", headers={**admin, "Idempotency-Key": "oa-2"}, json=body)
    again = client.post("/api/v1/bookings", headers={**admin, "Idempotency-Key": "oa-2"}, json=body)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"] == f"/api/v1/bookings/{first.json()['id']}"


def test_a_service_call_is_read_by_who_made_it(client):
    """Its Location answers the member who called; another member gets 404, the desk 200."""
    admin, member, other = (api_token(client, role) for role in ("admin", "member", "member"))
    room = client.post("/api/v1/rooms", headers=admin, json={"name": "Lotus", "capacity": 6}).json()["id"]
    r = client.post(f"/api/v1/rooms/{room}/service-calls", headers=member, json={"kind": "tea", "note": "4 cups"})
    assert r.status_code == 201
    where = r.headers["location"]
    assert client.get(where, headers=member).json()["note"] == "4 cups"
    assert client.get(where, headers=other).status_code == 404
    assert client.get(where, headers=api_token(client, "service")).status_code == 200


def test_json_types_are_strict(client):
    """What the document types as a number, a time or a string takes nothing else: no `"12"`
    for a number, no epoch seconds for a time (pydantic's lax mode took both)."""
    admin = api_token(client, "admin")
    room = client.post("/api/v1/rooms", headers=admin, json={"name": "Lotus", "capacity": 6}).json()["id"]
    for path, body, field in [
        ("/api/v1/rooms", {"name": "Peony", "capacity": "12"}, "capacity"),
        ("/api/v1/rooms", {"name": 12, "capacity": 4}, "name"),
        ("/api/v1/bookings", {"room_id": room, "title": "x", "start": 1893456000, "end": iso(at(11))}, "start"),
        ("/api/v1/bookings", {"room_id": str(room), "title": "x", "start": iso(at(10)), "end": iso(at(11))}, "room_id"),
    ]:
        r = client.post(path, headers=admin, json=body)
        assert r.status_code == 400, (body, r.text)
        assert [d["field"] for d in r.json()["detail"]] == [field], r.text
    assert client.get("/api/v1/bookings", headers=admin).json() == []


def test_query_parameters_are_what_the_document_says(client):
    """Typed and enumerated query parameters refuse what their schema does not allow, where
    they used to ignore it (and the document said "any string")."""
    admin = api_token(client, "admin")
    doc = client.get("/api/v1/openapi.json").json()
    params = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/bookings"]["get"]["parameters"]}
    assert params["room_id"]["type"] == "integer" and params["limit"]["maximum"] == 1000
    assert params["status"]["enum"] == ["pending", "confirmed", "cancelled", "rejected", "no_show"]
    path_id = doc["paths"]["/api/v1/bookings/{id}"]["get"]["parameters"][0]["schema"]
    assert path_id == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    for url, field in [
        ("/api/v1/audit?result=maybe", "result"),
        ("/api/v1/media?kind=pdf", "kind"),
        ("/api/v1/media/1?confirm=no", "confirm"),
        ("/api/v1/rooms/1/calendar-feed?rotate=yes", "rotate"),
        ("/api/v1/bookings?status=done", "status"),
        ("/api/v1/service-calls?status=lost", "status"),
    ]:
        method = {"/api/v1/media/1": "DELETE", "/api/v1/rooms/1/calendar-feed": "POST"}.get(url.split("?")[0], "GET")
        if method == "POST":
            client.post("/api/v1/rooms", headers=admin, json={"name": "Lotus", "capacity": 6})
        r = client.request(method, url, headers=admin)
        assert r.status_code == 400, (url, r.text)
        assert field in str(r.json()["detail"]), (url, r.text)


def test_cancel_is_a_state(client):
    """POST …/cancel is how the document says to cancel: the booking stays, readable with
    status cancelled. DELETE does the same for the clients of before, and is marked deprecated."""
    admin = api_token(client, "admin")
    room = client.post("/api/v1/rooms", headers=admin, json={"name": "Lotus", "capacity": 6}).json()["id"]
    made = []
    for hour in (9, 11):
        body = {"room_id": room, "title": "Review", "start": iso(at(hour)), "end": iso(at(hour + 1))}
        made.append(client.post("/api/v1/bookings", headers=admin, json=body).json()["id"])
    r = client.post(f"/api/v1/bookings/{made[0]}/cancel", headers=admin, json={"reason": "moved"})
    assert r.status_code == 200 and r.json() == {"id": made[0], "status": "cancelled", "cancelled": [made[0]]}
    assert client.post(f"/api/v1/bookings/{made[0]}/cancel", headers=admin).status_code == 409
    assert client.post(f"/api/v1/bookings/{made[1]}/cancel", headers=admin, json={"scope": "all"}).status_code == 400
    assert client.delete(f"/api/v1/bookings/{made[1]}?scope=this", headers=admin).json()["status"] == "cancelled"
    for booking in made:
        read = client.get(f"/api/v1/bookings/{booking}", headers=admin)
        assert read.status_code == 200 and read.json()["status"] == "cancelled"
    doc = client.get("/api/v1/openapi.json").json()["paths"]
    assert doc["/api/v1/bookings/{id}"]["delete"]["deprecated"] is True
    assert doc["/api/v1/bookings/{id}/cancel"]["post"]["requestBody"]["required"] is False
