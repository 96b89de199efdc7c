"""A meeting's files (SPEC B7; issue 15, points 2-4, 6, 7): materials before, minutes after,
for those concerned only; each file checked by its content, stored once, removed when no
meeting uses it; downloads as attachments; the meeting's page on desktops and phones."""

import io
import zipfile

import pytest
from bookings_helpers import at, book, make_room
from fixtures import api_token, csrf, login, wait_for
from images import png
from PIL import Image

CONTENT_TYPES = (
    b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    b'wordprocessingml.document.main+xml"/></Types>'
)


def pdf(pages: int = 2, color: str = "navy") -> bytes:
    buf = io.BytesIO()
    first, *rest = [Image.new("RGB", (300, 400), color) for _ in range(pages)]
    first.save(buf, "PDF", save_all=True, append_images=rest)
    return buf.getvalue()


PDF = pdf()  # once: Pillow writes the time into each PDF


def docx(extra: dict | None = None, types: bytes = CONTENT_TYPES) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("word/document.xml", b"<w:document/>")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def zip_of(entries: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def me(client, headers) -> dict:
    return client.get("/api/v1/me", headers=headers).json()


@pytest.fixture
def meeting(client) -> dict:
    """A meeting with its people: admin, the room's admin, organizer, attendee, outsider, editor."""
    who = {"admin": api_token(client, "admin"), "owner": api_token(client, "room_admin")}
    for name in ("organizer", "attendee", "outsider"):
        who[name] = api_token(client, "member")
    who["editor"] = api_token(client, "editor")
    room = make_room(client, who["admin"], name="Jade", owner_ids=[me(client, who["owner"])["id"]])
    guest = me(client, who["attendee"])
    attendees = [{"name": "Wang Fang", "email": guest["email"], "phone": "13800000000"}]
    r = book(client, who["organizer"], room["id"], at(9), at(10), "Budget", attendees=attendees)
    assert r.status_code == 201, r.text
    return {"who": who, "booking": r.json(), "room": room}


def upload(client, booking_id, headers, files, kind="before", **form):
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return client.post(
        f"/api/v1/bookings/{booking_id}/materials", files=parts, data={"kind": kind, **form}, headers=headers
    )


def test_materials_and_minutes_for_those_concerned_only(client, meeting):
    who, b = meeting["who"], meeting["booking"]
    r = upload(client, b["id"], who["attendee"], [("agenda.pdf", PDF), ("photo.png", png())])
    assert r.status_code == 201, r.text
    items = r.json()["items"]
    assert [(i["name"], i["kind"], i["type"]) for i in items] == [
        ("agenda.pdf", "before", "pdf"),
        ("photo.png", "before", "image"),
    ]
    assert all(set(i) >= {"id", "name", "size", "kind", "url", "preview_url"} for i in items)
    assert items[0]["size"] == len(PDF)
    # minutes: the organizer and the room's admins, not the attendees
    assert upload(client, b["id"], who["attendee"], [("m.txt", b"minutes")], "minutes").status_code == 403
    r = upload(client, b["id"], who["organizer"], [("决议.txt", "会议决议：通过。".encode())], "minutes")
    assert r.status_code == 201, r.text
    assert r.json()["items"][0]["preview_url"] is None
    for name in ("admin", "owner", "organizer", "attendee"):
        listed = client.get(f"/api/v1/bookings/{b['id']}/materials", headers=who[name])
        assert [i["name"] for i in listed.json()["items"]] == ["agenda.pdf", "photo.png", "决议.txt"], name
    # outsiders (and an editor, who may see all media) get 404 on every path: no files at all
    first = items[0]
    for name in ("outsider", "editor"):
        h = who[name]
        assert client.get(f"/api/v1/bookings/{b['id']}/materials", headers=h).status_code == 404
        assert upload(client, b["id"], h, [("x.txt", b"x")]).status_code == 404
        assert client.get(first["url"], headers=h).status_code == 404
        assert client.get(first["preview_url"], headers=h).status_code == 404
        assert client.delete(f"/api/v1/bookings/{b['id']}/materials/{first['id']}", headers=h).status_code == 404
    # a file of one meeting is not reached through another
    other = book(client, who["outsider"], meeting["room"]["id"], at(11), at(12), "Other").json()
    assert client.get(f"/bookings/{other['id']}/materials/{first['id']}", headers=who["outsider"]).status_code == 404


def test_downloads_are_attachments_and_previews_are_made(client, meeting):
    who, b = meeting["who"], meeting["booking"]
    items = upload(client, b["id"], who["attendee"], [("季度 报告.pdf", PDF), ("plan.png", png(800, 600))]).json()
    for item in items["items"]:
        r = client.get(item["url"], headers=who["organizer"])
        assert r.status_code == 200
        assert r.headers["content-disposition"].startswith("attachment;")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in r.headers["content-security-policy"]
        preview = client.get(item["preview_url"], headers=who["organizer"])
        assert preview.status_code == 200 and preview.headers["content-type"] == "image/webp"
        with Image.open(io.BytesIO(preview.content)) as im:
            assert im.format == "WEBP" and im.width <= 480
    pdf_download = client.get(items["items"][0]["url"], headers=who["organizer"])
    assert pdf_download.content == PDF and pdf_download.headers["content-type"] == "application/pdf"
    assert "%E5%AD%A3%E5%BA%A6" in pdf_download.headers["content-disposition"]  # 季度, RFC 5987


REFUSED = [
    ("report.docx", docx({"word/vbaProject.bin": b"\xd0\xcf\x11\xe0macro"}), "macros"),
    ("report.docx", docx(types=CONTENT_TYPES.replace(b"document.main", b"document.macroEnabled.main")), "macros"),
    ("agenda.pdf", b"<!doctype html><html><script>alert(1)</script></html>", "script"),
    ("bomb.docx", docx({"word/media/big.bin": b"\0" * (3 * 1024 * 1024)}), "zip bomb"),
    ("tricks.docx", docx({"../../etc/cron.d/x": b"x"}), "dangerous path"),
    ("tool.docx", docx({"word/embeddings/setup.exe": b"MZ\x90\x00"}), "program"),
    ("broken.pdf", PDF[:-200], "incomplete"),
    ("notes.docx", zip_of({"notes.txt": b"hello"}), "archives are not accepted"),
    ("blob.bin", b"\x00\x01\x02binary", "Meetings take"),
]


def test_files_are_refused_by_their_content(client, meeting):
    """Each told by what it holds, whatever its name says; nothing of it is kept."""
    who, b = meeting["who"], meeting["booking"]
    for name, data, says in REFUSED:
        r = upload(client, b["id"], who["attendee"], [(name, data)])
        assert r.status_code == 400, (name, r.text)
        assert says in r.json()["message"], (name, r.json())
    assert client.get(f"/api/v1/bookings/{b['id']}/materials", headers=who["attendee"]).json()["items"] == []
    assert list(client.app.state.settings.materials_dir.rglob("*.*")) == []


def test_a_file_is_stored_once_and_removed_when_no_meeting_uses_it(client, meeting):
    who, b = meeting["who"], meeting["booking"]
    other = book(client, who["organizer"], meeting["room"]["id"], at(11), at(12), "Again").json()
    one = upload(client, b["id"], who["organizer"], [("a.pdf", PDF)]).json()["items"][0]
    two = upload(client, other["id"], who["organizer"], [("copy.pdf", PDF)]).json()["items"][0]
    folder = client.app.state.settings.materials_dir
    assert len([p for p in folder.rglob("*.pdf")]) == 1
    big = upload(client, b["id"], who["organizer"], [("big.txt", b"a" * (51 * 1024 * 1024))])
    assert big.status_code == 413 and "50 MB" in big.json()["message"]
    # the attendee did not add it: only whoever added it, the organizer and the room's admins remove it
    assert (
        client.delete(f"/api/v1/bookings/{b['id']}/materials/{one['id']}", headers=who["attendee"]).status_code == 403
    )
    assert client.delete(f"/api/v1/bookings/{b['id']}/materials/{one['id']}", headers=who["owner"]).status_code == 204
    assert len(list(folder.rglob("*.pdf"))) == 1  # the other meeting still uses it
    assert (
        client.delete(f"/api/v1/bookings/{other['id']}/materials/{two['id']}", headers=who["organizer"]).status_code
        == 204
    )
    assert list(folder.rglob("*.*")) == []
    assert client.get(one["url"], headers=who["organizer"]).status_code == 404


def test_series_materials_belong_to_every_occurrence_minutes_to_one(client, meeting):
    who, room = meeting["who"], meeting["room"]
    guest = me(client, who["attendee"])
    r = book(client, who["organizer"], room["id"], at(14), at(15), "Weekly", rrule="FREQ=DAILY;COUNT=3",
             attendees=[{"name": "Wang Fang", "email": guest["email"]}])  # fmt: skip
    assert r.status_code == 201, r.text
    ids = [o["id"] for o in r.json()["occurrences"]]
    first, second = ids[0], ids[1]
    assert upload(client, first, who["attendee"], [("plan.pdf", PDF)], scope="series").status_code == 201
    assert upload(client, first, who["attendee"], [("only.txt", b"just the first")]).status_code == 201
    bad = upload(client, first, who["organizer"], [("m.txt", b"minutes")], "minutes", scope="series")
    assert bad.status_code == 400 and "one meeting" in bad.json()["message"]
    assert upload(client, second, who["organizer"], [("m.txt", b"minutes")], "minutes").status_code == 201

    def names(booking_id):
        return [(i["name"], i["scope"]) for i in client.get(f"/api/v1/bookings/{booking_id}/materials", headers=who["attendee"]).json()["items"]]  # fmt: skip

    assert names(first) == [("plan.pdf", "series"), ("only.txt", "this")]
    assert names(second) == [("plan.pdf", "series"), ("m.txt", "this")]
    assert names(ids[2]) == [("plan.pdf", "series")]
    lone = upload(client, meeting["booking"]["id"], who["organizer"], [("x.txt", b"x")], scope="series")
    assert lone.status_code == 400 and "not part of a series" in lone.json()["message"]


def test_the_meeting_page_on_desktop_and_phone(client, meeting):
    who, b = meeting["who"], meeting["booking"]
    upload(client, b["id"], who["attendee"], [("agenda.pdf", PDF)])
    upload(client, b["id"], who["organizer"], [("决议.txt", "通过".encode())], "minutes")
    attendee = me(client, who["attendee"])["email"]
    for path in (f"/bookings/{b['id']}", f"/m/meetings/{b['id']}"):
        client.cookies.clear()
        login(client, "member", attendee)
        page = client.get(path)
        assert page.status_code == 200, page.text
        text = page.text
        assert "agenda.pdf" in text and "决议.txt" in text and "13800000000" in text and "Jade" in text
        assert "Not checked in yet" in text
        if path.startswith("/m/"):
            assert 'class="answer accepted"' in text  # answered on the phone (below)
        else:
            assert 'class="answer none"' in text
            assert f'action="/m/invitations/{b["id"]}/accept"' in text  # an invited user answers here
            answer = {"csrf_token": csrf(client), "next": path}
            r = client.post(f"/m/invitations/{b['id']}/accept", data=answer, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == path
        assert 'data-kind="before"' in text and "Add materials" in text  # an attendee adds materials
        fragment = client.get(path, headers={"HX-Request": "true"})
        assert "agenda.pdf" in fragment.text and "<html" not in fragment.text
        client.cookies.clear()
        login(client, "member", me(client, who["outsider"])["email"])
        outside = client.get(path)
        assert outside.status_code == 200 and "Budget" in outside.text
        assert (
            "agenda.pdf" not in outside.text
            and "13800000000" not in outside.text
            and "Add materials" not in outside.text
        )
    assert client.get("/m/meetings/999999").status_code == 404


def test_attendees_are_told_when_minutes_are_added(make_client):
    """Through the notification outbox (signage.notify), in the attendee's language; not for
    materials before the meeting; the event feed shows it to those concerned only."""
    from mail_helpers import SITE, SmtpServer

    smtp = SmtpServer()
    smtp.start()
    try:
        client = make_client(smtp_url=smtp.url, mail_from=SITE)
        admin, organizer, outsider = (api_token(client, r) for r in ("admin", "member", "member"))
        room = make_room(client, admin, name="Jade")
        attendees = [{"name": "Wang Fang", "email": "wang@example.com"}]
        b = book(client, organizer, room["id"], at(9), at(10), "Budget", attendees=attendees).json()
        wait_for(lambda: len(smtp.inbox.parsed("wang@example.com")) == 1)  # the invitation
        assert upload(client, b["id"], organizer, [("agenda.pdf", PDF)]).status_code == 201
        r = upload(client, b["id"], organizer, [("minutes.txt", b"approved"), ("vote.txt", b"7:2")], "minutes")
        assert r.status_code == 201, r.text
        wait_for(lambda: len(smtp.inbox.parsed("wang@example.com")) == 2)
        mail = smtp.inbox.parsed("wang@example.com")[-1]
        assert mail["Subject"].startswith("Minutes available: Budget")
        body = mail.get_body(("plain",)).get_content()
        assert "minutes.txt, vote.txt" in body and "agenda.pdf" not in body
        assert not any(p.get_content_type() == "text/calendar" for p in mail.walk())
        feed = {
            name: [e["type"] for e in client.get("/api/v1/events", params={"type": "booking.minutes"}, headers=h).json()["events"]]
            for name, h in (("organizer", organizer), ("outsider", outsider))
        }  # fmt: skip
        assert feed == {"organizer": ["booking.minutes_added"], "outsider": []}
    finally:
        smtp.stop()


def test_attendees_see_new_materials_and_minutes_in_their_bell(client, meeting):
    """Issue 15 point 5: with email off, an attendee who is a user finds "new materials" and
    "minutes available" in the bell; the organizer hears of materials others add; whoever
    added them and outsiders hear nothing. `booking.materials_added` is in the event feed of
    those concerned only, written with the files (a refused upload writes none)."""
    from fixtures import rows
    from sqlalchemy import select

    from signage.notify.models import Notice

    who, b = meeting["who"], meeting["booking"]
    ids = {name: me(client, who[name])["id"] for name in ("organizer", "attendee", "outsider")}

    def notices() -> dict:
        found = rows(client, select(Notice).where(Notice.about == f"booking:{b['id']}", Notice.kind != "invitation"))
        by = {name: [] for name in ids}
        for n in sorted(found, key=lambda n: n.id):
            person = next((k for k, v in ids.items() if v == n.user_id), n.user_id)
            by.setdefault(person, []).append((n.kind, n.title))
        return by

    assert upload(client, b["id"], who["organizer"], [("macro.docx", b"<html>not a docx</html>")]).status_code == 400
    assert (
        upload(client, b["id"], who["attendee"], [("agenda.pdf", PDF), ("plan.txt", b"1. budget")]).status_code == 201
    )
    wait_for(lambda: notices()["organizer"])
    told = notices()
    assert told["attendee"] == [] and told["outsider"] == []  # the attendee added them
    ((kind, title),) = told["organizer"]
    assert kind == "materials" and title.startswith("New materials for Budget (") and "agenda.pdf, plan.txt" in title
    assert upload(client, b["id"], who["organizer"], [("slides.txt", b"q3")]).status_code == 201
    assert upload(client, b["id"], who["organizer"], [("minutes.txt", b"approved")], "minutes").status_code == 201
    wait_for(lambda: len(notices()["attendee"]) == 2)
    told = notices()
    assert [k for k, _t in told["attendee"]] == ["materials", "minutes"]
    assert "slides.txt" in told["attendee"][0][1] and told["attendee"][1][1].startswith("Minutes available: Budget")
    assert len(told["organizer"]) == 1 and told["outsider"] == []
    # the page of the notices names the kind; the notice leads to the meeting's page
    client.cookies.clear()
    login(client, "member", me(client, who["attendee"])["email"])
    page = client.get("/notifications").text
    assert "New materials for Budget" in page and "Minutes available: Budget" in page

    def feed(name):
        r = client.get("/api/v1/events", params={"type": "booking.materials_added"}, headers=who[name])
        return [(e["subject"], e["data"]["files"]) for e in r.json()["events"]]

    subject = f"booking:{b['id']}"
    assert feed("attendee") == [(subject, ["agenda.pdf", "plan.txt"]), (subject, ["slides.txt"])]
    assert feed("outsider") == [] and feed("editor") == [] and len(feed("owner")) == 2


def test_the_meeting_page_shows_what_the_desk_did_for_it(make_client):
    """Issue 15.2: beside the services wanted, the desk's tasks for the meeting and their state:
    the calls from its room while it ran, and its cleaning after it; not those of another
    time or room, and nothing of it to outsiders."""
    import re

    from doors_helpers import go_to

    client = make_client(test_clock=True)
    admin, organizer, outsider = (api_token(client, r) for r in ("admin", "member", "member"))
    desk = api_token(client, "service")
    room = make_room(client, admin, name="Jade")
    other = make_room(client, admin, name="Opal")
    b = book(client, organizer, room["id"], at(9), at(10), "Budget", services=["tea"]).json()

    def call(where, kind="tea", note=""):
        r = client.post(f"/api/v1/rooms/{where['id']}/service-calls", json={"kind": kind, "note": note}, headers=admin)
        assert r.status_code == 201, r.text
        return r.json()

    def tasks_shown(headers) -> dict:
        page = client.get(f"/bookings/{b['id']}", headers=headers).text
        return dict(re.findall(r'data-task-id="(\d+)">([^<]*)</li>', page))

    go_to(client, at(8, 50))
    # the services it wants: a task made SIGNAGE_SERVICE_LEAD_MINUTES before it starts
    (prep,) = wait_for(lambda: [k for k, v in tasks_shown(organizer).items() if v == "service (tea): open"])
    before = call(room)
    go_to(client, at(9, 5))
    assert client.post(f"/api/v1/bookings/{b['id']}/check-in", headers=organizer).status_code == 200
    tea, help_ = call(room, "tea", "4 cups"), call(room, "it")
    elsewhere = call(other)
    staff = me(client, desk)["name"] or me(client, desk)["email"].split("@")[0]
    assert client.post(f"/api/v1/service-calls/{tea['id']}/accept", headers=desk).status_code == 200
    assert client.post(f"/api/v1/service-calls/{help_['id']}/done", headers=desk).status_code == 200
    shown = tasks_shown(organizer)
    assert shown == {
        prep: "service (tea): open",
        str(tea["id"]): f"tea service (4 cups): accepted · {staff}",
        str(help_["id"]): f"IT help: done · {staff}",
    }
    assert str(before["id"]) not in shown and str(elsewhere["id"]) not in shown
    go_to(client, at(10, 5))  # ended: the room's cleaning task
    wait_for(lambda: "cleaning: open" in tasks_shown(organizer).values())
    assert tasks_shown(outsider) == {}
