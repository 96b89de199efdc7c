"""Notifications by email (issue 14): a real SMTP server (aiosmtpd) on a free port, on
SQLite and PostgreSQL. Invitations are parsed with `email` and `icalendar`; the outbox
keeps what a stopped SMTP server could not take and delivers each message once."""

from __future__ import annotations

import datetime as dt
import re

import icalendar
import pytest
from bookings_helpers import at, book, iso, make_room
from doors_helpers import go_to
from fixtures import add_user, api_token, csrf, in_app, login, rows, wait_for
from mail_helpers import ATTENDEES, SITE, SmtpServer, mailing, smtp  # noqa: F401  (fixtures)
from sqlalchemy import select, update

from booking_api.models import GuestReply, Reply
from signage.models import AuditEntry, User
from signage.notify.models import Invitation, Message, Reminder
from signage.settings import Settings


def calendar_of(msg) -> tuple[icalendar.Calendar, bytes, str]:
    """The text/calendar part of the alternative: parsed, raw, and its method= parameter."""
    part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    raw = part.get_payload(decode=True)
    return icalendar.Calendar.from_ical(raw), raw, part.get_param("method")


def vevent(cal) -> icalendar.Event:
    (found,) = cal.walk("VEVENT")
    return found


def people(e) -> dict[str, dict]:
    found = e.get("attendee")
    found = found if isinstance(found, list) else [found]
    return {str(a).removeprefix("mailto:"): dict(a.params) for a in found}


def test_an_invitation_follows_rfc_5546_in_every_property(mailing, smtp):
    client = mailing()
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    r = book(client, admin, room["id"], at(9), at(10), title="Budget review", attendees=ATTENDEES, notes="Bring Q3")
    assert r.status_code == 201, r.text
    b = r.json()
    wait_for(lambda: len(smtp.inbox.mails) == 2)
    assert sorted(m[1][0] for m in smtp.inbox.mails) == ["han@example.com", "li@example.com"]
    assert {m[0] for m in smtp.inbox.mails} == {"rooms@example.com"}
    (msg,) = smtp.inbox.parsed("li@example.com")

    assert msg["From"].addresses[0].addr_spec == "rooms@example.com"
    assert msg["To"].addresses[0].display_name == "Li Lei"
    assert msg["Subject"].startswith("Invitation: Budget review")
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@example.com>")
    assert msg.get_content_type() == "multipart/mixed"
    alternative, attachment = msg.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, html, calendar = alternative.get_payload()
    assert [p.get_content_type() for p in (plain, html, calendar)] == ["text/plain", "text/html", "text/calendar"]
    assert all(p["Content-Transfer-Encoding"] == "base64" for p in (plain, html, calendar, attachment))
    assert "Budget review" in plain.get_content() and "Orchid" in plain.get_content()
    assert "Budget review" in html.get_content() and "<p>" in html.get_content()
    assert calendar.get_param("method") == "REQUEST" and calendar.get_param("charset") == "utf-8"
    assert attachment.get_filename() == "invite.ics" and attachment.get_content_disposition() == "attachment"

    cal, raw, method = calendar_of(msg)
    assert attachment.get_payload(decode=True) == raw
    assert b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n")  # CRLF survived (base64)
    assert str(cal["METHOD"]) == method == "REQUEST" and str(cal["VERSION"]) == "2.0"
    (tz,) = cal.walk("VTIMEZONE")
    assert str(tz["TZID"]) == "Asia/Shanghai"
    e = vevent(cal)
    assert str(e["UID"]) == f"booking-{b['id']}@example.com"
    assert int(e["SEQUENCE"]) == 0
    assert str(e["SUMMARY"]) == "Budget review" and str(e["LOCATION"]) == "Orchid"
    assert str(e["DESCRIPTION"]) == "Bring Q3" and str(e["STATUS"]) == "CONFIRMED"
    assert e["DTSTART"].dt == at(9) and e["DTEND"].dt == at(10)
    assert e["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert "DTSTAMP" in e
    organizer = e["ORGANIZER"]
    assert str(organizer) == "mailto:rooms@example.com"
    assert organizer.params["CN"] == client_user_name(client, b["organizer_id"])
    assert people(e) == {
        "li@example.com": {"CN": "Li Lei", "ROLE": "CHAIR", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"},
        "han@example.com": {"CN": "Han Meimei", "ROLE": "OPT-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"},
    }
    lines = raw.replace(b"\r\n ", b"").split(b"\r\n")  # unfolded; parameters in any order, CN quoted
    assert b'ATTENDEE;CN="Li Lei";PARTSTAT=NEEDS-ACTION;ROLE=CHAIR;RSVP=TRUE:mailto:li@example.com' in lines
    # the outbox says so
    sent = rows(client, select(Message).order_by(Message.id))
    assert [(m.state, m.kind, m.attempts) for m in sent] == [("sent", "invitation", 1)] * 2
    assert {m.key for m in sent} == {p["Message-ID"] for p in smtp.inbox.parsed()}


def client_user_name(client, user_id: int) -> str:
    (user,) = rows(client, select(User).where(User.id == user_id))
    return user.name or user.email


def test_a_change_raises_the_sequence_and_a_cancel_is_the_next_one(mailing, smtp):
    client = mailing()
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    other = make_room(client, admin, name="Lotus")
    b = book(client, admin, room["id"], at(9), at(10), attendees=ATTENDEES[:1]).json()
    wait_for(lambda: len(smtp.inbox.mails) == 1)
    patch = {"title": "Moved", "start": iso(at(11)), "end": iso(at(12)), "room_id": other["id"]}
    assert client.patch(f"/api/v1/bookings/{b['id']}", json=patch, headers=admin).status_code == 200
    wait_for(lambda: len(smtp.inbox.mails) == 2)
    assert client.delete(f"/api/v1/bookings/{b['id']}", headers=admin).status_code in (200, 204)
    wait_for(lambda: len(smtp.inbox.mails) == 3)
    first, moved, cancelled = smtp.inbox.parsed()
    sequences, uids = [], set()
    for msg, method in ((first, "REQUEST"), (moved, "REQUEST"), (cancelled, "CANCEL")):
        cal, _raw, param = calendar_of(msg)
        assert str(cal["METHOD"]) == param == method
        e = vevent(cal)
        sequences.append(int(e["SEQUENCE"]))
        uids.add(str(e["UID"]))
    assert sequences == [0, 1, 2] and uids == {f"booking-{b['id']}@example.com"}
    e = vevent(calendar_of(moved)[0])
    assert str(e["SUMMARY"]) == "Moved" and str(e["LOCATION"]) == "Lotus" and e["DTSTART"].dt == at(11)
    assert moved["Subject"].startswith("Updated: Moved")
    assert str(vevent(calendar_of(cancelled)[0])["STATUS"]) == "CANCELLED"
    assert cancelled["Subject"].startswith("Cancelled: Moved")
    (stored,) = rows(client, select(Invitation))
    assert stored.sequence == 2 and stored.cancelled


def test_a_series_is_one_vevent_and_its_occurrences_carry_recurrence_id(mailing, smtp):
    client = mailing()
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    r = book(
        client, admin, room["id"], at(9), at(10), title="Stand-up", rrule="FREQ=DAILY;COUNT=3", attendees=ATTENDEES
    )
    assert r.status_code == 201, r.text
    series = r.json()
    occurrences = series["occurrences"]
    uid = f"series-{series['series_id']}@example.com"
    wait_for(lambda: len(smtp.inbox.mails) == 2)  # one mail per VEVENT and attendee: not one per occurrence
    e = vevent(calendar_of(smtp.inbox.parsed("li@example.com")[0])[0])
    assert str(e["UID"]) == uid and int(e["SEQUENCE"]) == 0
    assert e["RRULE"]["FREQ"] == ["DAILY"] and e["DTSTART"].dt == at(9)
    assert "RECURRENCE-ID" not in e and "EXDATE" not in e

    # one occurrence cancelled: CANCEL under the series' UID with its RECURRENCE-ID
    second = occurrences[1]["id"]
    assert client.delete(f"/api/v1/bookings/{second}?scope=this", headers=admin).status_code in (200, 204)
    wait_for(lambda: len(smtp.inbox.parsed("li@example.com")) == 2)
    cal, _raw, method = calendar_of(smtp.inbox.parsed("li@example.com")[1])
    e = vevent(cal)
    assert method == "CANCEL" and str(e["UID"]) == uid and int(e["SEQUENCE"]) == 1
    assert e["RECURRENCE-ID"].dt == at(9, days=2)

    # one occurrence moved alone: REQUEST with the RECURRENCE-ID of the slot it had
    third = occurrences[2]["id"]
    patch = {"start": iso(at(14, days=3)), "end": iso(at(15, days=3)), "scope": "this"}
    assert client.patch(f"/api/v1/bookings/{third}", json=patch, headers=admin).status_code == 200
    wait_for(lambda: len(smtp.inbox.parsed("li@example.com")) == 3)
    cal, _raw, method = calendar_of(smtp.inbox.parsed("li@example.com")[2])
    e = vevent(cal)
    assert method == "REQUEST" and str(e["UID"]) == uid and int(e["SEQUENCE"]) == 2
    assert e["RECURRENCE-ID"].dt == at(9, days=3) and e["DTSTART"].dt == at(14, days=3)

    # the whole series cancelled: CANCEL without RECURRENCE-ID, the next SEQUENCE
    first = occurrences[0]["id"]
    assert client.delete(f"/api/v1/bookings/{first}?scope=series", headers=admin).status_code in (200, 204)
    wait_for(lambda: len(smtp.inbox.parsed("li@example.com")) == 4)
    cal, _raw, method = calendar_of(smtp.inbox.parsed("li@example.com")[3])
    e = vevent(cal)
    assert method == "CANCEL" and str(e["UID"]) == uid and int(e["SEQUENCE"]) == 3 and "RECURRENCE-ID" not in e
    wait_for(lambda: len(smtp.inbox.mails) == 8)  # and the same to the other attendee


def test_approval_invites_and_tells_the_organizer_and_a_rejection_tells_them_in_their_language(mailing, smtp, backend):
    client = mailing()
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Board", needs_approval=True)
    member_email = login(client, "member")
    in_app(client, set_locale, client, member_email, "zh_CN")
    guest = {"name": "王芳", "email": "wang@example.com", "role": "required"}
    token = csrf(client)
    body = {"room_id": room["id"], "title": "季度会", "start": iso(at(9)), "end": iso(at(10)), "attendees": [guest]}
    pending = client.post("/api/v1/bookings", json=body, headers={"X-CSRF-Token": token})
    assert pending.status_code == 201 and pending.json()["status"] == "pending", pending.text
    body = {**body, "title": "Offsite", "start": iso(at(11)), "end": iso(at(12))}
    refused = client.post("/api/v1/bookings", json=body, headers={"X-CSRF-Token": token}).json()
    r = client.post(f"/api/v1/bookings/{pending.json()['id']}/approve", json={}, headers=admin)
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/bookings/{refused['id']}/reject", json={"reason": "Board only"}, headers=admin)
    assert r.status_code == 200, r.text
    wait_for(lambda: len(smtp.inbox.mails) == 3)
    (invitation,) = smtp.inbox.parsed("wang@example.com")  # only once approved; none while pending
    assert str(vevent(calendar_of(invitation)[0])["SUMMARY"]) == "季度会"
    told = {m["Subject"].split("：")[0]: m for m in smtp.inbox.parsed(member_email)}  # the organizer chose Chinese
    assert sorted(told) == ["预订已通过审批", "预订被拒绝"]
    assert told["预订已通过审批"]["Subject"].startswith("预订已通过审批：季度会")
    rejection = told["预订被拒绝"]
    assert rejection["Subject"].startswith("预订被拒绝：Offsite")
    assert not any(p.get_content_type() == "text/calendar" for p in rejection.walk())
    text = next(p for p in rejection.walk() if p.get_content_type() == "text/plain").get_content()
    assert "Board only" in text and "原因" in text
    assert invitation["Subject"].startswith("Invitation: 季度会")  # a guest without a user: the site's language


async def set_locale(client, email_address: str, locale: str) -> None:
    async with client.app.state.db.begin() as s:
        await s.execute(update(User).where(User.email == email_address).values(locale=locale))


def test_saving_a_booking_never_waits_for_smtp(mailing, smtp):
    """The POST answers while the SMTP server holds the invitation in its DATA step."""
    client = mailing()
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    smtp.inbox.gate.clear()
    first = book(client, admin, room["id"], at(9), at(10), attendees=ATTENDEES[:1])
    assert first.status_code == 201
    assert smtp.inbox.holding.wait(30)  # the worker is inside the SMTP conversation, stuck
    second = book(client, admin, room["id"], at(11), at(12), attendees=ATTENDEES[:1])
    assert second.status_code == 201 and not smtp.inbox.mails  # answered while nothing got through
    smtp.inbox.gate.set()
    wait_for(lambda: len(smtp.inbox.mails) == 2)


def test_smtp_down_then_up_delivers_every_mail_once_across_restarts(mailing, smtp, make_client):
    client = mailing(up=False)  # nothing listens on the port
    client.app.state.outbox.retry_seconds = 0.2
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    for hour in (8, 9, 10):
        assert book(client, admin, room["id"], at(hour), at(hour, 30), attendees=ATTENDEES).status_code == 201

    def tried_twice():
        found = rows(client, select(Message))
        return len(found) == 6 and all(m.attempts >= 2 for m in found)

    wait_for(tried_twice)  # every booking's mails queued, and refused twice
    queued = rows(client, select(Message))
    assert len(queued) == 6 and {m.state for m in queued} <= {"queued", "sending"}
    assert "ConnectionRefused" in queued[0].last_error or "connect" in queued[0].last_error.lower()
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["notify"]["email"]["enabled"]
    client.__exit__(None, None, None)  # the server stops with everything still queued

    smtp.start()
    again = [mailing() for _ in range(2)]  # two processes' worth of workers on one database
    for c in again:
        c.app.state.outbox.retry_seconds = 0.2
    wait_for(lambda: len(smtp.inbox.mails) >= 6)
    wait_for(lambda: {m.state for m in rows(again[0], select(Message))} == {"sent"})
    ids = [m["Message-ID"] for m in smtp.inbox.parsed()]
    assert sorted(ids) == sorted(m.key for m in queued)  # every one, none twice
    assert sum(c.app.state.outbox.sent for c in again) == 6


def test_the_admin_page_lists_the_outbox_and_retries_and_health_tells_a_failing_channel(mailing, smtp):
    client = mailing(up=False)
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    book(client, admin, room["id"], at(9), at(10), title="Sync", attendees=ATTENDEES[:1])
    wait_for(lambda: rows(client, select(Message).where(Message.attempts >= 1)))
    in_app(client, give_up, client)
    wait_for(lambda: rows(client, select(Message))[0].state == "failed")
    health = client.get("/healthz").json()["notify"]["email"]
    assert health["failing"] is True and health["failed_today"] == 1 and health["last_error"]

    login(client, "admin")
    page = client.get("/admin/notifications")
    assert page.status_code == 200
    assert "Email keeps failing" in page.text and "li@example.com" in page.text and "Failed" in page.text
    assert 'href="/admin/notifications"' in page.text
    (m,) = rows(client, select(Message))
    assert "li@example.com" not in client.get("/admin/notifications?state=sent").text
    assert "li@example.com" in client.get("/admin/notifications?state=failed&recipient=LI@").text
    assert client.get("/admin/notifications?state=nonsense&kind=%00").status_code == 200
    assert client.post(f"/admin/notifications/{m.id}/retry").status_code == 403  # no CSRF token
    smtp.start()
    r = client.post(f"/admin/notifications/{m.id}/retry", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303
    wait_for(lambda: len(smtp.inbox.mails) == 1)
    wait_for(lambda: rows(client, select(Message))[0].state == "sent")
    r = client.post(f"/admin/notifications/{m.id}/retry", data={"csrf_token": csrf(client)})
    assert r.status_code == 409 and "sent already" in r.text
    assert client.post("/admin/notifications/999999/retry", data={"csrf_token": csrf(client)}).status_code == 404
    assert client.get("/healthz").json()["notify"]["email"]["failing"] is False


async def give_up(client) -> None:
    """The message has been tried for a day."""
    async with client.app.state.db.begin() as s:
        old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
        await s.execute(update(Message).values(created_at=old))
    client.app.state.outbox.retry_seconds = 0.05
    client.app.state.outbox.wake()


def test_email_off_queues_nothing_and_the_page_says_so(make_client):
    client = make_client()
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    assert book(client, admin, room["id"], at(9), at(10), attendees=ATTENDEES).status_code == 201
    login(client, "admin")
    assert "Email is off" in client.get("/admin/notifications").text
    assert client.get("/healthz").json()["notify"] == {"email": {"enabled": False}}
    assert rows(client, select(Message)) == []


@pytest.mark.parametrize(
    ("url", "sender", "error"),
    [
        ("http://mail.example.com", SITE, "must start with smtp://"),
        ("smtp://:25", SITE, "names no host"),
        ("smtp://mail.example.com:99999", SITE, "not a number"),
        ("smtp://mail.example.com/path", SITE, "no path"),
        ("smtp://mail.example.com", "", "SIGNAGE_MAIL_FROM is needed"),
        ("smtp://mail.example.com", "rooms", "not an email address"),
    ],
)
def test_a_wrong_smtp_setting_says_what_is_wrong(url, sender, error):
    with pytest.raises(ValueError, match=error):
        Settings(smtp_url=url, mail_from=sender)


def test_smtp_urls():
    s = Settings(smtp_url="smtps://me%40corp:p%3Aw@smtp.example.com", mail_from=SITE).smtp
    assert (s.host, s.port, s.tls, s.starttls, s.username, s.password) == (
        "smtp.example.com", 465, True, False, "me@corp", "p:w"
    )  # fmt: skip
    assert str(s) == "smtps://me@corp@smtp.example.com:465"  # no password shown
    s = Settings(smtp_url="smtp+starttls://u:p@mail.example.com", mail_from=SITE).smtp
    assert (s.port, s.tls, s.starttls) == (587, False, True)
    assert Settings(smtp_url="smtp://relay:2525", mail_from=SITE).smtp.port == 2525
    assert Settings().smtp is None


def components(cal) -> dict:
    """(UID, RECURRENCE-ID) → (SEQUENCE, DTSTART, DTEND, ORGANIZER) of each VEVENT."""
    return {
        (str(e["UID"]), e["RECURRENCE-ID"].dt if "RECURRENCE-ID" in e else None): (
            int(e["SEQUENCE"]),
            e["DTSTART"].dt,
            e["DTEND"].dt,
            str(e["ORGANIZER"]),
        )
        for e in cal.walk("VEVENT")
    }


def test_the_feed_shows_the_vevents_the_mails_carry(mailing, smtp):
    """Issue 14 point 3: what a calendar app got by mail is what the feed says, VEVENT for VEVENT."""
    client = mailing()
    email = login(client, "member")
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    token = {"X-CSRF-Token": csrf(client)}
    people = [{"name": "Me", "email": email}, ATTENDEES[0]]
    series = book(client, token, room["id"], at(9), at(10), rrule="FREQ=DAILY;COUNT=3", attendees=people).json()
    single = book(client, token, room["id"], at(14), at(15), title="One-off", attendees=people).json()
    occ = [o["id"] for o in series["occurrences"]]
    wait_for(lambda: len(smtp.inbox.parsed("li@example.com")) == 2)
    moved = {"start": iso(at(16, days=2)), "end": iso(at(17, days=2)), "scope": "this"}
    assert client.patch(f"/api/v1/bookings/{occ[1]}", json=moved, headers=token).status_code == 200
    assert (
        client.patch(f"/api/v1/bookings/{single['id']}", json={"end": iso(at(15, 30))}, headers=token).status_code
        == 200
    )
    assert client.delete(f"/api/v1/bookings/{occ[2]}?scope=this", headers=token).status_code in (200, 204)
    wait_for(lambda: len(smtp.inbox.parsed("li@example.com")) == 5)

    sent: dict = {}
    for msg in smtp.inbox.parsed("li@example.com"):
        cal, _raw, method = calendar_of(msg)
        for key, value in components(cal).items():
            if method == "CANCEL":
                sent.pop(key, None)
            else:
                sent[key] = value
    url = re.search(r'class="m-feed-url" readonly value="([^"]+)"', client.get("/m/bookings").text).group(1)
    feed = components(icalendar.Calendar.from_ical(client.get(url.split("testserver")[1]).content))
    uid = f"series-{series['series_id']}@example.com"
    assert set(feed) == {(uid, None), (uid, at(9, days=2)), (f"booking-{single['id']}@example.com", None)}
    assert feed == sent
    assert feed[(uid, at(9, days=2))][:3] == (1, at(16, days=2), at(17, days=2))


SITE_URL = "http://rooms.test"


def answer_links(msg) -> dict[str, str]:
    """The Accept and Decline links of a mail (its text part), as paths of this site."""
    text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_content()
    found = dict(re.findall(r"^(Accept|Decline|接受|拒绝)[:：] ?(\S+)\s*$", text, re.M))
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()
    assert all(url.replace("&", "&amp;") in html for url in found.values())
    return {k: v.removeprefix(SITE_URL) for k, v in found.items()}


def answer_of(page: str) -> str:
    return re.search(r'class="answer[^"]*">[^<]*<strong>([^<]+)</strong>', page).group(1)


def test_the_signed_links_of_an_invitation_answer_it_without_signing_in(mailing, smtp):
    """Issue 14 point 4: Accept / Decline links, for guests and users; what the organizer sees."""
    client = mailing(public_url=SITE_URL, test_clock=True)
    admin = api_token(client, "admin")
    user_email = add_user(client, "member")
    room = make_room(client, admin, name="Orchid")
    people = [ATTENDEES[0], {"name": "Colleague", "email": user_email}]
    b = book(client, admin, room["id"], at(9), at(10), title="Budget", attendees=people).json()
    wait_for(lambda: len(smtp.inbox.mails) == 2)
    guest = answer_links(smtp.inbox.parsed("li@example.com")[0])
    colleague = answer_links(smtp.inbox.parsed(user_email)[0])
    assert set(guest) == {"Accept", "Decline"} and guest["Accept"] != colleague["Accept"]
    assert guest["Accept"].startswith("/invitations/answer/") and guest["Accept"].endswith("?answer=accept")

    visitor = mailing(public_url=SITE_URL)  # nobody signed in
    page = visitor.get(guest["Accept"])
    assert page.status_code == 200 and "Budget" in page.text and answer_of(page.text) == "No answer yet"
    path = guest["Accept"].split("?")[0]
    assert visitor.post(path, data={"answer": "accept"}).status_code == 403  # no CSRF token
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = visitor.post(path, data={"answer": "accept", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert answer_of(visitor.get(r.headers["location"]).text) == "Accepted"
    path = colleague["Decline"].split("?")[0]
    r = visitor.post(path, data={"answer": "decline", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    login(client, "admin")
    shown = client.get(f"/bookings/{b['id']}").text
    # the meeting's page (booking_api.meetings): each attendee's row with their answer
    assert re.search(r"li@example.com.*?answer accepted", shown, re.S)
    assert re.search(re.escape(user_email) + r".*?answer declined", shown, re.S)
    fragment = client.get(f"/bookings/{b['id']}", headers={"HX-Request": "true"}).text
    assert "<html" not in fragment and "answer accepted" in fragment  # the live fragment alone
    (reply,) = rows(client, select(Reply))
    (guest_reply,) = rows(client, select(GuestReply))
    assert (reply.answer, guest_reply.email, guest_reply.answer) == ("declined", "li@example.com", "accepted")
    # the feed says so too
    url = re.search(r'class="m-feed-url" readonly value="([^"]+)"', client.get("/m/bookings").text)
    entries = rows(client, select(AuditEntry).where(AuditEntry.action.startswith("invitation.")))
    assert sorted((e.action, e.user_email) for e in entries) == [
        ("invitation.accept", "li@example.com"), ("invitation.decline", user_email)
    ]  # fmt: skip
    assert url is not None

    # a link changed by a single character: a clear 400 page
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    r = visitor.get(forged)
    assert r.status_code == 400 and "This link is not valid" in r.text and "<html" in r.text
    # the meeting has ended: 410
    assert client.post("/api/v1/clock", json={"shift_seconds": 3 * 86400}, headers=admin).status_code == 200
    r = visitor.get(guest["Accept"])
    assert r.status_code == 410 and "has ended" in r.text


def test_a_cancelled_meeting_or_a_series_link(mailing, smtp):
    client = mailing(public_url=SITE_URL)
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    single = book(client, admin, room["id"], at(9), at(10), attendees=ATTENDEES[:1]).json()
    series = book(client, admin, room["id"], at(11), at(12), rrule="FREQ=DAILY;COUNT=3", attendees=ATTENDEES[:1])
    wait_for(lambda: len(smtp.inbox.mails) == 2)
    first, whole = (answer_links(m) for m in smtp.inbox.parsed("li@example.com"))
    visitor = mailing(public_url=SITE_URL)
    token = re.search(r'name="csrf_token" value="([^"]+)"', visitor.get(whole["Decline"]).text).group(1)
    r = visitor.post(whole["Decline"].split("?")[0], data={"answer": "decline", "csrf_token": token})
    assert r.status_code == 200 and "Declined" in r.text
    answers = rows(client, select(GuestReply).order_by(GuestReply.booking_id))
    assert [(a.booking_id, a.answer) for a in answers] == [(o["id"], "declined") for o in series.json()["occurrences"]]
    assert client.delete(f"/api/v1/bookings/{single['id']}", headers=admin).status_code in (200, 204)
    r = visitor.get(first["Accept"])
    assert r.status_code == 410 and "cancelled" in r.text
    r = visitor.post(first["Accept"].split("?")[0], data={"answer": "maybe", "csrf_token": token})
    assert r.status_code == 410  # what the link names goes first


def test_no_public_url_no_links(mailing, smtp):
    client = mailing()
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    book(client, admin, room["id"], at(9), at(10), attendees=ATTENDEES[:1])
    wait_for(lambda: len(smtp.inbox.mails) == 1)
    assert answer_links(smtp.inbox.parsed()[0]) == {}


def subjects(smtp, to: str) -> list[str]:
    return [str(m["Subject"]) for m in smtp.inbox.parsed(to)]


def test_reminders_before_each_meeting_once_with_two_workers_and_none_when_cancelled(mailing, smtp):
    """Issue 14 point 8: SIGNAGE_REMINDER_MINUTES before a meeting, to its attendees and organizer,
    queued once although two processes' workers scan the same database; none for a cancelled one."""
    workers = [mailing(test_clock=True, reminder_minutes=15) for _ in range(2)]
    for c in workers:
        c.app.state.outbox.reminder_seconds = 0.05
    client = workers[0]
    admin = api_token(client, "admin")
    organizer = rows(client, select(User).where(User.role == "admin"))[0].email
    rooms = [make_room(client, admin, name=name)["id"] for name in ("Orchid", "Lotus")]
    kept = book(client, admin, rooms[0], at(10), at(11), title="Kept", attendees=ATTENDEES[:1]).json()
    gone = book(client, admin, rooms[1], at(10), at(11), title="Gone", attendees=ATTENDEES[:1]).json()
    book(client, admin, rooms[1], at(13), at(14), title="Later", attendees=ATTENDEES[:1])
    assert client.delete(f"/api/v1/bookings/{gone['id']}", headers=admin).status_code in (200, 204)
    wait_for(lambda: len(smtp.inbox.parsed("li@example.com")) == 4)
    assert not [s for s in subjects(smtp, "li@example.com") if s.startswith("Reminder")]

    go_to(client, at(9, 50))
    wait_for(lambda: len(smtp.inbox.parsed("li@example.com")) == 5 and smtp.inbox.parsed(organizer))
    (reminder,) = smtp.inbox.parsed("li@example.com")[4:]
    assert str(reminder["Subject"]) == "Reminder: Kept at 10:00"
    text = next(p for p in reminder.walk() if p.get_content_type() == "text/plain").get_content()
    assert "This meeting starts in 10 minutes." in text and "Orchid" in text
    assert not any(p.get_content_type() == "text/calendar" for p in reminder.walk())
    assert subjects(smtp, organizer) == ["Reminder: Kept at 10:00"]
    scanned = [c.app.state.outbox.scans for c in workers]
    wait_for(lambda: all(c.app.state.outbox.scans >= n + 3 for c, n in zip(workers, scanned, strict=True)))
    assert len(smtp.inbox.parsed("li@example.com")) == 5 and len(smtp.inbox.parsed(organizer)) == 1
    (row,) = rows(client, select(Reminder))
    assert (row.booking_id, row.queued) == (kept["id"], 2)
    sent = rows(client, select(Message).where(Message.kind == "reminder"))
    assert len(sent) == 2 and {m.about for m in sent} == {f"booking:{kept['id']}"}

    # moved later: reminded again before its new start
    patch = {"start": iso(at(10, 30)), "end": iso(at(11, 30))}
    assert client.patch(f"/api/v1/bookings/{kept['id']}", json=patch, headers=admin).status_code == 200
    # its update handled (and mailed) before the clock jumps: handled after the jump, the move
    # would look made inside the reminder time, which gets no reminder (the invitation just went)
    wait_for(lambda: len(smtp.inbox.parsed("li@example.com")) == 6)
    go_to(client, at(10, 20))
    wait_for(lambda: subjects(smtp, "li@example.com")[-1:] == ["Reminder: Kept at 10:30"])
    assert [s for s in subjects(smtp, "li@example.com") if s.startswith("Reminder")] == [
        "Reminder: Kept at 10:00", "Reminder: Kept at 10:30"
    ]  # fmt: skip


def test_a_meeting_booked_within_the_reminder_time_gets_no_reminder(mailing, smtp):
    client = mailing(test_clock=True, reminder_minutes=30)
    client.app.state.outbox.reminder_seconds = 0.05
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    go_to(client, at(9, 45))
    book(client, admin, room["id"], at(10), at(11), attendees=ATTENDEES[:1])
    wait_for(lambda: rows(client, select(Reminder)))
    scanned = client.app.state.outbox.scans
    wait_for(lambda: client.app.state.outbox.scans >= scanned + 3)  # scans after it queued nothing
    assert [s.split(":")[0] for s in subjects(smtp, "li@example.com")] == ["Invitation"]
    assert rows(client, select(Reminder))[0].queued == 0


def test_the_organizer_is_told_when_a_no_show_is_released(mailing, smtp):
    client = mailing(test_clock=True)
    member = login(client, "member")
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    token = {"X-CSRF-Token": csrf(client)}
    assert book(client, token, room["id"], at(14), at(15), title="Demo", attendees=ATTENDEES[:1]).status_code == 201
    wait_for(lambda: smtp.inbox.parsed("li@example.com"))
    go_to(client, at(14, 16))  # the grace time (15 minutes) is over: released
    wait_for(lambda: [s for s in subjects(smtp, member) if s.startswith("Released")])
    (notice,) = [m for m in smtp.inbox.parsed(member) if str(m["Subject"]).startswith("Released")]
    assert str(notice["Subject"]).startswith("Released: Demo (")
    text = next(p for p in notice.walk() if p.get_content_type() == "text/plain").get_content()
    assert "Nobody checked in to this meeting in time" in text
    assert [m.kind for m in rows(client, select(Message).where(Message.recipient.contains(member)))] == ["no_show"]
    assert not [s for s in subjects(smtp, "li@example.com") if s.startswith("Released")]  # the organizer's news
