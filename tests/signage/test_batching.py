"""signage/batching.py: the single-flight cache with a time limit, and batches of the
requests that came while the previous batch ran."""

import asyncio
import time

import pytest

from signage.batching import Batches, TimedCache


async def until(check, timeout: float = 5):
    """Wait (yielding to the loop) until `check()` is true."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


class Maker:
    """Makes values when told to (`go`), counting how often it was asked."""

    def __init__(self, value="v"):
        self.value, self.calls, self.go = value, 0, asyncio.Event()

    async def __call__(self):
        self.calls += 1
        await self.go.wait()
        if isinstance(self.value, BaseException):
            raise self.value
        return f"{self.value}{self.calls}"


def test_askers_at_once_share_one_making_and_the_value_is_kept():
    async def main():
        cache, make = TimedCache(seconds=60, size=10), Maker()
        askers = [asyncio.create_task(cache.get("k", make)) for _ in range(50)]
        await until(lambda: make.calls == 1)
        assert cache.ready("k") is None  # being made: not ready
        make.go.set()
        assert await asyncio.gather(*askers) == ["v1"] * 50
        assert cache.ready("k") == "v1" and await cache.get("k", make) == "v1" and make.calls == 1

    asyncio.run(main())


def test_a_value_goes_after_its_time_limit_or_when_it_says_it_stops_being_right():
    async def main():
        make = Maker()
        make.go.set()
        brief = TimedCache(seconds=0.05, size=10)
        assert await brief.get("k", make) == "v1"
        await until(lambda: brief.ready("k") is None)
        assert await brief.get("k", make) == "v2"  # made again
        stops = {"v3": time.monotonic() - 1, "v4": None}  # v3 is wrong already
        cache = TimedCache(seconds=60, size=10, until=stops.get)
        assert await cache.get("k", make) == "v3" and cache.ready("k") is None
        assert await cache.get("k", make) == "v4" and cache.ready("k") == "v4"

    asyncio.run(main())


def test_a_failure_reaches_every_asker_and_is_not_kept():
    async def main():
        cache, make = TimedCache(seconds=60, size=10), Maker(ValueError("down"))
        askers = [asyncio.create_task(cache.get("k", make)) for _ in range(3)]
        await until(lambda: make.calls == 1)
        make.go.set()
        results = await asyncio.gather(*askers, return_exceptions=True)
        assert [type(r) for r in results] == [ValueError] * 3 and make.calls == 1
        make.value = "ok"
        assert await cache.get("k", make) == "ok2"

    asyncio.run(main())


def test_a_cancelled_making_cancels_its_waiters_and_the_next_asker_makes_again():
    async def main():
        cache, make = TimedCache(seconds=60, size=10), Maker()
        first = asyncio.create_task(cache.get("k", make))
        await until(lambda: make.calls == 1)
        second = asyncio.create_task(cache.get("k", make))
        await asyncio.sleep(0)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        make.go.set()
        assert await cache.get("k", make) == "v2"

    asyncio.run(main())


def test_clear_forgets_values_and_those_being_made():
    async def main():
        cache, make = TimedCache(seconds=60, size=10), Maker()
        cache.put("a", "kept")
        asker = asyncio.create_task(cache.get("b", make))
        await until(lambda: make.calls == 1)
        cache.clear()
        make.go.set()
        assert await asker == "v1"  # its asker gets it, but it may be stale: not kept
        assert cache.ready("a") is None and cache.ready("b") is None

    asyncio.run(main())


def test_the_oldest_values_go_first_when_full():
    async def main():
        cache = TimedCache(seconds=60, size=3)
        for key in "abcd":
            cache.put(key, key.upper())
        assert [cache.ready(k) for k in "abcd"] == [None, "B", "C", "D"]
        cache.put("b", "B2")  # made again: the newest
        cache.put("e", "E")
        assert [cache.ready(k) for k in "bcde"] == ["B2", None, "D", "E"]

    asyncio.run(main())


class Runner:
    """A batch handler that holds each batch until told to (`go`)."""

    def __init__(self, fail_on=None):
        self.batches, self.go, self.fail_on = [], asyncio.Event(), fail_on

    async def __call__(self, batch):
        self.batches.append(dict(batch))
        await self.go.wait()
        if self.fail_on in batch:
            raise ValueError("batch failed")
        return {k: f"{k}={v}" for k, v in batch.items() if k != "unknown"}


def test_requests_made_while_a_batch_runs_go_together_in_the_next():
    async def main():
        run = Runner()
        batches = Batches(run, merge=lambda old, new: old + new)
        first = asyncio.create_task(batches.submit("a", 1))
        await until(lambda: len(run.batches) == 1)
        later = [asyncio.create_task(batches.submit(k, v)) for k, v in [("a", 2), ("b", 3), ("a", 4), ("unknown", 0)]]
        await asyncio.sleep(0)
        assert len(run.batches) == 1  # they wait for the batch under way
        run.go.set()
        assert await first == "a=1"
        assert await asyncio.gather(*later) == ["a=6", "b=3", "a=6", None]  # merged, one answer per key
        assert run.batches == [{"a": 1}, {"a": 6, "b": 3, "unknown": 0}]

    asyncio.run(main())


def test_a_limit_splits_batches_and_a_failure_fails_only_its_own():
    async def main():
        run = Runner(fail_on="k1")
        run.go.set()
        batches = Batches(run, limit=2)
        results = await asyncio.gather(*(batches.submit(f"k{n}", n) for n in range(5)), return_exceptions=True)
        assert [sorted(b) for b in run.batches] == [["k0", "k1"], ["k2", "k3"], ["k4"]]
        assert [type(r) for r in results[:2]] == [ValueError, ValueError] and results[2:] == ["k2=2", "k3=3", "k4=4"]

    asyncio.run(main())


def test_after_runs_once_a_batch_is_answered_and_before_the_next_starts():
    async def main():
        run, announced, release = Runner(), [], asyncio.Event()
        run.go.set()

        async def after(batch):
            announced.append(sorted(batch))
            await release.wait()

        batches = Batches(run, after=after)
        assert await asyncio.gather(batches.submit("a"), batches.submit("b")) == ["a=None", "b=None"]
        assert announced == [["a", "b"]]  # answered while `after` still runs
        later = asyncio.create_task(batches.submit("c"))
        await asyncio.sleep(0)
        assert len(run.batches) == 1  # the next batch waits for `after`
        release.set()
        assert await later == "c=None" and announced == [["a", "b"], ["c"]]
        await batches.close()

    asyncio.run(main())
