"""The time booking code reads: `now()`, aware UTC, normally the real time.

Door screens change when meetings start, end and are released; tests and demos
must see that without waiting ten minutes. Decision: one process-wide offset,
shifted only when the setting `SIGNAGE_TEST_CLOCK` is on (through
`POST /api/v1/clock`, admins only; refused otherwise). The alternative, tests
booking a few seconds ahead, cannot reach a 15-minute grace time quickly, and
would make every browser test race the real clock.

    now()                 # real time + offset
    shift(600)            # ten minutes later, from now on (tests and demos only)
    reset()               # back to real time (each app's start)

The room timer (`booking_api.doors.roomstate`) sleeps in real seconds until
`boundary - now()`, so a shift wakes it: `shift` callers publish on the bus.
With several processes each keeps its own offset; the setting is for one-process
tests and demos.
"""

from __future__ import annotations

import datetime as dt

_offset = dt.timedelta()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + _offset


def shift(seconds: float) -> dt.datetime:
    global _offset
    _offset += dt.timedelta(seconds=seconds)
    return now()


def reset() -> None:
    global _offset
    _offset = dt.timedelta()


def offset() -> float:
    return _offset.total_seconds()
