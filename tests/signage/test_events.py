"""The event bus: in-process and Redis; two server processes share events through Redis."""

import asyncio
import threading
import time
import uuid

import httpx
import pytest
from fixtures import make_token, server_settings, wait_for
from screens import read_events

from signage.events import EventBus, EventsUnavailable, RedisEventBus


async def first(sub, timeout=2.0):
    return await asyncio.wait_for(sub.__anext__(), timeout)


def test_memory_bus_delivers_by_channel():
    async def main():
        bus = EventBus()
        async with bus.subscribe("screen:1") as one, bus.subscribe("screen:2", "all") as two:
            await bus.publish("screen:1", {"n": 1})
            await bus.publish("all", {"n": 2})
            assert await first(one) == ("screen:1", {"n": 1})
            assert await first(two) == ("all", {"n": 2})
            assert one.queue.empty()
            assert (await bus.health())["subscribers"] == 2
        assert bus.hub.channels == {}

    asyncio.run(main())


def test_slow_subscriber_loses_oldest_not_newest():
    async def main():
        bus = EventBus()
        async with bus.subscribe("c") as sub:
            for i in range(200):
                await bus.publish("c", {"n": i})
            assert sub.queue.qsize() == 64
            assert (await first(sub))[1] == {"n": 200 - 64}

    asyncio.run(main())


def test_redis_bus_crosses_instances(redis_url):
    async def main():
        prefix = f"t-{uuid.uuid4().hex[:8]}:"
        a, b = RedisEventBus(redis_url, prefix), RedisEventBus(redis_url, prefix)
        await a.start()
        await b.start()
        try:
            async with b.subscribe("screen:redis-test") as sub:
                await a.publish("screen:redis-test", {"hello": "world"})
                assert await first(sub) == ("screen:redis-test", {"hello": "world"})
            assert (await a.health())["ok"] is True
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(main())


def test_redis_sends_one_message_for_many_channels_with_the_same_data(redis_url):
    """A publish to 2,500 screens is three Redis messages, and each screen still gets its event."""

    async def main():
        prefix = f"t-{uuid.uuid4().hex[:8]}:"
        a, b = RedisEventBus(redis_url, prefix), RedisEventBus(redis_url, prefix)
        await a.start()
        await b.start()
        raw = a.redis.pubsub()
        await raw.psubscribe(prefix + "*")
        try:
            async with b.subscribe("screen:7", "screen:2499") as two, b.subscribe("screen:8") as other:
                events = [(f"screen:{i}", {"type": "layout", "version": 3}) for i in range(2500)]
                events.append(("screen:8", {"type": "reload"}))
                await a.notify_many(events)
                got = sorted([await first(two), await first(two)], key=str)
                assert got == sorted(
                    [("screen:7", {"type": "layout", "version": 3}), ("screen:2499", {"type": "layout", "version": 3})],
                    key=str,
                )
                assert await first(other) == ("screen:8", {"type": "layout", "version": 3})
                assert await first(other) == ("screen:8", {"type": "reload"})
            seen, quiet_since = [], time.monotonic()
            while time.monotonic() - quiet_since < 0.5:
                m = await raw.get_message(ignore_subscribe_messages=True, timeout=0.1)
                if m is not None:
                    seen.append(m["channel"].decode())
                    quiet_since = time.monotonic()
            assert sorted(seen) == sorted([prefix + "_many"] * 3 + [prefix + "screen:8"])
        finally:
            await raw.aclose()
            await a.stop()
            await b.stop()

    asyncio.run(main())


def test_redis_bus_down_raises_clear_error_and_notify_survives():
    async def main():
        bus = RedisEventBus("redis://127.0.0.1:1/0")
        await bus.start()
        try:
            with pytest.raises(EventsUnavailable):
                await bus.publish("x", {})
            assert await bus.notify("x", {"type": "t"}) is False
            assert (await bus.health())["ok"] is False
        finally:
            await bus.stop()

    asyncio.run(main())


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # several processes: PostgreSQL
def test_event_through_one_process_reaches_sse_client_of_the_other(backend, redis_url, make_server):
    one = make_server(SIGNAGE_REDIS_URL=redis_url)
    two = make_server(SIGNAGE_REDIS_URL=redis_url)
    screen = httpx.post(f"{two.url}/player/api/pair").json()
    found, stop = [], threading.Event()
    threading.Thread(
        target=read_events, daemon=True, args=(f"{two.url}/player/api/events?key={screen['key']}", found, stop)
    ).start()
    wait_for(lambda: found, timeout=10)
    assert found[0][0] == "hello"
    settings = server_settings(one)
    headers = make_token(settings, "editor")
    r = httpx.post(f"{one.url}/api/v1/screens/claim", headers=headers, json={"code": screen["code"], "name": "Across"})
    assert r.status_code == 201
    wait_for(lambda: len(found) >= 3, timeout=10)  # pushed: the stream sends nothing else but pings (comments)
    stop.set()
    # hello, the state it has (unclaimed), then the claimed state (player/stream.py)
    assert [e for e, _t in found[:3]] == ["hello", "state", "state"]
    assert httpx.get(f"{one.url}/healthz").json()["events"]["backend"] == "redis"
