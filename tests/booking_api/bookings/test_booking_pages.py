"""The pages: manage rooms, my bookings, one booking (edit, cancel), floor plans, the API docs."""

import io

from bookings_helpers import at, book, make_room
from fixtures import add_user, api_token, csrf, login, rows, table_rows
from openapi_spec_validator import validate
from PIL import Image
from sqlalchemy import select

from booking_api.models import Attendee, Booking, FloorPlan, Room
from signage.models import User


def test_room_admin_manages_own_rooms(client):
    login(client, "room_admin")
    form = {
        "name": "Lotus",
        "building": "A",
        "floor": "3F",
        "capacity": "8",
        "equipment": "projector, tv",
        "opens_at": "08:00",
        "closes_at": "20:00",
        "buffer_minutes": "10",
        "csrf_token": csrf(client),
    }
    assert client.post("/rooms/manage", data=form, follow_redirects=False).status_code == 303
    [room] = rows(client, select(Room))
    assert room.equipment == ["projector", "tv"] and room.opens_at == 480 and room.buffer_minutes == 10
    page = client.get("/rooms/manage").text
    assert "Lotus" in page and "08:00–20:00" in page
    r = client.post(f"/rooms/{room.id}/edit", data={**form, "capacity": "0"})
    assert r.status_code == 400 and "capacity" in r.text
    r = client.post(f"/rooms/{room.id}/edit", data={**form, "capacity": "12"}, follow_redirects=False)
    assert r.status_code == 303 and rows(client, select(Room))[0].capacity == 12
    # another room admin neither sees nor edits it
    client.cookies.clear()
    login(client, "room_admin")
    assert "Lotus" not in client.get("/rooms/manage").text
    assert client.post(f"/rooms/{room.id}/edit", data={**form, "csrf_token": csrf(client)}).status_code == 403


def test_my_bookings_edit_and_cancel_in_pages(client):
    admin = api_token(client, "room_admin")
    room = make_room(client, admin, name="Page", capacity=4)
    login(client, "member")
    token = csrf(client)
    r = client.post(
        "/api/v1/bookings",
        json={"room_id": room["id"], "title": "Plan", "start": at(10).isoformat(), "end": at(11).isoformat()},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    assert [(b["Room"], b["Title"]) for b in table_rows(client.get("/bookings").text)] == [("Page", "Plan")]
    page = client.get(f"/bookings/{bid}").text
    assert 'name="start"' in page and at(10).strftime("%Y-%m-%dT%H:%M") in page
    form = {
        "title": "Plan B",
        "start": at(12).strftime("%Y-%m-%dT%H:%M"),
        "end": at(11).strftime("%Y-%m-%dT%H:%M"),
        "csrf_token": token,
    }
    r = client.post(f"/bookings/{bid}", data=form)
    assert r.status_code == 400 and "must end after it starts" in r.text
    form["end"] = at(13).strftime("%Y-%m-%dT%H:%M")
    assert client.post(f"/bookings/{bid}", data=form, follow_redirects=False).status_code == 303
    [b] = rows(client, select(Booking))
    assert b.title == "Plan B" and b.start_at == at(12)
    assert client.post(f"/bookings/{bid}/cancel", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert rows(client, select(Booking))[0].status == "cancelled"
    assert "Cancelled" in client.get("/bookings").text


def png(w=400, h=300) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), "white").save(buf, "PNG")
    return buf.getvalue()


def test_floor_plan_upload_place_and_colours(client):
    admin = api_token(client, "room_admin")
    login(client, "room_admin")
    token = csrf(client)
    r = client.post(
        "/floorplans",
        data={"floor": "3F", "building": "A", "csrf_token": token},
        files={"image": ("plan.txt", b"not an image", "text/plain")},
    )
    assert r.status_code == 400 and "not an image" in r.text
    r = client.post(
        "/floorplans",
        data={"floor": "3F", "building": "A", "csrf_token": token},
        files={"image": ("plan.png", png(), "image/png")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    [plan] = rows(client, select(FloorPlan))
    assert (plan.width, plan.height) == (400, 300)
    room = make_room(client, admin, name="Mapped", capacity=4, floor="3F", building="A")
    # a room of another admin cannot be placed by this one
    r = client.post(
        f"/floorplans/{plan.id}/place", data={"room_id": room["id"], "x": "40", "y": "50", "csrf_token": token}
    )
    assert r.status_code == 403
    client.cookies.clear()
    login(client, "admin")
    r = client.post(
        f"/floorplans/{plan.id}/place", data={"room_id": room["id"], "x": "140", "y": "50", "csrf_token": csrf(client)}
    )
    assert r.status_code == 400
    r = client.post(
        f"/floorplans/{plan.id}/place",
        data={"room_id": room["id"], "x": "40", "y": "50", "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    member = api_token(client, "member")
    book(client, member, room["id"], at(10), at(11))
    page = client.get(f"/floorplans/{plan.id}").text
    assert 'data-state="free"' in page and "left: 40.0%" in page
    assert client.get(f"/floorplans/files/{plan.image}").status_code == 200
    # what the live page swaps in when a booking changes: the marks alone
    marks = client.get(f"/floorplans/{plan.id}", headers={"HX-Request": "true"}).text
    assert f'data-room-id="{room["id"]}"' in marks and "<img" not in marks


def test_openapi_document_is_valid_and_lists_the_api(client):
    doc = client.get("/api/v1/openapi.json").json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    for path, method in [
        ("/api/v1/rooms", "post"),
        ("/api/v1/rooms/{id}", "get"),
        ("/api/v1/bookings", "post"),
        ("/api/v1/bookings", "get"),
        ("/api/v1/bookings/{id}", "patch"),
        ("/api/v1/bookings/{id}", "delete"),
        ("/api/v1/availability", "get"),
        ("/api/v1/bookings/{id}/approve", "post"),
        ("/api/v1/bookings/{id}/reject", "post"),
        ("/api/v1/layouts", "get"),
        ("/api/v1/screens", "get"),
        ("/api/v1/screens/claim", "post"),
        ("/api/v1/me", "get"),
    ]:
        assert method in doc["paths"][path], (path, method)
    booking_in = doc["components"]["schemas"]["BookingIn"]
    assert {"room_id", "title", "start", "end"} <= set(booking_in["required"]) and "rrule" in booking_in["properties"]
    post = doc["paths"]["/api/v1/bookings"]["post"]
    assert "409" in post["responses"] and any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    page = client.get("/api/v1/docs").text
    assert "POST /api/v1/bookings" in page and "Idempotency-Key" in page


def test_a_booking_s_room_attendees_and_services_are_changed_on_its_page(client):
    admin = api_token(client, "room_admin")
    room = make_room(client, admin, name="First", capacity=4)
    other = make_room(client, admin, name="Second", capacity=8)
    colleague = add_user(client, "member", "Wang.Fang@example.com".lower())
    login(client, "member")
    token = csrf(client)
    body = {"room_id": room["id"], "title": "Plan", "start": at(10).isoformat(), "end": at(11).isoformat()}
    bid = client.post("/api/v1/bookings", json=body, headers={"X-CSRF-Token": token}).json()["id"]
    page = client.get(f"/bookings/{bid}").text
    assert f'<option value="{other["id"]}"' in page and 'name="attendees"' in page and 'name="services"' in page
    form = {
        "title": "Plan",
        "room_id": str(other["id"]),
        "start": at(10).strftime("%Y-%m-%dT%H:%M"),
        "end": at(11).strftime("%Y-%m-%dT%H:%M"),
        "attendees": "Li Lei, li@example.com, 13800000000, chair\nWang Fang, Wang.Fang@Example.com\n\nGuest，，，可选",
        "notes": "",
        "services": "tea，projector",
        "scope": "this",
        "csrf_token": token,
    }
    r = client.post(f"/bookings/{bid}", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    [b] = rows(client, select(Booking))
    assert b.room_id == other["id"] and b.services == ["tea", "projector"]
    people = rows(client, select(Attendee).order_by(Attendee.id))
    assert [(a.name, a.email, a.phone, a.role) for a in people] == [
        ("Li Lei", "li@example.com", "13800000000", "chair"),
        ("Wang Fang", "Wang.Fang@Example.com", "", "required"),
        ("Guest", "", "", "optional"),
    ]
    # the colleague is recognised by their email: the invitation reaches them
    [linked] = [a for a in people if a.user_id]
    assert (
        linked.name == "Wang Fang" and linked.user_id == rows(client, select(User.id).where(User.email == colleague))[0]
    )
    page = client.get(f"/bookings/{bid}").text
    assert "Li Lei, li@example.com, 13800000000, chair" in page and "tea, projector" in page
    # a line it cannot read is a form error, and what was typed stays in the form
    bad = {**form, "attendees": "Li Lei, li@example.com, 138, boss", "title": "Plan C"}
    r = client.post(f"/bookings/{bid}", data=bad)
    assert r.status_code == 400 and "Attendee line 1" in r.text
    assert "Li Lei, li@example.com, 138, boss" in r.text and 'value="Plan C"' in r.text
    assert rows(client, select(Booking))[0].title == "Plan"
    # moving it into a taken room is refused, with the room's name
    book(client, admin, room["id"], at(10), at(11))
    r = client.post(f"/bookings/{bid}", data={**form, "room_id": str(room["id"])})
    assert r.status_code == 409 and "First is already booked" in r.text
    assert rows(client, select(Booking).where(Booking.id == bid))[0].room_id == other["id"]
