"""One event bus, two backends: in-process (default) and Redis pub/sub.

    bus = EventBus.for_url(settings.redis_url)   # "" → in-process
    await bus.start()
    await bus.publish("screen:7", {"type": "layout", "version": 3})   # Redis channel "signage:screen:7"
    async with bus.subscribe("screen:7", "layouts") as sub:
        async for channel, data in sub: ...

Each process delivers to its own subscribers through one local hub: a queue per
subscriber. With Redis, a publish goes to Redis and one listener task per process
(one connection, one pattern subscription) feeds the hub, so 10,000 SSE clients
cost one Redis connection, not 10,000. When Redis is away, `publish` raises
`EventsUnavailable`, `health()` says so, and the listener reconnects with back-off.

Delivery is at most once: a subscriber whose queue is full loses the oldest
message. Consumers are state-based (a screen asks for anything newer than what
it has), so a lost or late message is caught up on the next one or on reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator

log = logging.getLogger("signage.events")

QUEUE_SIZE = 64


class EventsUnavailable(Exception):
    """Raised by `publish` when the backend (Redis) cannot be reached."""


class Subscription:
    def __init__(self, hub: Hub, channels: tuple[str, ...]):
        self.hub, self.channels = hub, channels
        self.queue: asyncio.Queue[tuple[str, dict]] = asyncio.Queue(QUEUE_SIZE)

    def put(self, item: tuple[str, dict]) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(item)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> tuple[str, dict]:
        return await self.queue.get()


class Hub:
    """Fan-out inside one process."""

    def __init__(self) -> None:
        self.channels: dict[str, set[Subscription]] = {}

    def add(self, sub: Subscription) -> None:
        for ch in sub.channels:
            self.channels.setdefault(ch, set()).add(sub)

    def remove(self, sub: Subscription) -> None:
        for ch in sub.channels:
            subs = self.channels.get(ch)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self.channels[ch]

    def deliver(self, channel: str, data: dict) -> None:
        for sub in tuple(self.channels.get(channel, ())):
            sub.put((channel, data))

    @property
    def subscribers(self) -> int:
        return len({s for subs in self.channels.values() for s in subs})


class EventBus:
    backend = "memory"

    def __init__(self) -> None:
        self.hub = Hub()

    @staticmethod
    def for_url(redis_url: str, prefix: str = "signage:") -> EventBus:
        return RedisEventBus(redis_url, prefix) if redis_url else EventBus()

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish(self, channel: str, data: dict) -> None:
        self.hub.deliver(channel, data)

    async def notify(self, channel: str, data: dict) -> bool:
        """Publish after a committed change; a bus outage is logged, not raised.

        The change is stored: subscribers catch up from the state when events flow again.
        """
        try:
            await self.publish(channel, data)
            return True
        except EventsUnavailable as exc:
            log.warning("event %s on %s not sent: %s", data.get("type"), channel, exc)
            return False

    async def publish_many(self, events: list[tuple[str, dict]]) -> None:
        for channel, data in events:
            self.hub.deliver(channel, data)

    async def notify_many(self, events: list[tuple[str, dict]]) -> bool:
        """`notify` for many events at once (a publish to 10,000 screens: with Redis, few round trips)."""
        try:
            await self.publish_many(events)
            return True
        except EventsUnavailable as exc:
            log.warning("%d events not sent: %s", len(events), exc)
            return False

    @contextlib.asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Subscription]:
        sub = Subscription(self.hub, channels)
        self.hub.add(sub)
        try:
            yield sub
        finally:
            self.hub.remove(sub)

    async def health(self) -> dict:
        return {"ok": True, "backend": self.backend, "subscribers": self.hub.subscribers}


MANY = "_many"  # the Redis channel of events sent to many channels at once (see publish_many)


class RedisEventBus(EventBus):
    backend = "redis"

    def __init__(self, url: str, prefix: str = "signage:") -> None:
        super().__init__()
        import redis.asyncio as redis

        self.url, self.prefix = url, prefix
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self.connected = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="signage-events-listener")
        try:  # wait briefly, so the first publish after start is seen by this process
            await asyncio.wait_for(self.connected.wait(), 3)
        except TimeoutError:
            log.warning("Redis at %s not reachable yet; events will flow once it is", self.url)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.redis.aclose()

    async def publish(self, channel: str, data: dict) -> None:
        message = json.dumps(data, separators=(",", ":"))
        for attempt in (1, 2):  # after Redis restarts, the first try meets a dead pooled connection
            try:
                await self.redis.publish(self.prefix + channel, message)
                return
            except Exception as exc:
                if attempt == 2:
                    raise EventsUnavailable(str(exc)) from exc

    async def publish_many(self, events: list[tuple[str, dict]]) -> None:
        """Events that carry the same data (a publish to 10,000 screens) travel together:
        one Redis message names up to 1,000 channels, and each process hands the data to
        its own subscribers of those channels. The rest are pipelined, 1,000 a round trip.
        A batch retried after a lost connection may repeat some events, which state-based
        consumers do not mind."""
        same: dict[str, list[str]] = {}
        for channel, data in events:
            same.setdefault(json.dumps(data, separators=(",", ":")), []).append(channel)
        messages = []
        for text, channels in same.items():
            if len(channels) == 1:
                messages.append((self.prefix + channels[0], text))
                continue
            for start in range(0, len(channels), 1000):
                names = json.dumps(channels[start : start + 1000], separators=(",", ":"))
                messages.append((self.prefix + MANY, f'{{"channels":{names},"data":{text}}}'))
        for start in range(0, len(messages), 1000):
            batch = messages[start : start + 1000]
            for attempt in (1, 2):
                try:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for channel, message in batch:
                            pipe.publish(channel, message)
                        await pipe.execute()
                    break
                except Exception as exc:
                    if attempt == 2:
                        raise EventsUnavailable(str(exc)) from exc

    async def _listen(self) -> None:
        delay, lost = 0.2, False
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self.prefix + "*")
                self.connected.set()
                delay = 0.2
                if lost:  # subscribers missed what was published meanwhile: tell them
                    lost = False
                    self.resync()
                async for message in pubsub.listen():
                    if message["type"] != "pmessage":
                        continue
                    channel = message["channel"].decode()[len(self.prefix) :]
                    data = json.loads(message["data"])
                    if channel == MANY:
                        for name in data["channels"]:
                            self.hub.deliver(name, data["data"])
                    else:
                        self.hub.deliver(channel, data)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.connected.is_set():
                    log.warning("lost Redis (%s); reconnecting", exc)
                self.connected.clear()
                lost = True
                await asyncio.sleep(delay + random.random() * delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def resync(self) -> None:
        for sub in {s for subs in self.hub.channels.values() for s in subs}:
            sub.put(("", {"type": "resync"}))

    async def health(self) -> dict:
        try:
            await asyncio.wait_for(self.redis.ping(), 2)
            ok = self.connected.is_set()
        except Exception:
            ok = False
        return {"ok": ok, "backend": self.backend, "subscribers": self.hub.subscribers}
