"""Benchmark: the cost schedules add to a screen's state request.

    .venv/bin/python bench/schedules.py

Every `GET /player/api/state` decides the winning entry (`rules.winner`) and the
seconds until it changes (`rules.next_change`, for `next_check`). Printed: time per
call for 1, 5 and 20 entries in two time zones, on an ordinary day and on a
daylight-saving day, and the ratio to the bare baseline of `winner` alone.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playlists.rules import Entry, next_change, winner  # noqa: E402

ZONES = ("Asia/Shanghai", "Europe/London")


def entries(n: int) -> list[Entry]:
    return [
        Entry(
            i,
            i,
            dt.date(2026, 1, 1),
            None,
            (0, 1, 2, 3, 4),
            60 * (7 + i % 8),
            60 * (12 + i % 8),
            ZONES[i % 2],
            i % 3,
            i % 2 == 0,
        )
        for i in range(n)
    ]


def per_call(fn, es, now, seconds: float = 0.5) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(es, now)
        n += 1
    return (time.perf_counter() - start) / n


def main() -> None:
    days = {
        "ordinary day": dt.datetime(2026, 6, 10, 10, tzinfo=dt.UTC),
        "DST day": dt.datetime(2026, 3, 28, 10, tzinfo=dt.UTC),
    }
    print(f"{'entries':>7} {'day':>13} {'winner µs':>10} {'winner+next_change µs':>22} {'ratio':>6}")
    for n in (1, 5, 20):
        es = entries(n)
        for label, now in days.items():
            base = per_call(winner, es, now)
            full = per_call(lambda e, t: (winner(e, t), next_change(e, t)), es, now)
            print(f"{n:>7} {label:>13} {base * 1e6:>10.1f} {full * 1e6:>22.1f} {full / base:>6.0f}x")


if __name__ == "__main__":
    main()
