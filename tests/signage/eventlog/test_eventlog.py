"""The event log (issue 13): every change writes its events in its own transaction;
the feed pages, filters and streams them; the dispatcher delivers them to consumers
from durable positions, retrying one that fails without blocking the others."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json

import httpx
import pytest
from bookings_helpers import at, book, iso, make_room
from doors_helpers import door_screen, go_to, meeting
from fixtures import api_token, in_app, refuses_bad_paging, rows, wait_for
from sqlalchemy import func, select

from signage.api import make_cursor
from signage.eventlog import dispatch
from signage.eventlog.dispatch import Dispatcher
from signage.eventlog.models import Event, EventConsumer


@pytest.fixture
def client(make_client):
    return make_client(test_clock=True)


def feed(client, headers, **params) -> dict:
    r = client.get("/api/v1/events", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def all_events(client, headers, after="0") -> list[dict]:
    got = feed(client, headers, after=after, limit=1000)
    return got["events"]


def kinds(events) -> list[tuple[str, str]]:
    return [(e["type"], e["subject"]) for e in events]


def test_every_kind_of_change_writes_exactly_its_events_in_order(client):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    approval = make_room(client, admin, name="Board", needs_approval=True)
    member = api_token(client, "member")
    assert kinds(all_events(client, admin)) == [
        ("room.created", f"room:{room['id']}"),
        ("room.created", f"room:{approval['id']}"),
    ]
    mark = feed(client, admin)["next"]

    one = meeting(client, admin, room["id"], hour=9, attendees=[{"name": "Li Lei", "email": "li@example.com"}])
    series = book(client, admin, room["id"], at(11), at(12), rrule="FREQ=DAILY;COUNT=2").json()
    r = client.patch(f"/api/v1/bookings/{one['id']}", json={"title": "Moved", "start": iso(at(9, 30))}, headers=admin)
    assert r.status_code == 200, r.text
    assert client.delete(f"/api/v1/bookings/{series['id']}?scope=series", headers=admin).status_code in (200, 204)
    pending = book(client, member, approval["id"], at(13), at(14)).json()
    rejected = book(client, member, approval["id"], at(15), at(16)).json()
    assert client.post(f"/api/v1/bookings/{pending['id']}/approve", json={}, headers=admin).status_code == 200
    r = client.post(f"/api/v1/bookings/{rejected['id']}/reject", json={"reason": "Board only"}, headers=admin)
    assert r.status_code == 200
    got = all_events(client, admin, mark)
    occurrences = [o["id"] for o in series["occurrences"]]
    assert kinds(got) == [
        ("booking.created", f"booking:{one['id']}"),
        *[("booking.created", f"booking:{i}") for i in occurrences],
        ("booking.updated", f"booking:{one['id']}"),
        *[("booking.cancelled", f"booking:{i}") for i in occurrences],
        ("booking.created", f"booking:{pending['id']}"),
        ("booking.created", f"booking:{rejected['id']}"),
        ("booking.approved", f"booking:{pending['id']}"),
        ("booking.rejected", f"booking:{rejected['id']}"),
    ]
    ids = [int(e["id"]) for e in got]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    created, updated = got[0], got[3]
    assert created["data"]["attendees"][0]["email"] == "li@example.com" and created["data"]["status"] == "confirmed"
    assert updated["data"]["title"] == "Moved" and updated["data"]["start"] == at(9, 30).astimezone(dt.UTC).isoformat()
    assert got[-1]["data"]["status"] == "rejected" and got[-1]["data"]["reason"] == "Board only"
    assert got[-2]["data"]["status"] == "confirmed"
    assert created["actor"].startswith("user:") and dt.datetime.fromisoformat(created["at"]).tzinfo is not None
    assert feed(client, admin, type="booking.cancelled", limit=1000)["events"] == got[4 : 4 + len(occurrences)]


def test_door_changes_no_shows_and_rooms_write_events(client):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    screen = door_screen(client, admin, room["id"])
    b = meeting(client, admin, room["id"], hour=10)
    released = meeting(client, admin, room["id"], hour=14)
    mark = feed(client, admin)["next"]
    go_to(client, at(10, 5))
    assert client.post(f"/api/v1/bookings/{b['id']}/check-in", headers=admin).status_code == 200
    assert client.post(f"/api/v1/bookings/{b['id']}/extend", json={"minutes": 15}, headers=admin).status_code == 200
    assert client.post(f"/api/v1/bookings/{b['id']}/end", headers=admin).status_code == 200
    go_to(client, at(12, 0))
    r = client.post(f"/player/api/rooms/{room['id']}/walkup", json={}, headers=screen["headers"])
    assert r.status_code == 200, r.text
    walk_up = r.json()["booking_id"]
    assert client.post(f"/player/api/rooms/{room['id']}/service", json={}, headers=screen["headers"]).status_code == 200
    go_to(client, at(14, 16))  # nobody checked in: released by the room timer
    wait_for(lambda: "booking.no_show" in [e["type"] for e in all_events(client, admin, mark)])
    wait_for(lambda: len([e for e in all_events(client, admin, mark) if e["type"].startswith("service_call.")]) == 4)
    got = all_events(client, admin, mark)
    # the service desk's events: a cleaning task after each meeting that ended, the door's call
    # escalated (nobody accepted it in two hours; booking_api/desk)
    cleaning = [e for e in got if e["type"] == "service_call.created" and e["data"]["origin"] == "meeting_end"]
    assert [e["data"]["after_booking_id"] for e in cleaning] == [b["id"], walk_up]
    escalated = [e for e in got if e["type"] == "service_call.escalated"]
    assert [e["data"]["origin"] for e in escalated] == ["door"]
    newest, got = got[-1]["id"], [e for e in got if e not in cleaning and e not in escalated]
    call = got[4]["data"]["id"]
    assert kinds(got) == [
        ("booking.checked_in", f"booking:{b['id']}"),
        ("booking.extended", f"booking:{b['id']}"),
        ("booking.ended", f"booking:{b['id']}"),
        ("booking.created", f"booking:{walk_up}"),
        ("service_call.created", f"service_call:{call}"),
        ("booking.no_show", f"booking:{released['id']}"),
    ]
    assert got[0]["data"]["check_in"]["via"] == "api" and got[1]["data"]["minutes"] == 15
    assert got[3]["actor"] == f"screen:{screen['id']}" and got[3]["data"]["walk_up"] is True
    assert got[4]["data"]["screen_id"] == screen["id"] and got[4]["data"]["room_id"] == room["id"]
    assert got[5]["actor"] == "system" and got[5]["data"]["status"] == "no_show"

    r = client.patch(f"/api/v1/rooms/{room['id']}", json={"capacity": 12}, headers=admin)
    assert r.status_code == 200, r.text
    spare = make_room(client, admin, name="Spare")
    assert client.delete(f"/api/v1/rooms/{spare['id']}", headers=admin).status_code == 204
    last = all_events(client, admin, newest)
    assert kinds(last) == [
        ("room.updated", f"room:{room['id']}"),
        ("room.created", f"room:{spare['id']}"),
        ("room.deleted", f"room:{spare['id']}"),
    ]
    assert last[0]["data"]["capacity"] == 12


def test_a_refused_or_rolled_back_change_writes_no_event(client):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    first = meeting(client, admin, room["id"], hour=9)
    second = meeting(client, admin, room["id"], hour=11)
    before = rows(client, select(func.count()).select_from(Event))
    assert book(client, admin, room["id"], at(9, 30), at(10, 30)).status_code == 409  # taken
    series = book(client, admin, room["id"], at(8, 30), at(9, 30), rrule="FREQ=DAILY;COUNT=3")
    assert series.status_code == 409  # its first occurrence clashes: nothing of it written
    r = client.patch(f"/api/v1/bookings/{second['id']}", json={"start": iso(at(9)), "end": iso(at(10))}, headers=admin)
    assert r.status_code == 409
    assert client.post(f"/api/v1/bookings/{first['id']}/check-in", headers=admin).status_code == 409  # not open yet
    assert client.post("/api/v1/rooms", json={"name": "Orchid", "capacity": 3}, headers=admin).status_code == 409
    assert rows(client, select(func.count()).select_from(Event)) == before


def test_a_change_rolled_back_after_its_events_were_written_leaves_none(client):
    """Issue 13.3: the events are flushed inside the change's transaction; a failure after
    `record` (before the commit) takes them back with the change and its audit entry."""
    from booking_api.bookings import changes
    from booking_api.models import Booking
    from signage.models import AuditEntry

    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    booked = meeting(client, admin, room["id"], hour=9)
    db = client.app.state.db
    count = select(func.count()).select_from(Event)
    before = rows(client, count)[0]
    audits = len(rows(client, select(AuditEntry)))

    async def change_then_fail():
        written = None
        with contextlib.suppress(RuntimeError):
            async with db.begin() as s:
                b = await s.get(Booking, booked["id"])
                b.title = "Renamed"
                await changes.record(s, "booking.updated", [b.id], "system", reason="doomed")
                written = await s.scalar(count)
                raise RuntimeError("after record, before the commit")
        return written

    assert in_app(client, change_then_fail) == before + 1  # written, in the transaction
    assert rows(client, count) == [before]
    assert client.get(f"/api/v1/bookings/{booked['id']}", headers=admin).json()["title"] == booked["title"]
    assert len(rows(client, select(AuditEntry))) == audits
    last = all_events(client, admin)[-1]["id"]
    meeting(client, admin, room["id"], hour=11)  # the next change: only its event follows
    assert [e["type"] for e in all_events(client, admin, after=last)] == ["booking.created"]


def test_the_feed_pages_filters_and_shows_each_caller_only_what_they_may_read(client):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    member, other = api_token(client, "member"), api_token(client, "member")
    me = client.get("/api/v1/me", headers=member).json()
    mine = [book(client, member, room["id"], at(h), at(h, 30)).json()["id"] for h in (8, 9, 10)]
    theirs = book(client, other, room["id"], at(11), at(11, 30)).json()["id"]
    invited = book(client, other, room["id"], at(12), at(12, 30), attendees=[{"name": "Me", "user_id": me["id"]}])
    invited = invited.json()["id"]

    pages, after = [], "0"
    while True:
        got = feed(client, member, after=after, limit=2, type="booking.")
        if not got["events"]:
            assert got["next"] == after
            break
        pages.append([int(e["subject"].split(":")[1]) for e in got["events"]])
        after = got["next"]
    assert pages == [mine[:2], [mine[2], invited]]  # the other's own booking is not theirs to read
    assert theirs not in sum(pages, [])
    assert [e["type"] for e in feed(client, member, type="room.")["events"]] == ["room.created"]
    everything = feed(client, admin, limit=1000)["events"]
    assert len([e for e in everything if e["type"] == "booking.created"]) == 5

    for params, field in [({"limit": "0x5"}, "limit"), ({"after": "-1"}, "after"), ({"type": "Booking*"}, "type"),
                          ({"since": "1"}, "since"), ({"limit": "1001"}, "limit"), ({"limit": "0"}, "limit")]:  # fmt: skip
        r = client.get("/api/v1/events", params=params, headers=member)
        assert r.status_code == 400 and r.json()["detail"]["field"] == field, (params, r.text)
    assert client.get("/api/v1/events").status_code == 401


def test_a_consumer_that_fails_is_retried_and_never_blocks_the_others(client):
    admin = api_token(client, "admin")
    db = client.app.state.db
    seen: dict[str, list[int]] = {"steady": [], "flaky": []}
    failures = {"left": 2}

    async def steady(_s, events):
        seen["steady"].extend(e.id for e in events)

    async def flaky(_s, events):
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("the channel is down")
        seen["flaky"].extend(e.id for e in events)

    async def start():
        d = Dispatcher(db)
        d.follow("steady", steady)
        d.follow("flaky", flaky)
        await d.start()
        return d

    dispatcher = in_app(client, start)
    try:
        room = make_room(client, admin, name="Orchid")
        ids = [int(e["id"]) for e in feed(client, admin, limit=1000)["events"]]
        booked = meeting(client, admin, room["id"], hour=9)
        ids = [int(e["id"]) for e in feed(client, admin, limit=1000)["events"]]
        wait_for(lambda: seen["steady"] == ids)
        assert failures["left"] > 0 or seen["flaky"] in ([], ids)  # steady did not wait for flaky's retries
        wait_for(lambda: seen["flaky"] == ids, timeout=30)  # retried after 1 s, then 2 s
        [flaky_row] = rows(client, select(EventConsumer).where(EventConsumer.name == "flaky"))
        assert flaky_row.position == ids[-1] and flaky_row.failures == 0 and flaky_row.last_error == ""
        assert booked["id"]
    finally:
        in_app(client, dispatcher.stop)

    # Positions are durable: a new dispatcher (a restart) goes on from them, delivering nothing twice.
    meeting(client, admin, room["id"], hour=10)
    newest = int(feed(client, admin, limit=1000)["events"][-1]["id"])
    again: list[int] = []

    async def restart():
        d = Dispatcher(db)

        async def steady_again(_s, events):
            again.extend(e.id for e in events)

        d.follow("steady", steady_again)
        await d.start()
        return d

    dispatcher = in_app(client, restart)
    try:
        wait_for(lambda: again == [newest])
    finally:
        in_app(client, dispatcher.stop)


def test_a_handler_s_writes_roll_back_with_its_failure(client):
    """The consumer's position and its own writes are one transaction: a failing handler
    leaves neither its writes nor a moved position."""
    admin = api_token(client, "admin")
    db = client.app.state.db
    from signage.models import AuditEntry

    calls = {"n": 0}

    async def writer(s, events):
        calls["n"] += 1
        s.add(AuditEntry(action="consumer.wrote", target=f"event:{events[-1].id}"))
        await s.flush()
        if calls["n"] == 1:
            raise RuntimeError("after writing")

    async def start():
        d = Dispatcher(db)
        d.follow("writer", writer)
        await d.start()
        return d

    dispatcher = in_app(client, start)
    try:
        make_room(client, admin, name="Orchid")
        wait_for(lambda: calls["n"] >= 2, timeout=30)
        wait_for(lambda: rows(client, select(AuditEntry).where(AuditEntry.action == "consumer.wrote")))
        assert len(rows(client, select(AuditEntry).where(AuditEntry.action == "consumer.wrote"))) == 1
    finally:
        in_app(client, dispatcher.stop)


def test_the_feed_streams_live_and_resumes_from_last_event_id(make_server, redis_url):
    """Two processes behind Redis: a stream opened on one sees a change made on the other,
    and a reconnect with Last-Event-ID gets exactly what it missed."""
    from fixtures import make_token, server_settings

    a, b = make_server(SIGNAGE_REDIS_URL=redis_url), make_server(SIGNAGE_REDIS_URL=redis_url)
    admin = make_token(server_settings(a), "admin")
    r = httpx.post(f"{b.url}/api/v1/rooms", json={"name": "Orchid", "capacity": 4}, headers=admin)
    assert r.status_code == 201, r.text
    room = r.json()["id"]
    seen: list[dict] = []

    def read(base, headers, count):
        with httpx.stream(
            "GET", f"{base}/api/v1/events", headers={**headers, "Accept": "text/event-stream"}, timeout=30
        ) as s:
            for line in s.iter_lines():
                if line.startswith("data:"):
                    seen.append(json.loads(line[5:]))
                    if len(seen) >= count:
                        return

    import threading

    reader = threading.Thread(target=read, args=(a.url, admin, 3))
    reader.start()
    wait_for(lambda: seen)  # the room's event, from the log
    for hour in (9, 10):
        body = {"room_id": room, "title": "Sync", "start": iso(at(hour)), "end": iso(at(hour, 30))}
        assert httpx.post(f"{b.url}/api/v1/bookings", json=body, headers=admin).status_code == 201
    reader.join(30)
    assert [e["type"] for e in seen] == ["room.created", "booking.created", "booking.created"]
    body = {"room_id": room, "title": "Missed", "start": iso(at(11)), "end": iso(at(11, 30))}
    assert httpx.post(f"{b.url}/api/v1/bookings", json=body, headers=admin).status_code == 201
    resumed = len(seen)
    read(a.url, {**admin, "Last-Event-ID": seen[1]["id"]}, resumed + 2)
    assert [e["data"]["title"] for e in seen[resumed:]] == ["Sync", "Missed"]


def test_event_ids_follow_commit_order_under_concurrent_writers(client):
    """PostgreSQL numbers rows when inserted, not when committed: the log's lock makes the two
    agree, so whatever a reader sees committed has no gap a later commit could fill (a
    follower reading `id > position` would skip that event for good)."""
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")["id"]
    db = client.app.state.db
    from signage.eventlog import log

    async def run():
        first_written, second_done = asyncio.Event(), asyncio.Event()
        seen = {}

        async def first():
            async with db.begin() as s:
                await log.record(s, "room.updated", f"room:{room}", {"n": 1}, "system")
                first_written.set()
                with contextlib.suppress(TimeoutError):  # the second one commits meanwhile, unless it waits
                    await asyncio.wait_for(second_done.wait(), 2)

        async def second():
            await first_written.wait()
            async with db.begin() as s:
                await log.record(s, "room.updated", f"room:{room}", {"n": 2}, "system")
            async with db.session() as s:
                seen["ids"] = list(await s.scalars(select(Event.id).order_by(Event.id)))
            second_done.set()

        await asyncio.gather(first(), second())
        return seen["ids"]

    ids = in_app(client, run)
    assert ids == list(range(ids[0], ids[0] + len(ids))) and len(ids) == 3


def test_etags_and_if_match_never_lose_an_update(client):
    """Two OA systems edit one booking (or room): the second, holding a stale ETag, gets 412
    with the current ETag and changes nothing; 201 answers say where the new one is."""
    admin = api_token(client, "admin")
    r = client.post("/api/v1/rooms", json={"name": "Orchid", "capacity": 4}, headers=admin)
    assert r.status_code == 201 and r.headers["location"] == f"/api/v1/rooms/{r.json()['id']}"
    room = r.json()
    r = book(client, admin, room["id"], at(9), at(10))
    assert r.status_code == 201 and r.headers["location"] == f"/api/v1/bookings/{r.json()['id']}"
    url = r.headers["location"]
    first = client.get(url, headers=admin)
    tag = first.headers["etag"]
    assert tag.startswith('"') and client.get(url, headers=admin).headers["etag"] == tag
    assert client.get(url, headers={**admin, "If-None-Match": tag}).status_code == 304

    r = client.patch(url, json={"title": "A"}, headers={**admin, "If-Match": tag})
    assert r.status_code == 200 and r.headers["etag"] != tag
    newer = r.headers["etag"]
    assert client.get(url, headers=admin).headers["etag"] == newer
    stale = client.patch(url, json={"title": "B"}, headers={**admin, "If-Match": tag})
    assert stale.status_code == 412 and stale.headers["etag"] == newer
    assert stale.json()["error"] == "precondition_failed" and stale.json()["detail"]["etag"] == newer
    assert client.delete(url, headers={**admin, "If-Match": tag}).status_code == 412
    assert client.get(url, headers=admin).json()["title"] == "A"
    assert client.delete(url, headers={**admin, "If-Match": newer}).status_code == 200

    room_url = f"/api/v1/rooms/{room['id']}"
    tag = client.get(room_url, headers=admin).headers["etag"]
    assert client.patch(room_url, json={"capacity": 6}, headers={**admin, "If-Match": tag}).status_code == 200
    r = client.patch(room_url, json={"capacity": 9}, headers={**admin, "If-Match": tag})
    assert r.status_code == 412 and client.get(room_url, headers=admin).json()["capacity"] == 6
    assert client.delete(room_url, headers={**admin, "If-Match": tag}).status_code == 412
    assert client.patch(room_url, json={"capacity": 7}, headers={**admin, "If-Match": "*"}).status_code == 200


def test_a_retry_with_the_same_json_differently_written_is_the_same_request(client):
    """Issue 13 point 9: an OA system that re-serialises its body (key order, spacing) on retry
    gets the first answer, not a 400 (the key stood for the bytes)."""
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    body = {"room_id": room["id"], "title": "Review", "start": iso(at(9)), "end": iso(at(10))}
    headers = {**admin, "Idempotency-Key": "oa-9", "Content-Type": "application/json"}
    first = client.post("/api/v1/bookings", content=json.dumps(body), headers=headers)
    again = client.post("/api/v1/bookings", content=json.dumps(dict(reversed(body.items())), indent=2), headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/api/v1/bookings", content=json.dumps({**body, "title": "Other"}), headers=headers)
    assert other.status_code == 400


def test_every_api_write_takes_an_idempotency_key(client):
    """Issue 13 point 9: a retried PATCH, DELETE or POST with its key is answered once."""
    admin = api_token(client, "admin")

    def send(method, url, key, body=None):
        return client.request(method, url, json=body, headers={**admin, "Idempotency-Key": key})

    r = send("POST", "/api/v1/rooms", "room-1", {"name": "Orchid", "capacity": 4})
    again = send("POST", "/api/v1/rooms", "room-1", {"capacity": 4, "name": "Orchid"})
    assert r.status_code == again.status_code == 201 and again.json() == r.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(client.get("/api/v1/rooms", headers=admin).json()) == 1
    room = r.json()["id"]
    assert send("POST", "/api/v1/rooms", "room-1", {"name": "Lotus", "capacity": 4}).status_code == 400

    first = send("PATCH", f"/api/v1/rooms/{room}", "cap", {"capacity": 6})
    assert first.status_code == 200
    assert client.patch(f"/api/v1/rooms/{room}", json={"capacity": 8}, headers=admin).status_code == 200
    replayed = send("PATCH", f"/api/v1/rooms/{room}", "cap", {"capacity": 6})
    assert (
        replayed.json()["capacity"] == 6 and client.get(f"/api/v1/rooms/{room}", headers=admin).json()["capacity"] == 8
    )

    refused = send("POST", "/api/v1/rooms", "dup", {"name": "Orchid", "capacity": 4})
    assert refused.status_code == 409  # not stored: the key is free for a corrected retry
    assert send("POST", "/api/v1/rooms", "dup", {"name": "Orchid", "capacity": 4}).status_code == 409
    assert send("DELETE", f"/api/v1/rooms/{room}", "gone").status_code == 204
    assert send("DELETE", f"/api/v1/rooms/{room}", "gone").status_code == 204  # not 404: the same answer
    assert client.delete(f"/api/v1/rooms/{room}", headers=admin).status_code == 404


def test_the_bookings_list_pages_with_a_cursor_and_filters(client):
    """Issue 13 point 7: pages of `limit` with the next one in `Link`, filters, unknown parameters refused."""
    admin = api_token(client, "admin")
    member = api_token(client, "member")
    me = client.get("/api/v1/me", headers=member).json()
    room = make_room(client, admin, name="Orchid")
    ids = [meeting(client, admin, room["id"], hour=h, title=f"Weekly {h}")["id"] for h in (8, 9, 10, 11, 12)]
    mine = book(client, member, room["id"], at(13), at(14), title="Member's").json()["id"]
    invited = book(client, admin, room["id"], at(15), at(16), attendees=[{"name": "X", "email": "Li@Example.com"}])
    invited = invited.json()["id"]

    seen, url = [], "/api/v1/bookings?limit=2"
    while url:
        r = client.get(url, headers=admin)
        assert r.status_code == 200, r.text
        seen += [b["id"] for b in r.json()]
        link = r.headers.get("link")
        url = link[1 : link.index(">")] if link else None
        assert not link or link.endswith('rel="next"')
    assert seen == [*ids, mine, invited]

    def ids_of(**params):
        r = client.get("/api/v1/bookings", params=params, headers=admin)
        assert r.status_code == 200, r.text
        return [b["id"] for b in r.json()]

    assert ids_of(organizer_id=me["id"]) == [mine]
    assert ids_of(attendee="li@example.com") == [invited] == ids_of(q="Sync")
    assert ids_of(q="weekly 1") == ids[2:5] and ids_of(q="%") == []
    assert ids_of(updated_since="2000-01-01") == seen and ids_of(updated_since="2999-01-01") == []
    # a time without its offset was a 500 (a naive datetime reached the UTC column)
    forged = [make_cursor("audit", iso(at(8)), ids[0]), make_cursor("bookings", iso(at(8))[:19], ids[0])]
    forged += [make_cursor(iso(at(8)), ids[0]), make_cursor("bookings", ids[0])]  # the cursors it gave before
    refuses_bad_paging(client, "/api/v1/bookings", admin, forged)


def test_processes_starting_together_on_a_new_database_make_one_position(client):
    """`signage serve --workers 2` on a new database: each process's dispatcher finds no
    position for its consumers and makes one; the second must not fail its start (it did:
    an IntegrityError on PostgreSQL, and the worker's lifespan with it)."""
    db = client.app.state.db

    async def nothing(_s, _events):
        pass

    async def start_together():
        dispatchers = [Dispatcher(db), Dispatcher(db)]
        for d in dispatchers:
            d.follow("together", nothing)
        try:
            await asyncio.gather(*(d.start() for d in dispatchers))
        finally:
            for d in dispatchers:
                await d.stop()

    in_app(client, start_together)
    assert [c.name for c in rows(client, select(EventConsumer).where(EventConsumer.name == "together"))] == ["together"]


def test_healthz_shows_what_the_dispatcher_delivered(client):
    admin = api_token(client, "admin")
    make_room(client, admin, name="Orchid")
    newest = int(all_events(client, admin)[-1]["id"])

    def caught_up():
        live = client.get("/healthz").json()["event_log"]["consumers"]["live"]
        return live["position"] == newest and live

    live = wait_for(caught_up)
    assert live["behind"] == 0 and live["delivered"] == 1 and live["failures"] == 0


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # several processes: PostgreSQL
def test_an_event_committed_while_another_process_delivers_is_not_left_for_a_poll(client, monkeypatch):
    """Process A delivers a batch (it read the log before B's commit); B's commit wakes only B,
    whose dispatcher finds the consumer taken (SKIP LOCKED). B looks again shortly instead of
    a poll later: with polls an hour apart, the event is still delivered after A's batch."""
    monkeypatch.setattr(dispatch, "POLL_SECONDS", 3600.0)
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")["id"]
    db = client.app.state.db
    from signage.eventlog import log

    async def run():
        entered, got = asyncio.Event(), {}

        async def slow(_s, events):  # process A: holds the consumer 0.3 s
            entered.set()
            await asyncio.sleep(0.3)
            got.setdefault("a", []).extend(e.id for e in events)

        async def quick(_s, events):  # process B
            got.setdefault("b", []).extend(e.id for e in events)

        a, b = Dispatcher(db), Dispatcher(db)
        a.follow("crossing", slow)
        b.follow("crossing", quick)
        await a.start()
        db.on_events.remove(a.wake)  # A hears of other processes' commits only by polling
        try:
            async with db.begin() as s:
                await log.record(s, "room.updated", f"room:{room}", {"n": 1})
            a.wake()  # as A's own commit would
            await asyncio.wait_for(entered.wait(), 10)  # A has the consumer
            await b.start()
            async with db.begin() as s:  # B's commit, while A delivers
                await log.record(s, "room.updated", f"room:{room}", {"n": 2})
            deadline = asyncio.get_running_loop().time() + 30  # generous: a poll is an hour away
            while sum(map(len, got.values())) < 2 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            return got
        finally:
            await a.stop()
            await b.stop()

    got = in_app(client, run)
    # the second event is delivered once, without waiting for a poll: by B once A let the
    # consumer go, or by A itself if it looked again before B did (both are right)
    delivered = got["a"] + got.get("b", [])
    assert len(delivered) == 2 and len(set(delivered)) == 2 and delivered == sorted(delivered), got
