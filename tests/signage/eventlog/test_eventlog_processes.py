"""The event log across real server processes (issue 13, point 10): a process killed with
SIGKILL right after its commits loses no event, and two processes on one PostgreSQL
database deliver each event once per consumer.

What the tests watch is what the product shows: the `live` consumer's durable position
(`event_consumers`), each process's `/healthz` (`event_log`: position and `delivered` per
consumer), the feed `GET /api/v1/events`, and the live consumer's messages on the bus
channel "events" (each names its batch: first and last id, and how many), heard here
on Redis under a prefix of the test's own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import threading
import uuid

import httpx
import pytest
import redis
from bookings_helpers import at, iso
from fixtures import make_token, run_sync, server_settings, wait_for
from sqlalchemy import select, update

from signage.db import Database
from signage.eventlog.models import Event, EventConsumer

pytestmark = pytest.mark.slow


class Live:
    """The live consumer's messages on the bus channel "events", as they arrive (and on
    "bookings", what the availability pages hear, in `bookings`)."""

    def __init__(self, redis_url: str, prefix: str):
        self.client = redis.Redis.from_url(redis_url)
        self.channel = prefix + "events"
        self.pubsub = self.client.pubsub()
        self.pubsub.subscribe(self.channel, prefix + "bookings")
        self.bookings_channel = (prefix + "bookings").encode()
        self.markers: set[str] = set()
        subscribed = 0
        while subscribed < 2:  # subscribed before any server publishes
            m = self.pubsub.get_message(timeout=5)
            subscribed += bool(m and m["type"] == "subscribe")
        self.messages: list[dict] = []
        self.bookings: list[dict] = []
        self.stopping = False
        self.thread = threading.Thread(target=self.listen, daemon=True)
        self.thread.start()

    def listen(self) -> None:
        while not self.stopping:
            m = self.pubsub.get_message(timeout=0.1)
            if m and m["type"] == "message":
                data = json.loads(m["data"])
                if "marker" in data:
                    self.markers.add(data["marker"])
                else:
                    (self.bookings if m["channel"] == self.bookings_channel else self.messages).append(data)

    def flush(self) -> None:
        """Every message Redis took before now has been heard: a marker published after
        them comes back (a subscriber gets its channels' messages in the order Redis took them)."""
        marker = uuid.uuid4().hex
        self.client.publish(self.channel, json.dumps({"marker": marker}))
        wait_for(lambda: marker in self.markers)

    def close(self) -> None:
        self.stopping = True
        self.thread.join(5)
        self.pubsub.close()
        self.client.close()

    def delivered(self, ids: list[int], upto: int | None = None) -> list[int]:
        """The event ids the messages (the first `upto` of them) delivered, in order: each
        batch is the log's events from its first to its last id, as many as it says."""
        got: list[int] = []
        for m in self.messages[:upto]:
            batch = [i for i in ids if m["first"] <= i <= m["last"]]
            assert len(batch) == m["count"], (m, batch)
            got += batch
        return got


@pytest.fixture
def live_env(redis_url):
    """Server settings for Redis on a prefix of this test's own, and a listener on its "events"."""
    prefix = f"signage-test-{uuid.uuid4().hex[:8]}:"
    live = Live(redis_url, prefix)
    yield {"SIGNAGE_REDIS_URL": redis_url, "SIGNAGE_REDIS_PREFIX": prefix}, live
    live.close()


def in_db(url: str, fn):
    """`await fn(session)` in a transaction of a database of our own (not a server's)."""

    async def run():
        db = Database(url)
        try:
            async with db.begin() as s:
                return await fn(s)
        finally:
            await db.close()

    return run_sync(run())


def event_ids(url: str) -> list[int]:
    async def ids(s):
        return list(await s.scalars(select(Event.id).order_by(Event.id)))

    return in_db(url, ids)


def live_position(url: str) -> int:
    async def position(s):
        return (await s.get(EventConsumer, "live")).position

    return in_db(url, position)


def hold_live(url: str, until: dt.datetime | None) -> None:
    """Set the live consumer's retry time: the dispatchers leave it until then (its back-off)."""

    async def hold(s):
        await s.execute(update(EventConsumer).where(EventConsumer.name == "live").values(retry_at=until))

    in_db(url, hold)


def caught_up(url: str, *servers) -> int:
    """Wait until the live consumer's position is the newest event (every server says so); that id."""

    def check():
        newest = event_ids(url)[-1]
        for server in servers:
            live = httpx.get(server.url + "/healthz", timeout=5).json()["event_log"]["consumers"]["live"]
            if live["position"] != newest or live["behind"]:
                return None
        return newest

    return wait_for(check)


def slot(room: int, k: int, title: str = "Sync") -> dict:
    """Booking k of a room: its own quarter hour, from tomorrow 08:00 on."""
    start = at(8) + dt.timedelta(minutes=15 * k)
    return {"room_id": room, "title": f"{title} {k}", "start": iso(start), "end": iso(start + dt.timedelta(minutes=15))}


def kill(server) -> None:
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)


def test_a_server_killed_after_its_commits_loses_no_event(make_server, database_url, live_env):
    """SIGKILL after a commit, before delivery (the live consumer held in back-off, so the
    process certainly dies with its events undelivered), then SIGKILL right after a 201 under
    a burst of bookings (some commit with their answer lost): a new process on the same
    database delivers every event, in order; only a batch the killed process published
    without moving its position may come twice (at least once), nothing below its position."""
    env, live = live_env
    first = make_server(**env)
    admin = make_token(server_settings(first), "admin")
    r = httpx.post(first.url + "/api/v1/rooms", json={"name": "Orchid", "capacity": 4}, headers=admin)
    assert r.status_code == 201, r.text
    room = r.json()["id"]
    start = caught_up(database_url, first)

    # 1. Committed, answered 201, not delivered: the process dies holding them.
    hold_live(database_url, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    made = []
    for k in range(5):
        r = httpx.post(first.url + "/api/v1/bookings", json=slot(room, k), headers=admin, timeout=30)
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    kill(first)
    live.flush()  # anything it published has been heard
    assert live_position(database_url) == start
    assert live.delivered(event_ids(database_url)) == [start]  # nothing of the bookings went out
    assert [m for m in live.bookings if m["type"] == "booking"] == []  # nor the pages: they follow the log
    hold_live(database_url, None)

    second = make_server(**env)
    newest = caught_up(database_url, second)
    ids = event_ids(database_url)
    assert live.delivered(ids) == ids  # each once, in order
    assert newest == ids[-1] and len(ids) == 1 + len(made)
    wait_for(lambda: {"type": "booking", "rooms": [room]} in live.bookings)  # the pages hear of them now

    # 2. A burst through the second process, killed the moment its first 201 arrives.
    async def burst():
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=40)) as c:
            tasks = [asyncio.ensure_future(c.post(second.url + "/api/v1/bookings", json=slot(room, 10 + k), headers=admin)) for k in range(40)]  # fmt: skip
            answered = []
            for done in asyncio.as_completed(tasks):
                try:
                    r = await done
                except httpx.HTTPError:
                    continue
                if r.status_code == 201:
                    answered.append(r.json()["id"])
                    if len(answered) == 1:
                        kill(second)
            return answered

    answered = run_sync(burst())
    assert answered
    held = live_position(database_url)  # what the killed process had moved the position to
    live.flush()  # whatever it published before it died has reached the listener
    before_restart = len(live.messages)

    third = make_server(**env)
    caught_up(database_url, third)
    ids = event_ids(database_url)
    created = {e["subject"] for e in feed_all(third.url, admin) if e["type"] == "booking.created"}
    assert {f"booking:{i}" for i in made + answered} <= created  # every 201 has its event
    got = live.delivered(ids)
    pre, post = got[: len(live.delivered(ids, before_restart))], got[len(live.delivered(ids, before_restart)) :]
    # The killed process delivered each event up to its position once, in order (and perhaps
    # a batch beyond it it had published but not yet marked); the new one each after it.
    assert [i for i in pre if i <= held] == [i for i in ids if i <= held]
    assert pre == sorted(set(pre)), pre
    assert post == [i for i in ids if i > held], (held, post)
    # The feed shows each event once, in order, paged and resumed from any id.
    paged = feed_all(third.url, admin, limit=7)
    assert [int(e["id"]) for e in paged] == ids
    middle = paged[len(paged) // 2]["id"]
    assert feed_all(third.url, admin, after=middle) == paged[len(paged) // 2 + 1 :]


def feed_all(url: str, headers: dict, after: str = "0", limit: int = 1000) -> list[dict]:
    """Every event of the feed after `after`, page by page."""
    got = []
    while True:
        r = httpx.get(url + "/api/v1/events", params={"after": after, "limit": limit}, headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        page = r.json()
        if not page["events"]:
            return got
        got += page["events"]
        after = page["next"]


BOOKINGS = 120


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # several processes: PostgreSQL
def test_two_processes_deliver_each_event_once_per_consumer(make_server, database_url, live_env):
    """Two processes on one PostgreSQL database with Redis, bookings and edits through both at
    once: the events each process delivered (its /healthz) add up to the log, each event once,
    and the live messages carry every event once, in order."""
    env, live = live_env
    servers = [make_server(**env), make_server(**env)]
    admin = make_token(server_settings(servers[0]), "admin")
    r = httpx.post(servers[1].url + "/api/v1/rooms", json={"name": "Orchid", "capacity": 4}, headers=admin)
    assert r.status_code == 201, r.text
    room = r.json()["id"]

    async def through_both(requests):
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=100)) as c:
            return await asyncio.gather(
                *(
                    c.request(method, servers[i % 2].url + path, json=body, headers=admin)
                    for i, (method, path, body) in enumerate(requests)
                )  # fmt: skip
            )

    answers = run_sync(through_both([("POST", "/api/v1/bookings", slot(room, k)) for k in range(BOOKINGS)]))
    assert [r.status_code for r in answers] == [201] * BOOKINGS, [r.text for r in answers if r.status_code != 201][:3]
    edits = [("PATCH", f"/api/v1/bookings/{r.json()['id']}", {"title": "Moved"}) for r in answers[::2]]
    cancels = [("DELETE", f"/api/v1/bookings/{r.json()['id']}", None) for r in answers[1::4]]
    answers = run_sync(through_both(edits + cancels))
    assert {r.status_code for r in answers} <= {200, 204}, [r.text for r in answers if r.status_code >= 300][:3]

    caught_up(database_url, *servers)
    ids = event_ids(database_url)
    assert len(ids) == 1 + BOOKINGS + len(edits) + len(cancels)
    delivered = [
        httpx.get(s.url + "/healthz", timeout=5).json()["event_log"]["consumers"]["live"]["delivered"] for s in servers
    ]
    assert sum(delivered) == len(ids), delivered  # each event by one process
    assert all(delivered), delivered  # and both took part
    assert live.delivered(ids) == ids  # each once, in order
