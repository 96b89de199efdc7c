"""The dispatcher: hands new events to the consumers that follow them.

    dispatcher = Dispatcher(db)
    dispatcher.follow("live", publish_live, writes=False)  # async def publish_live(s, events): ...
    await dispatcher.start()  # in the app's lifespan, in every process

Each consumer has a durable position (`event_consumers`, its tracking record). A
delivery is one transaction: the handler is called with the session and the events after
the position (in order, at most BATCH), and the position moves past them. The handler's own
writes (a notification queued, a statistic counted) go in that same transaction, so an event
is acted on exactly once across restarts and crashes; what it does outside the database
(publishing live) is at least once. The events are read once for all the consumers of a
process (`events_after`): they never change.

PostgreSQL: the consumer's row is taken `FOR UPDATE SKIP LOCKED`: one process delivers a
consumer's events at a time, the others skip it and look again after BUSY_SECONDS (the one
delivering may have read before their commits). A handler that fails is rolled back (a
savepoint), the position stays, and the consumer is retried with back-off (RETRY_SECONDS,
doubling up to RETRY_MAX).

SQLite: a delivery holds the process's write lock, which the booking writer needs too, so it
holds it briefly (`deliver_sqlite`): the batch is read before, and inside there are only one
UPDATE of the position from where it was read (when another process on the file delivered
the batch first, nothing is handed over) and the handler. Deliveries let the other writers go first
(`WriterQueue.background`), gather a burst (GATHER_SECONDS), and get smaller batches when a
handler held the lock over HOLD_SECONDS. A consumer that names the event types it acts on
(`types`) is not handed batches without them: its position moves past them in memory, and is
written once it caught up (`pass_over`, `save`).

Consumers never wait for each other: each has its own task, and each delivery its time
limit (`delivery_seconds`, DELIVERY_SECONDS by default). A handler that has not returned
by then is cancelled, its transaction rolled back, a warning names the consumer, and it
is retried with back-off, with half the batch (back to BATCH once batches pass again).
On SQLite a consumer that only publishes (`writes=False`: the live bus) is handed its
events outside the write lock, its position moved in memory (at least once, as any
publishing is): a publish never waits for writers, and one that hangs holds up no write.

A commit that wrote events wakes the dispatcher of its process at once
(`Database.events_committed`); every process also looks every POLL_SECONDS, which
covers events written by processes that died before they delivered them.

`/healthz` shows `health()` under `event_log` (tests/signage/eventlog/test_eventlog_processes.py sums
`delivered` across processes).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from signage.db import Database, utcnow
from signage.eventlog.models import Event, EventConsumer

log = logging.getLogger("signage.eventlog")

Handler = Callable[[object, list[Event]], Awaitable[None]]
BATCH = 500
POLL_SECONDS = 1.0
BUSY_SECONDS = 0.05  # a consumer another process was delivering to is looked at again this soon
RETRY_SECONDS = 1.0
RETRY_MAX = 300.0
PRUNE_EVERY = 3600.0
DELIVERY_SECONDS = 30.0  # a handler not done by then is cancelled and retried
HOLD_SECONDS = 0.1  # SQLite: a handler that held the write lock longer gets half the batch next time
RECENT = 2000  # events kept once read, for the other consumers
UNSAVED = 5000  # a position moved in memory is written when caught up, or when this far ahead
# A consumer that writes waits this long once woken, so that a burst of changes reaches it
# in one delivery: on SQLite each delivery takes the write lock the booking writer needs
# (bench/booking.py: a delivery per commit of the writer halved its bookings/s).
GATHER_SECONDS = 0.1


class Delivered(Exception):
    """Another process moved the consumer's position first: this delivery rolls back."""


class Dispatcher:
    def __init__(
        self,
        db: Database,
        retention_days: int = 90,
        delivery_seconds: float = DELIVERY_SECONDS,
        gather: float = GATHER_SECONDS,
    ):
        self.db, self.retention = db, dt.timedelta(days=retention_days)
        self.delivery_seconds, self.gather = delivery_seconds, gather
        self.consumers: dict[str, tuple[Handler, bool, bool]] = {}
        self.woken: dict[str, asyncio.Event] = {}
        self.tasks: dict[str, asyncio.Task] = {}  # one per consumer, and the pruner's
        self.delivered: dict[str, int] = {}  # events each consumer was handed by this process (/healthz)
        self.batch: dict[str, int] = {}  # each consumer's batch size: BATCH, halved after a delivery timed out
        self.busy: set[str] = set()  # consumers another process was delivering to this round
        self.recent: list[Event] = []  # the newest events read (`events_after`)
        self.recent_from = -1  # ... which are every event after this id
        self.reading = asyncio.Lock()
        self.types: dict[str, tuple] = {}  # each consumer's event types (prefixes), if it named them
        self.handed: dict[str, int] = {}  # SQLite: how far each consumer that writes nothing was handed events
        self.saved_at: dict[str, int] = {}  # and how far that position was written
        self.stopping = asyncio.Event()

    def follow(
        self, name: str, handler: Handler, from_start: bool = False, writes: bool = True, types: tuple = ()
    ) -> None:
        """`handler(session, events)` gets every event after the consumer's position; a new
        consumer starts at the end of the log, or at its start with `from_start`. A consumer
        that only publishes (`writes=False`) is delivered outside SQLite's write lock. With
        `types` (prefixes of event types) a batch with none of them is not delivered: the
        consumer's position moves past it in memory, and is written now and then (`save`)."""
        self.consumers[name] = (handler, from_start, writes)
        self.types[name] = tuple(types)

    def wake(self) -> None:
        for woken in self.woken.values():
            woken.set()

    async def start(self) -> None:
        async with self.db.begin() as s:  # one transaction for every consumer new here
            names = list(self.consumers)
            known = set(await s.scalars(select(EventConsumer.name).where(EventConsumer.name.in_(names))))
            if new := [name for name in names if name not in known]:
                # Processes started together (`serve --workers 2` on a new database) each
                # find no row: the first insert wins, the others leave it be.
                end = (await s.scalar(select(func.max(Event.id)))) or 0
                rows = [
                    {
                        "name": name,
                        "position": 0 if self.consumers[name][1] else end,  # from_start
                        "failures": 0,
                        "last_error": "",
                        "updated_at": utcnow(),
                    }
                    for name in new
                ]
                insert = postgresql.insert if self.db.backend == "postgresql" else sqlite.insert
                await s.execute(insert(EventConsumer).values(rows).on_conflict_do_nothing(index_elements=["name"]))
        self.db.on_events.append(self.wake)
        for name in self.consumers:
            self.woken[name], self.batch[name] = asyncio.Event(), BATCH
            self.tasks[name] = asyncio.create_task(self.run(name), name=f"signage-events-{name}")
        self.tasks[""] = asyncio.create_task(self.prune_every(PRUNE_EVERY), name="signage-events-prune")

    async def stop(self) -> None:
        if self.wake in self.db.on_events:
            self.db.on_events.remove(self.wake)
        if not self.tasks:
            return
        # Stopped between deliveries, not inside one (a transaction cancelled half-way
        # could keep the app's shutdown waiting on its connection); cancelled only if stuck.
        self.stopping.set()
        self.wake()
        tasks = list(self.tasks.values())
        _done, stuck = await asyncio.wait(tasks, timeout=10)
        for task in stuck:
            task.cancel()
        if stuck:
            await asyncio.wait(stuck)
        self.tasks = {}
        for name in list(self.handed):
            with contextlib.suppress(Exception):  # the database is away: they are published again
                await self.save(name)

    async def run(self, name: str) -> None:
        """Deliver to one consumer until stopped: at once when woken, else every POLL_SECONDS."""
        woken, writes = self.woken[name], self.consumers[name][2]
        while not self.stopping.is_set():
            woken.clear()
            self.busy.discard(name)
            try:
                more = await self.deliver_in_time(name)
            except Exception:  # the database is away: try again on the next round
                log.exception("events not delivered to %s", name)
                more = False
            if self.saved_at.get(name, 0) < self.handed.get(name, 0) - (0 if not more else UNSAVED):
                with contextlib.suppress(Exception):  # a position moved in memory (the database is away: later)
                    await self.save(name)
            if not more:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), BUSY_SECONDS if name in self.busy else POLL_SECONDS)
                if writes and self.gather and not self.stopping.is_set():
                    await asyncio.sleep(self.gather)  # a burst's events, together in one delivery

    async def deliver_in_time(self, name: str) -> bool:
        """`deliver`, its handler given `delivery_seconds` (waiting for the write lock or the
        consumer's row is not counted): one that hangs is cancelled and retried later."""
        limit = asyncio.timeout(None)
        try:
            async with limit:
                return await self.deliver(name, limit)
        except Exception:
            if not limit.expired():
                raise
        # Its transaction rolled back as it was cancelled; its failure is noted in another.
        self.batch[name] = max(1, self.batch[name] // 2)
        async with self.db.begin() as s:
            consumer = await s.get(EventConsumer, name)
            if consumer is not None:
                self.failed(consumer, utcnow(), f"no answer within {self.delivery_seconds:g} s", name)
        return False

    async def deliver(self, name: str, limit: asyncio.Timeout | None = None) -> bool:
        """Deliver one batch to `name`; True when more events may be waiting. `limit` starts
        counting the handler's time once the batch is read."""
        handler, _from_start, writes = self.consumers[name]
        now, batch, sqlite = utcnow(), self.batch.get(name, BATCH), self.db.backend == "sqlite"
        async with self.db.session() as s:  # a read first: most rounds find nothing to do
            consumer = await s.get(EventConsumer, name)
            if consumer is None or (consumer.retry_at is not None and consumer.retry_at > now):
                return False
            position = max(consumer.position, self.handed.get(name, 0))
            if sqlite or self.types[name]:  # the batch itself, before the write lock (see `deliver_sqlite`)
                events = await self.events_after(s, position, batch)
                if not events:
                    return False
                if self.types[name] and not any(e.type.startswith(self.types[name]) for e in events):
                    more = await self.pass_over(name, events, batch)
                    if consumer.failures:
                        await self.save(name, passed=True)
                    return more
            elif not await s.scalar(select(Event.id).where(Event.id > position).limit(1)):
                return False
        if sqlite:
            if not events:
                return False
            if not writes:
                more = await self.hand_over(name, handler, events, batch, limit)
                if consumer.failures and self.handed.get(name, 0) > position:  # it passed again
                    await self.save(name, passed=True)
                return more
            return await self.deliver_sqlite(name, handler, consumer.position, events, batch, limit, now)
        async with self.db.begin() as s:
            query = select(EventConsumer).where(EventConsumer.name == name).with_for_update(skip_locked=True)
            consumer = await s.scalar(query)
            if consumer is None:
                # Another process is delivering to it. It may have read the events before this
                # process's commit woke us, and nothing wakes it for them: look again shortly,
                # not a poll later (that left them up to POLL_SECONDS late).
                self.busy.add(name)
                return False
            if consumer.retry_at is not None and consumer.retry_at > now:
                return False  # it waits for its retry
            events = await self.events_after(s, max(consumer.position, self.handed.get(name, 0)), batch)
            if not events:
                return False
            self.time(limit)
            try:
                async with s.begin_nested():
                    await handler(s, list(events))
            except Exception as exc:
                if limit is not None and limit.expired():
                    raise
                self.failed(consumer, now, f"{type(exc).__name__}: {exc}", name)
                return False
            self.time(limit, stop=True)
            consumer.position, consumer.failures, consumer.retry_at = events[-1].id, 0, None
            consumer.last_error, consumer.updated_at = "", now
        return self.passed(name, events, batch)

    async def events_after(self, s, position: int, batch: int) -> list[Event]:
        """The events after `position` (at most `batch`), read once for all the consumers of
        this process: the newest ones are kept (`recent`, every event in `(recent_from, last]`),
        so each batch is loaded from the database (its JSON parsed) once, not once per consumer.
        Events never change once written, and they become visible in their order (the event
        log's lock), so what was read is all there is up to its last id. Handlers only read them.
        One consumer reads at a time (the next one finds what it read)."""
        async with self.reading:
            return await self._events_after(s, position, batch)

    async def _events_after(self, s, position: int, batch: int) -> list[Event]:
        recent = self.recent
        end = recent[-1].id if recent else self.recent_from
        if not (self.recent_from <= position <= end):
            found = (await s.scalars(select(Event).where(Event.id > position).order_by(Event.id).limit(batch))).all()
            for e in found:
                s.expunge(e)
            if found and (position > end or found[-1].id >= self.recent_from):  # ahead of, or up to, what is kept
                kept = [e for e in recent if e.id > found[-1].id] if position < self.recent_from else []
                self.recent, self.recent_from = [*found, *kept], position
                self.trim()
            return list(found)
        start = bisect.bisect_right(recent, position, key=lambda e: e.id)
        events = recent[start : start + batch]
        if len(events) < batch:
            more = (
                await s.scalars(select(Event).where(Event.id > end).order_by(Event.id).limit(batch - len(events)))
            ).all()
            for e in more:
                s.expunge(e)
            recent.extend(more)
            events += more
            self.trim()
        return events

    def trim(self) -> None:
        if len(self.recent) > RECENT:
            self.recent_from = self.recent[-RECENT - 1].id
            del self.recent[:-RECENT]

    async def deliver_sqlite(self, name: str, handler: Handler, position: int, events, batch: int, limit, now) -> bool:
        """On SQLite a delivery holds the process's write lock, which the booking writer needs
        too, and every statement inside it waits a turn of the busy event loop (aiosqlite's
        thread): so the batch is read before (`deliver`) and inside there are only one UPDATE
        of the position, made only if it is still `position` (another process on the file may
        have delivered them: then nothing is handed over), and the handler. A handler that
        fails rolls its transaction back, and its failure is noted in another."""
        error, loop = "", asyncio.get_running_loop()
        try:
            async with self.db.begin(background=True) as s:  # the booking writer goes first
                # The batch is claimed first, so that a handler's publishing never runs for a
                # batch another process delivered; the claim rolls back with a failed handler.
                moved = await s.execute(
                    update(EventConsumer)
                    .where(EventConsumer.name == name, EventConsumer.position == position)
                    .values(position=events[-1].id, failures=0, retry_at=None, last_error="", updated_at=now)
                )
                if moved.rowcount != 1:
                    raise Delivered
                self.time(limit)
                started = loop.time()
                await handler(s, list(events))
                took = loop.time() - started
                self.time(limit, stop=True)
        except Delivered:
            return True
        except Exception as exc:
            if limit is not None and limit.expired():
                raise
            error = f"{type(exc).__name__}: {exc}"
        if error:
            async with self.db.begin() as s:
                consumer = await s.get(EventConsumer, name)
                if consumer is not None:
                    self.failed(consumer, now, error, name)
            return False
        more = self.passed(name, events, batch)
        if took > HOLD_SECONDS:  # the lock held too long for the writer: smaller batches
            self.batch[name] = max(1, batch // 2)
        elif took > HOLD_SECONDS / 2:
            self.batch[name] = batch
        return more

    async def hand_over(self, name: str, handler: Handler, events, batch: int, limit) -> bool:
        """A consumer that writes nothing (the live bus), on SQLite: handed its events outside
        the write lock (a publish never waits for writers, nor a hung one stops them). At least
        once, as publishing is: its position is kept in memory and written once it has caught
        up (`pass_over`), so a crash may publish the last ones again."""
        self.time(limit)
        try:
            await handler(None, list(events))
        except Exception as exc:
            if limit is not None and limit.expired():
                raise
            async with self.db.begin() as w:
                consumer = await w.get(EventConsumer, name)
                if consumer is not None:
                    self.failed(consumer, utcnow(), f"{type(exc).__name__}: {exc}", name)
            return False
        self.time(limit, stop=True)
        return await self.pass_over(name, events, batch)

    async def pass_over(self, name: str, events, batch: int) -> bool:
        """A batch with nothing the consumer follows (or handed to one that writes nothing):
        its position moves past it in memory, and is written once the consumer has caught up
        (`run`) and at stop, not in every delivery. After a crash such a batch is read again:
        passed over again, or published again (at least once, as publishing is)."""
        self.handed[name] = events[-1].id
        return self.passed(name, events, batch)

    async def save(self, name: str, passed: bool = False) -> None:
        """The position a consumer was moved to in memory (`pass_over`), written; with
        `passed`, its failures are over too (a delivery passed after them)."""
        if name not in self.handed:
            return
        self.saved_at[name] = self.handed[name]
        consumer = update(EventConsumer).where(EventConsumer.name == name)
        async with self.db.begin() as w:
            if passed:
                await w.execute(consumer.values(failures=0, retry_at=None, last_error=""))
            await w.execute(
                consumer.where(EventConsumer.position < self.handed[name]).values(
                    position=self.handed[name], updated_at=utcnow()
                )
            )

    def time(self, limit: asyncio.Timeout | None, stop: bool = False) -> None:
        """Start the handler's time limit, or stop it once it returned (its position is written in any case)."""
        if limit is not None:
            limit.reschedule(None if stop else asyncio.get_running_loop().time() + self.delivery_seconds)

    def passed(self, name: str, events, batch: int) -> bool:
        self.delivered[name] = self.delivered.get(name, 0) + len(events)
        self.batch[name] = min(BATCH, batch * 2)
        return len(events) == batch

    @staticmethod
    def failed(consumer: EventConsumer, now: dt.datetime, error: str, name: str) -> None:
        """Note a failed delivery on the consumer's row: retried after its back-off."""
        consumer.failures += 1
        wait = min(RETRY_SECONDS * 2 ** (consumer.failures - 1), RETRY_MAX)
        consumer.retry_at = now + dt.timedelta(seconds=wait)
        consumer.last_error = error[:2000]
        log.warning("consumer %s failed (%s), again in %s s", name, consumer.last_error, wait)

    async def prune_every(self, seconds: float) -> None:
        """`prune` at the start, then every `seconds`, until stopped."""
        while not self.stopping.is_set():
            try:
                await self.prune()
            except Exception:  # the database is away: the next time
                log.exception("old events not pruned")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), seconds)

    async def prune(self) -> None:
        """Events older than the retention (SIGNAGE_EVENTS_RETENTION_DAYS) are deleted."""
        async with self.db.begin() as s:
            await s.execute(delete(Event).where(Event.at < utcnow() - self.retention))

    async def health(self) -> dict:
        """For /healthz: whether this process's dispatcher runs, the newest event, and per
        consumer its durable position, how far behind the log it is, its failures, and
        `delivered`: the events this process handed it since it started (with several
        processes each event is counted by the one that delivered it)."""
        rows = await self.db.read(select(EventConsumer.__table__))
        last = (await self.db.read_one(select(func.max(Event.id).label("last")))).last or 0
        return {
            "running": bool(self.tasks) and not any(task.done() for task in self.tasks.values()),
            "last_event": last,
            "consumers": {
                c.name: {
                    "position": max(c.position, self.handed.get(c.name, 0)),
                    "behind": max(last - max(c.position, self.handed.get(c.name, 0)), 0),
                    "delivered": self.delivered.get(c.name, 0),
                    "failures": c.failures,
                    "last_error": c.last_error,
                }
                for c in rows
                if c.name in self.consumers
            },
        }
