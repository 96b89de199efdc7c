"""Heartbeats and acks of many screens at once are merged and written in batches
(player/seen.py): every report is stored, in few transactions, with few events."""

import asyncio
import datetime as dt

from fixtures import in_app, rows
from sqlalchemy import select

from player.models import Screen


def test_a_burst_of_reports_is_stored_in_few_batches(client):
    async def add_screens():
        async with client.app.state.db.begin() as s:
            s.add_all(Screen(name=f"s{i}", key_hash=f"h{i}") for i in range(300))
        async with client.app.state.db.session() as s:
            return (await s.scalars(select(Screen.id).order_by(Screen.id))).all()

    ids = in_app(client, add_screens)
    seen = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)

    async def burst():
        reports, bus = client.app.state.screen_reports, client.app.state.bus
        events = []
        async with bus.subscribe("screens") as sub:

            async def listen():
                async for _channel, data in sub:
                    events.append(data)

            listener = asyncio.create_task(listen())
            calls = []
            for n, screen_id in enumerate(ids):
                beat = {"last_seen": seen, "address": "10.0.0.1", "resolution": "1920x1080", "player_version": "1"}
                calls.append(reports.save(screen_id, beat, "heartbeat"))
                calls.append(reports.save(screen_id, {"last_seen": seen, "received_version": n + 1}, "ack"))
                calls.append(reports.save(screen_id, {"applied_version": n + 1, "applied_layout": "7"}, "ack"))
            await asyncio.gather(*calls)
            async with asyncio.timeout(10):  # until every screen has been announced
                while {i for e in events for i in e["screen_ids"]} != set(ids):
                    await asyncio.sleep(0.01)
            listener.cancel()
        return events

    events = in_app(client, burst)
    stored = {s.id: s for s in rows(client, select(Screen))}
    for n, screen_id in enumerate(ids):
        s = stored[screen_id]
        assert (s.applied_version, s.received_version, s.applied_layout) == (n + 1, n + 1, "7")
        assert (s.resolution, s.address, s.last_seen) == ("1920x1080", "10.0.0.1", seen)
    # 900 reports: the first is written alone, the rest wait for it and go together
    assert 1 <= len(events) <= 3, len(events)
    assert {i for e in events for i in e["screen_ids"]} == set(ids)


def test_heartbeat_and_ack_through_http(client):
    r = client.post("/player/api/pair")
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    headers = {"X-Screen-Key": key}
    assert client.post("/player/api/heartbeat", json={"resolution": "3840x2160"}, headers=headers).status_code == 200
    assert client.post("/player/api/ack", json={"received": 4}, headers=headers).status_code == 200
    [screen] = rows(client, select(Screen))
    assert screen.resolution == "3840x2160" and screen.received_version == 4 and screen.last_seen is not None
    bad = client.post("/player/api/ack", json={"received": "x"}, headers=headers)
    assert bad.status_code == 400


def test_keys_asked_together_are_loaded_in_one_query():
    from signage.auth import BatchLoader

    queries = []

    async def fetch(keys):
        queries.append(list(keys))
        await asyncio.sleep(0.01)
        return {k: k.upper() for k in keys if k != "unknown"}

    async def main():
        loader = BatchLoader(fetch)
        first = await asyncio.gather(*(loader.load(k) for k in ["a", "b", "a", "unknown"]))
        later = await loader.load("c")
        return first, later

    first, later = asyncio.run(main())
    assert first == ["A", "B", "A", None] and later == "C"
    assert queries == [["a", "b", "unknown"], ["c"]]
