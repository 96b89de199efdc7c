"""The dispatcher (issue 13, point 4): a consumer that hangs is cut off and never holds up
the others; old events are pruned; pages and screens follow the log (the `live` consumer)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest
from bookings_helpers import at, iso, make_room
from doors_helpers import meeting
from fixtures import api_token, in_app, rows, run_sync, wait_for
from sqlalchemy import select

from signage.db import Database, utcnow
from signage.eventlog import log
from signage.eventlog.api import publish_live
from signage.eventlog.dispatch import Dispatcher
from signage.eventlog.models import Event, EventConsumer
from signage.models import AuditEntry
from signage.settings import Settings


def consumer_row(client, name: str) -> EventConsumer:
    [row] = rows(client, select(EventConsumer).where(EventConsumer.name == name))
    return row


def newest_event(client) -> int:
    return max(e.id for e in rows(client, select(Event)))


def test_a_consumer_that_hangs_is_cut_off_and_never_holds_up_the_others(client, caplog):
    """A handler that never returns (a publish to a stuck bus): the other consumers go on
    receiving every event meanwhile; after its time limit it is cancelled, a warning names
    it, and it is retried with back-off until it takes the events."""
    admin = api_token(client, "admin")
    db = client.app.state.db
    hanging, seen = {"now": False}, {"steady": [], "while_hanging": [], "stuck": []}

    async def stuck(_s, events):
        seen["stuck"].append([e.id for e in events])
        if len(seen["stuck"]) == 1:
            hanging["now"] = True
            try:
                await asyncio.Event().wait()  # never set: it never returns
            finally:
                hanging["now"] = False

    async def steady(_s, events):
        seen["steady"].extend(e.id for e in events)
        if hanging["now"]:
            seen["while_hanging"].extend(e.id for e in events)

    async def start():
        d = Dispatcher(db, delivery_seconds=8)  # long enough for the others to be seen going on
        d.follow("stuck", stuck, writes=False)
        d.follow("steady", steady)
        await d.start()
        return d

    caplog.set_level(logging.WARNING, "signage.eventlog")
    dispatcher = in_app(client, start)
    try:
        room = make_room(client, admin, name="Orchid")["id"]
        wait_for(lambda: hanging["now"])
        meeting(client, admin, room, hour=9)
        booked = newest_event(client)
        wait_for(lambda: booked in seen["steady"])
        assert booked in seen["while_hanging"], "the others waited for the one that hangs"
        wait_for(lambda: consumer_row(client, "stuck").failures == 1, timeout=60)
        assert consumer_row(client, "stuck").last_error == "no answer within 8 s"
        assert any("consumer stuck failed (no answer within 8 s)" in r.getMessage() for r in caplog.records)
        wait_for(lambda: len(seen["stuck"]) >= 2, timeout=60)  # retried after its back-off (1 s)
        assert seen["stuck"][1][-1] == booked and seen["stuck"][0][0] == seen["stuck"][1][0]  # the same events again
        wait_for(lambda: consumer_row(client, "stuck").position == booked)
        assert consumer_row(client, "stuck").failures == 0
    finally:
        in_app(client, dispatcher.stop)


def test_a_handler_cut_off_leaves_none_of_its_writes(client):
    """A consumer that writes (its queue rows) and then hangs: its transaction is rolled
    back when it is cut off (on SQLite the process's writes go on after), its position
    stays, and the retry writes once."""
    admin = api_token(client, "admin")
    db = client.app.state.db
    calls = {"n": 0}

    async def writer(s, events):
        calls["n"] += 1
        s.add(AuditEntry(action="consumer.wrote", target=f"event:{events[-1].id}"))
        await s.flush()
        if calls["n"] == 1:
            await asyncio.Event().wait()  # never returns

    async def start():
        d = Dispatcher(db, delivery_seconds=1)
        d.follow("writer", writer)
        await d.start()
        return d

    dispatcher = in_app(client, start)
    try:
        make_room(client, admin, name="Orchid")
        wait_for(lambda: calls["n"] >= 2, timeout=60)
        wait_for(lambda: rows(client, select(AuditEntry).where(AuditEntry.action == "consumer.wrote")))
        assert len(rows(client, select(AuditEntry).where(AuditEntry.action == "consumer.wrote"))) == 1
        assert make_room(client, admin, name="Peony")["id"]  # writes go on
        wait_for(lambda: consumer_row(client, "writer").position == newest_event(client))
    finally:
        in_app(client, dispatcher.stop)


def test_events_older_than_the_retention_are_pruned(database_url, make_client, monkeypatch):
    """SIGNAGE_EVENTS_RETENTION_DAYS: the dispatcher deletes older events when it starts
    (and every hour); younger ones stay."""
    monkeypatch.setenv("SIGNAGE_EVENTS_RETENTION_DAYS", "7")
    assert Settings.from_env().events_retention_days == 7

    async def seed():
        db = Database(database_url)
        try:
            async with db.begin() as s:
                for days in (8, 6):
                    await log.record(s, "room.updated", f"room:{days}", {"days": days})
                await s.flush()
                for e in (await s.scalars(select(Event))).all():
                    e.at = utcnow() - dt.timedelta(days=e.data["days"])
        finally:
            await db.close()

    run_sync(seed())
    client = make_client(events_retention_days=7)
    wait_for(lambda: [e.data["days"] for e in rows(client, select(Event))] == [6])

    async def prune_again():
        async with client.app.state.db.begin() as s:
            for e in (await s.scalars(select(Event))).all():
                e.at = utcnow() - dt.timedelta(days=7, minutes=1)
        await Dispatcher(client.app.state.db, retention_days=7).prune()

    in_app(client, prune_again)
    assert rows(client, select(Event)) == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the bus, not the database
def test_pages_and_screens_hear_of_changes_from_the_log(client):
    """The rooms' live channels are published by the `live` consumer from the event log:
    a booking made, moved to another room (both rooms told), a room changed; and the audit page."""
    admin = api_token(client, "admin")
    first, second = (make_room(client, admin, name=n)["id"] for n in ("Orchid", "Peony"))
    heard: list[tuple[str, dict]] = []

    async def listen(ready: asyncio.Event):
        async with client.app.state.bus.subscribe(f"room:{first}", f"room:{second}", "bookings", "audit") as sub:
            ready.set()
            async for message in sub:
                heard.append(message)

    async def start():
        ready = asyncio.Event()
        task = asyncio.create_task(listen(ready))
        await ready.wait()
        return task

    task = in_app(client, start)
    try:
        booking = meeting(client, admin, first, hour=9)["id"]
        wait_for(lambda: ("bookings", {"type": "booking", "rooms": [first]}) in heard)
        assert (f"room:{first}", {"type": "booking", "room_id": first}) in heard and (
            "audit",
            {"type": "audit"},
        ) in heard
        heard.clear()
        r = client.patch(f"/api/v1/bookings/{booking}", json={"room_id": second}, headers=admin)
        assert r.status_code == 200, r.text
        wait_for(lambda: ("bookings", {"type": "booking", "rooms": [first, second]}) in heard)
        assert (f"room:{first}", {"type": "booking", "room_id": first}) in heard
        moved = rows(client, select(Event).where(Event.type == "booking.updated"))
        assert moved[-1].data["moved_from"] == [first] and moved[-1].data["room_id"] == second
        heard.clear()
        assert client.patch(f"/api/v1/rooms/{second}", json={"capacity": 9}, headers=admin).status_code == 200
        wait_for(lambda: (f"room:{second}", {"type": "room", "room_id": second}) in heard)
    finally:
        in_app(client, lambda: _cancel(task))


async def _cancel(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_a_live_update_lost_to_a_crash_after_the_commit_is_still_delivered(client):
    """The change commits, the process dies before any publish (its dispatcher stopped): the
    next dispatcher reads the event from the log and tells the room's screens."""
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")["id"]
    app = client.app
    in_app(client, app.state.dispatcher.stop)  # nothing is published from here on
    body = {"room_id": room, "title": "Sync", "start": iso(at(9)), "end": iso(at(10))}
    assert client.post("/api/v1/bookings", json=body, headers=admin).status_code == 201
    heard: list = []

    async def restart():
        ready = asyncio.Event()

        async def listen():
            async with app.state.bus.subscribe(f"room:{room}") as sub:
                ready.set()
                async for message in sub:
                    heard.append(message)

        task = asyncio.create_task(listen())
        await ready.wait()
        d = Dispatcher(app.state.db)
        d.follow("live", publish_live(app.state.bus), writes=False)
        await d.start()
        return d, task

    d, task = in_app(client, restart)
    try:
        wait_for(lambda: (f"room:{room}", {"type": "booking", "room_id": room}) in heard)
    finally:
        in_app(client, d.stop)
        in_app(client, lambda: _cancel(task))


def test_a_consumer_is_handed_only_the_types_it_follows_and_never_one_twice(client):
    """`types`: batches without them are passed over (the position moves, written once caught
    up); the one that has them is delivered once, also after a restart."""
    admin = api_token(client, "admin")
    db = client.app.state.db
    handed: list[list[str]] = []

    async def cancels(_s, events):
        handed.append([e.type for e in events])

    async def start():
        d = Dispatcher(db)
        d.follow("cancels", cancels, types=("booking.cancelled",))
        await d.start()
        return d

    dispatcher = in_app(client, start)
    try:
        room = make_room(client, admin, name="Orchid")["id"]
        b = meeting(client, admin, room, hour=9)
        wait_for(lambda: consumer_row(client, "cancels").position == newest_event(client))  # written, caught up
        assert handed == []
        assert client.post(f"/api/v1/bookings/{b['id']}/cancel", json={}, headers=admin).status_code == 200
        wait_for(lambda: handed)
        assert [t for t in handed[0] if t == "booking.cancelled"] == ["booking.cancelled"]
        meeting(client, admin, room, hour=11)
        wait_for(lambda: consumer_row(client, "cancels").position == newest_event(client))
    finally:
        in_app(client, dispatcher.stop)
    again = in_app(client, start)
    try:
        make_room(client, admin, name="Peony")
        wait_for(lambda: consumer_row(client, "cancels").position == newest_event(client))
        assert len(handed) == 1  # nothing handed again
    finally:
        in_app(client, again.stop)


def test_consumers_far_apart_in_the_log_each_get_every_event_once_in_order(client):
    """The events read once for all consumers (`events_after`): one consumer reading the log
    from its start in small batches while another follows its end."""
    admin = api_token(client, "admin")
    db = client.app.state.db
    for name in ("Orchid", "Peony", "Iris"):
        make_room(client, admin, name=name)
    seen: dict[str, list[int]] = {"behind": [], "ahead": []}

    def collect(name):
        async def handler(_s, events):
            seen[name].extend(e.id for e in events)

        return handler

    async def start():
        d = Dispatcher(db)
        d.follow("behind", collect("behind"), from_start=True)
        d.follow("ahead", collect("ahead"), writes=False)
        await d.start()
        d.batch["behind"] = 2  # small batches, behind the other one all along (doubled when passed)
        return d

    first_new = newest_event(client) + 1
    dispatcher = in_app(client, start)
    try:
        room = make_room(client, admin, name="Lotus")["id"]
        for hour in (9, 10, 11, 12):
            meeting(client, admin, room, hour=hour)
        everything = sorted(e.id for e in rows(client, select(Event)))
        wait_for(lambda: seen["behind"][-1:] == everything[-1:] and seen["ahead"][-1:] == everything[-1:])
        assert seen["behind"] == everything
        assert seen["ahead"] == [i for i in everything if i >= first_new]
    finally:
        in_app(client, dispatcher.stop)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # PostgreSQL takes the row FOR UPDATE SKIP LOCKED
def test_two_dispatchers_on_one_sqlite_file_deliver_each_event_once(client):
    """Two processes' dispatchers on one SQLite file (here two databases in one loop, each
    with its own write lock): the batch is read before the write lock, so both may read it;
    the position moves only from where it was read, and the second delivery rolls back."""
    admin = api_token(client, "admin")
    handed: list[int] = []  # what the handlers saw: what they publish is not rolled back

    async def writer(s, events):
        handed.extend(e.id for e in events)
        for e in events:
            s.add(AuditEntry(action="consumer.wrote", target=f"event:{e.id}"))
        await asyncio.sleep(0.05)  # the other one reads meanwhile

    async def start():
        other = Database(client.app.state.db.url)
        ds = [Dispatcher(client.app.state.db, gather=0), Dispatcher(other, gather=0)]
        for d in ds:
            d.follow("writer", writer)
            await d.start()
        client.app.state.db.on_events.append(ds[1].wake)  # both woken by each commit, as two processes polling
        return ds, other

    (ds, other) = in_app(client, start)
    try:
        room = make_room(client, admin, name="Orchid")["id"]
        for hour in range(8, 20):
            meeting(client, admin, room, hour=hour)
        wait_for(lambda: consumer_row(client, "writer").position == newest_event(client))
        wrote = [a.target for a in rows(client, select(AuditEntry).where(AuditEntry.action == "consumer.wrote"))]
        assert len(wrote) == len(set(wrote)) and wrote
        assert sum(d.delivered.get("writer", 0) for d in ds) == len(wrote)
        assert sorted(handed) == sorted(set(handed)), "a batch handed to both processes"
    finally:
        client.app.state.db.on_events.remove(ds[1].wake)
        for d in ds:
            in_app(client, d.stop)
        in_app(client, other.close)


def test_the_event_logs_writers_let_the_others_go_first_and_are_never_starved(monkeypatch):
    """SQLite's one writer a process (`WriterQueue`): a background writer (a consumer's
    delivery) waiting beside another writer goes after it; with writers waiting all along it
    still goes after BACKGROUND_DEFER."""
    import signage.db

    monkeypatch.setattr(signage.db, "BACKGROUND_DEFER", 0.3)
    order: list[str] = []

    async def write(queue, name, background=False, hold=0.05):
        async with queue.background() if background else queue:
            order.append(name)
            await asyncio.sleep(hold)

    async def scenario():
        queue = signage.db.WriterQueue()
        first = asyncio.create_task(write(queue, "booking 1"))
        await asyncio.sleep(0.01)
        late = asyncio.create_task(write(queue, "consumer", background=True))
        await asyncio.sleep(0.01)
        await asyncio.gather(first, late, write(queue, "booking 2"))
        assert order == ["booking 1", "booking 2", "consumer"]

        order.clear()
        stop = asyncio.Event()

        async def bookings():  # a writer always waiting
            n = 0
            while not stop.is_set():
                n += 1
                await write(queue, f"booking {n}", hold=0.02)

        busy = [asyncio.create_task(bookings()) for _ in range(2)]
        await asyncio.sleep(0.01)
        started = asyncio.get_running_loop().time()
        await write(queue, "consumer", background=True)
        waited = asyncio.get_running_loop().time() - started
        stop.set()
        await asyncio.gather(*busy)
        assert 0.25 < waited < 1.0 and "consumer" in order

    asyncio.run(scenario())
