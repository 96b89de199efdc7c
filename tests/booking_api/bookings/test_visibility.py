"""Who sees what of a meeting (SPEC B7; issue "The meeting's own page", point 1): the whole
meeting for those concerned, its outline for everyone else, only "busy" when private; one
rule (booking_api.bookings.visibility) for the API, the pages, the grid, door screens and
the event feed."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from bookings_helpers import at, book, iso, make_room
from fixtures import api_token, login

pytestmark = pytest.mark.one_database  # not about the database: SQLite only (tests/conftest.py)

SECRET = {"notes": "board pack: layoffs", "services": ["tea"]}


def me(client, headers) -> dict:
    return client.get("/api/v1/me", headers=headers).json()


@pytest.fixture
def people(client) -> dict:
    who = {role: api_token(client, role) for role in ("admin", "editor", "service")}
    for name in ("owner", "other_owner"):
        who[name] = api_token(client, "room_admin")
    for name in ("organizer", "attendee", "outsider"):
        who[name] = api_token(client, "member")
    return who


def make_meetings(client, people, private_default=False):
    owner = me(client, people["owner"])
    room = make_room(client, people["admin"], name="Jade", owner_ids=[owner["id"]], private_default=private_default)
    guest = me(client, people["attendee"])
    attendees = [{"name": "Wang Fang", "email": guest["email"], "phone": "13800000000"}]
    made = {}
    for n, private in enumerate((False, True)):
        extra = {"attendees": attendees, **SECRET} | ({"private": private} if not private_default else {})
        r = book(client, people["organizer"], room["id"], at(9 + 2 * n), at(10 + 2 * n), f"Budget {n}", **extra)
        assert r.status_code == 201, r.text
        made["private" if private else "open"] = r.json()
    return room, made


CONCERNED = {"admin", "owner", "organizer", "attendee", "service"}  # service: the meeting wants tea


@pytest.mark.parametrize("who", ["admin", "editor", "service", "owner", "other_owner", "organizer", "attendee",
                                 "outsider"])  # fmt: skip
def test_each_viewer_sees_the_whole_meeting_or_its_outline(client, people, who):
    room, made = make_meetings(client, people)
    headers = people[who]
    day = {"room_id": room["id"], "from": iso(at(0)), "to": iso(at(23, 59))}
    listed = {b["id"]: b for b in client.get("/api/v1/bookings", params=day, headers=headers).json()}
    for kind, b in made.items():
        one = client.get(f"/api/v1/bookings/{b['id']}", headers=headers).json()
        assert listed[b["id"]] == one
        if who in CONCERNED:
            assert "limited" not in one and one["notes"] == SECRET["notes"] and one["services"] == ["tea"]
            assert one["attendees"][0]["phone"] == "13800000000" and one["title"] == b["title"]
        else:
            assert one["limited"] and one["notes"] == "" and one["attendees"] == [] and one["services"] == []
            assert (one["title"], one["organizer_id"] is None) == (
                ("", True) if kind == "private" else (b["title"], False)
            )
        assert (one["start"], one["end"], one["room_id"]) == (b["start"], b["end"], room["id"])
    # filters tell outsiders nothing the answers do not: who attends, a private meeting's title
    guest = me(client, people["attendee"])["email"]
    by_attendee = client.get("/api/v1/bookings", params={**day, "attendee": guest}, headers=headers).json()
    by_title = client.get("/api/v1/bookings", params={**day, "q": "Budget 1"}, headers=headers).json()
    if who in CONCERNED:
        assert len(by_attendee) == 2 and [b["id"] for b in by_title] == [made["private"]["id"]]
    else:
        assert by_attendee == [] and by_title == []


def test_public_displays_show_a_private_meeting_as_busy(client, people):
    room, made = make_meetings(client, people, private_default=True)
    assert made["open"]["private"] and made["private"]["private"]  # the room's default
    day = client.get("/api/v1/availability", params={"date": at(9).date().isoformat()}, headers=people["admin"])
    titles = {b["title"] for r in day.json()["rooms"] if r["id"] == room["id"] for b in r["bookings"]}
    assert titles == {"Busy"}
    # booked private explicitly in a room that is not: the same
    other = make_room(client, people["admin"], name="Opal")
    assert book(client, people["organizer"], other["id"], at(9), at(10), "Layoffs", private=True).status_code == 201
    day = client.get("/api/v1/availability", params={"date": at(9).date().isoformat()}, headers=people["outsider"])
    assert {b["title"] for r in day.json()["rooms"] if r["id"] == other["id"] for b in r["bookings"]} == {"Busy"}
    assert (
        "Layoffs"
        not in client.get("/rooms", params={"date": at(9).date().isoformat()}, headers=people["outsider"]).text
    )


def test_the_booking_page_shows_outsiders_the_outline(client, people):
    _room, made = make_meetings(client, people)
    for who, whole in (("attendee", True), ("outsider", False)):
        client.cookies.clear()
        login(client, "member", me(client, people[who])["email"])
        page = client.get(f"/bookings/{made['private']['id']}")
        assert page.status_code == 200
        assert ("13800000000" in page.text, SECRET["notes"] in page.text, "Budget 1" in page.text) == (whole,) * 3
        assert ("Busy" in page.text) is not whole


def test_the_event_feed_follows_the_same_rule(client, people):
    _room, made = make_meetings(client, people)
    ids = {b["id"] for b in made.values()}

    def seen(who):
        events = client.get("/api/v1/events", params={"type": "booking.", "limit": 1000}, headers=people[who])
        return {int(e["subject"].split(":")[1]) for e in events.json()["events"]} & ids

    assert {who: seen(who) == ids for who in people} == {who: who in CONCERNED for who in people}


def test_the_organizer_makes_a_meeting_private_on_its_page(client, people):
    _room, made = make_meetings(client, people)
    b = made["open"]
    client.cookies.clear()
    login(client, "member", me(client, people["organizer"])["email"])
    page = client.get(f"/bookings/{b['id']}").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": token, "title": b["title"], "start": b["start"][:16], "end": b["end"][:16], "scope": "this"}
    tz = ZoneInfo(client.app.state.settings.timezone)
    for key in ("start", "end"):
        form[key] = dt.datetime.fromisoformat(b[key]).astimezone(tz).strftime("%Y-%m-%dT%H:%M")
    r = client.post(
        f"/bookings/{b['id']}", data={**form, "private_shown": "1", "private": "on"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text[:500]
    outline = client.get(f"/api/v1/bookings/{b['id']}", headers=people["outsider"]).json()
    assert outline["private"] and outline["title"] == "" and outline["limited"]
    r = client.post(f"/bookings/{b['id']}", data={**form, "private_shown": "1"}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/api/v1/bookings/{b['id']}", headers=people["outsider"]).json()["title"] == b["title"]


def test_a_rooms_feed_shows_the_outline(client, people):
    """A room's iCalendar feed is for whoever holds its URL (a lobby screen, a shared calendar)."""
    room, made = make_meetings(client, people)
    url = client.post(f"/api/v1/rooms/{room['id']}/calendar-feed", headers=people["owner"]).json()["url"]
    feed = client.get(url[url.index("/ical/") :]).text.replace("\r\n ", "")  # lines unfolded
    assert "Budget 0" in feed and "Busy" in feed and "Budget 1" not in feed
    for secret in ("Wang Fang", "13800000000", "layoffs", me(client, people["attendee"])["email"]):
        assert secret not in feed, secret


def widget_html(client, headers, **params) -> str:
    """The live part a lobby screen shows (`/widgets/live`, the screens' own stream's body)."""
    import json

    with client.stream("GET", "/widgets/live", params=params, headers={**headers, "Accept": "text/event-stream"}) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data:"):
                return json.loads(line[5:])["html"]
    raise AssertionError("no html")


def test_lobby_screens_show_and_say_only_busy_of_a_private_meeting(make_client):
    """Issue 15.1: the waiting room listed and announced a private meeting's title, and the
    call-in's voice spoke it; now they show "Busy" and call its people by time and room."""
    import shutil

    from doors_helpers import go_to
    from fixtures import csrf, in_app, unavailable

    from signage import speech

    client = make_client(test_clock=True)
    admin, member = api_token(client, "admin"), api_token(client, "member")
    room = make_room(client, admin, name="Jade", floor="3F")
    private = book(client, member, room["id"], at(9), at(10), "Layoffs", private=True, notes="secret").json()
    open_ = book(client, member, room["id"], at(11), at(12), "Planning").json()
    go_to(client, at(8, 56))
    params = {"widget": "waiting_room", "floor": "3F", "announce_minutes": "5"}
    html = widget_html(client, member, **params)
    assert f'data-announce-key="soon:{private["id"]}"' in html
    assert "Attendees of the 09:00 meeting, please go to Jade" in html
    assert "Layoffs" not in html and "secret" not in html
    row = html.split(f'<tr data-booking-id="{private["id"]}"')[1].split("</tr>")[0]
    assert "<td>Busy</td>" in row
    assert "<td>Planning</td>" in html.split(f'<tr data-booking-id="{open_["id"]}"')[1].split("</tr>")[0]
    # the meeting list on the same lobby follows the same rule
    listed = widget_html(client, member, widget="meeting_list", room_id=str(room["id"]))
    assert "Layoffs" not in listed and "Planning" in listed and "Busy" in listed
    # called in from the desk: announced, still without its title
    client.cookies.clear()
    login(client, "service")
    r = client.post(f"/desk/bookings/{private['id']}/call-in", data={"csrf_token": csrf(client)})
    assert r.status_code == 200
    html = widget_html(client, member, **params)
    assert 'data-announce-key="call:' in html and "Layoffs" not in html
    # the voice: the same sentence, spoken
    if shutil.which("espeak-ng") is None:
        unavailable("espeak-ng not installed (apt-get install espeak-ng)")
    settings = client.app.state.settings
    for b, said in ((private, "Attendees of the 09:00 meeting, please go to Jade"),
                    (open_, "Attendees of Planning, please go to Jade")):  # fmt: skip
        spoken = client.get("/widgets/speech", params={"booking_id": b["id"]}, headers=member)
        assert spoken.status_code == 200, spoken.text[:300]
        assert spoken.content == in_app(client, speech.render, settings, said, "en").read_bytes()


def test_the_desk_shows_a_meeting_whole_only_when_it_wants_services(make_client):
    """Issue 15.1: the desk's board showed every meeting's title and organizer to service
    staff; now a private meeting that wants no services is "Busy", without its organizer."""
    import re

    from doors_helpers import go_to

    client = make_client(test_clock=True)
    admin = api_token(client, "admin")
    rooms = [make_room(client, admin, name=name) for name in ("Jade", "Opal", "Ruby")]
    organizers = [api_token(client, "member") for _ in rooms]
    names = [me(client, h)["email"].split("@")[0] for h in organizers]
    wanted = [
        ("Layoffs", {"private": True}),  # private, no services
        ("Board pack", {"private": True, "services": ["tea"]}),
        ("Planning", {}),  # open, no services
    ]
    for room, headers, (title, extra) in zip(rooms, organizers, wanted, strict=True):
        assert book(client, headers, room["id"], at(9), at(10), title, **extra).status_code == 201
    go_to(client, at(8, 56))

    def tiles(role) -> dict:
        client.cookies.clear()
        login(client, role)
        html = client.get("/desk").text
        return {
            room["name"]: re.search(rf'data-room-id="{room["id"]}".*?</article>', html, re.S).group(0) for room in rooms
        }

    for role in ("service", "admin"):
        seen = tiles(role)
        shown = {
            name: (title in tile, "Busy" in tile, organizer in tile)
            for (name, tile), (title, _x), organizer in zip(seen.items(), wanted, names, strict=True)
        }
        whole = (True, False, True)
        assert shown == {
            "Jade": whole if role == "admin" else (False, True, False),
            "Opal": whole,  # it wants tea: the desk serves it
            "Ruby": whole,  # open: its outline has the title and organizer
        }, role
