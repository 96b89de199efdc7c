"""Which schedule entry wins, and until when (docs/schedules.md). Pure functions, no database.

    entries = [Entry(id=1, layout_id=5, start_date=date(2026, 3, 1), end_date=None,
                     weekdays=(0, 1, 2, 3, 4), start_minute=9 * 60, end_minute=17 * 60,
                     timezone="Europe/London", priority=10, for_screen=True)]
    winner(entries, now)        → the Entry playing at `now`, or None (the screen's default layout)
    next_change(entries, now)   → the first instant after `now` at which the winner changes, or None

An entry is on at an instant when, on the wall clock of its time zone at that
instant, the date is within [start_date, end_date], the weekday is one of its
weekdays, and the time of day is within [start, end). So on a daylight-saving
day a window is as long as the wall clock says: an hour that does not exist is
skipped, an hour that happens twice plays twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = dt.UTC
HORIZON = dt.timedelta(days=8)


@dataclasses.dataclass(frozen=True)
class Entry:
    id: int
    layout_id: int
    start_date: dt.date
    end_date: dt.date | None
    weekdays: tuple[int, ...]
    start_minute: int
    end_minute: int
    timezone: str
    priority: int
    for_screen: bool  # aimed at the screen itself rather than at its group


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_on(entry: Entry, instant: dt.datetime) -> bool:
    local = instant.astimezone(zone(entry.timezone))
    day = local.date()
    if day < entry.start_date or (entry.end_date is not None and day > entry.end_date):
        return False
    if local.weekday() not in entry.weekdays:
        return False
    minute = local.hour * 60 + local.minute
    return entry.start_minute <= minute < entry.end_minute


def rank(entry: Entry) -> tuple:
    """Higher wins: priority, then aimed at the screen over its group, then the newer entry."""
    return (entry.priority, entry.for_screen, entry.id)


def winner(entries: list[Entry], instant: dt.datetime) -> Entry | None:
    on = [e for e in entries if is_on(e, instant)]
    return max(on, key=rank) if on else None


def _offset_changes(tz: ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Instants in (start, end] where the zone's UTC offset changes (at most one per day)."""
    out, step = [], dt.timedelta(days=1)
    a = start
    while a < end:
        b = min(a + step, end)
        if a.astimezone(tz).utcoffset() != b.astimezone(tz).utcoffset():
            lo, hi = a, b
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = mid
                else:
                    hi = mid
            out.append(hi.replace(microsecond=0))
        a = b
    return out


def _candidates(entry: Entry, now: dt.datetime, until: dt.datetime) -> set[dt.datetime]:
    """Every wall-clock instant in (now, until] where the entry may switch on or off
    (its zone's offset changes are added by the caller, once per zone)."""
    tz = zone(entry.timezone)
    first = now.astimezone(tz).date() - dt.timedelta(days=1)
    out = set()
    for n in range((until - now).days + 3):
        day = first + dt.timedelta(days=n)
        for minute in (0, entry.start_minute, entry.end_minute):
            wall = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute)
            for fold in (0, 1):
                instant = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
                if now < instant <= until:
                    out.add(instant)
    return out


def next_change(entries: list[Entry], now: dt.datetime, horizon: dt.timedelta = HORIZON) -> dt.datetime | None:
    """The first instant after `now` where the winning entry differs, within `horizon`.

    Between two candidate instants no entry switches, so the winner is constant:
    checking the candidates in order finds the exact instant of the change. They
    are made a day at a time, as the change is usually near.
    """
    if not entries:
        return None
    until = now + horizon
    current = winner(entries, now)
    offsets: set[dt.datetime] = set()
    for name in {e.timezone for e in entries}:
        offsets.update(_offset_changes(zone(name), now, until))
    lo = now
    while lo < until:
        hi = min(lo + dt.timedelta(days=1), until)
        times = {t for t in offsets if lo < t <= hi}
        for e in entries:
            times |= _candidates(e, lo, hi)
        for t in sorted(times):
            if winner(entries, t) != current:
                return t
        lo = hi
    return None


def timeline(entries: list[Entry], start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, Entry | None]]:
    """The winner from `start` and every change until `end`: [(from, entry or None), ...]."""
    out = [(start, winner(entries, start))]
    t = start
    while True:
        t = next_change(entries, t, end - t) if t < end else None
        if t is None or t >= end:
            return out
        out.append((t, winner(entries, t)))
