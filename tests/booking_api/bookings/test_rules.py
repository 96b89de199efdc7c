"""Which schedule entry wins (docs/schedules.md), checked against a plain reference model
with hypothesis, across time zones and daylight-saving days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playlists.rules import Entry, next_change, timeline, winner

UTC = dt.UTC
ZONES = ["Europe/London", "America/New_York", "Asia/Shanghai"]
# Days around the 2026 changes: London 29 Mar / 25 Oct, New York 8 Mar / 1 Nov.
DST_DAYS = [dt.date(2026, 3, 8), dt.date(2026, 3, 29), dt.date(2026, 10, 25), dt.date(2026, 11, 1)]


def reference_winner(entries, instant):
    """The rule as docs/schedules.md states it, written out the long way."""
    best = None
    for e in entries:
        local = instant.astimezone(ZoneInfo(e.timezone))
        minute_of_day = local.hour * 60 + local.minute
        on = (
            e.start_date <= local.date()
            and (e.end_date is None or local.date() <= e.end_date)
            and local.weekday() in e.weekdays
            and e.start_minute <= minute_of_day < e.end_minute
        )
        if not on:
            continue
        if (
            best is None
            or e.priority > best.priority
            or (e.priority == best.priority and e.for_screen and not best.for_screen)
            or (e.priority == best.priority and e.for_screen == best.for_screen and e.id > best.id)
        ):
            best = e
    return best


@st.composite
def entries(draw):
    n = draw(st.integers(1, 4))
    out = []
    for i in range(n):
        start = draw(st.integers(0, 1439))
        end = draw(st.integers(start + 1, 1440))
        first = draw(st.sampled_from(DST_DAYS)) + dt.timedelta(days=draw(st.integers(-2, 1)))
        last = draw(st.none() | st.just(first + dt.timedelta(days=draw(st.integers(0, 3)))))
        out.append(
            Entry(
                id=i + 1,
                layout_id=draw(st.integers(1, 3)),
                start_date=first,
                end_date=last,
                weekdays=tuple(sorted(draw(st.sets(st.integers(0, 6), min_size=1)))),
                start_minute=start,
                end_minute=end,
                timezone=draw(st.sampled_from(ZONES)),
                priority=draw(st.integers(0, 2)),
                for_screen=draw(st.booleans()),
            )
        )
    return out


@st.composite
def instants(draw):
    day = draw(st.sampled_from(DST_DAYS))
    base = dt.datetime.combine(day, dt.time(), tzinfo=UTC) - dt.timedelta(days=1)
    return base + dt.timedelta(seconds=draw(st.integers(0, 3 * 86400)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries(), instants())
def test_winner_matches_the_reference(es, now):
    assert winner(es, now) == reference_winner(es, now)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries(), instants())
def test_next_change_is_the_first_minute_the_reference_winner_changes(es, now):
    """Minute by minute over 36 hours: the winner stays until `next_change`, and changes there."""
    got = next_change(es, now)
    current = reference_winner(es, now)
    t = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    end = now + dt.timedelta(hours=36)
    expected = None
    while t < end:
        if reference_winner(es, t) != current:
            expected = t
            break
        t += dt.timedelta(minutes=1)
    if expected is None:
        assert got is None or got >= end
    else:
        assert got == expected


def test_a_window_on_the_spring_forward_day_in_london_skips_the_missing_hour():
    """01:30–03:00 local on 29 Mar 2026: the clock jumps 01:00 → 02:00, so it starts at the jump."""
    e = Entry(1, 7, dt.date(2026, 3, 29), None, tuple(range(7)), 90, 180, "Europe/London", 0, True)
    before = dt.datetime(2026, 3, 29, 0, 59, tzinfo=UTC)
    assert winner([e], before) is None
    assert next_change([e], before) == dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # 03:00 BST is 02:00 UTC: the window lasted one hour of real time.
    assert next_change([e], dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)) == dt.datetime(2026, 3, 29, 2, 0, tzinfo=UTC)


def test_a_window_on_the_fall_back_day_in_new_york_plays_the_repeated_hour_twice():
    """01:00–01:30 local on 1 Nov 2026 happens twice (EDT, then EST)."""
    e = Entry(1, 7, dt.date(2026, 11, 1), dt.date(2026, 11, 1), tuple(range(7)), 60, 90, "America/New_York", 0, False)
    start = dt.datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    plays = timeline([e], start, start + dt.timedelta(hours=4))
    assert [(t.strftime("%H:%M"), x is not None) for t, x in plays] == [
        ("04:00", False),
        ("05:00", True),
        ("05:30", False),
        ("06:00", True),
        ("06:30", False),
    ]


def test_priority_then_screen_over_group_then_newer():
    day = dt.date(2026, 6, 1)
    common = dict(start_date=day, end_date=None, weekdays=tuple(range(7)), start_minute=0, end_minute=1440)
    group_high = Entry(1, 1, timezone="Asia/Shanghai", priority=5, for_screen=False, **common)
    screen_low = Entry(2, 2, timezone="Asia/Shanghai", priority=1, for_screen=True, **common)
    group_same = Entry(3, 3, timezone="Asia/Shanghai", priority=5, for_screen=False, **common)
    screen_same = Entry(4, 4, timezone="Asia/Shanghai", priority=5, for_screen=True, **common)
    now = dt.datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
    assert winner([group_high, screen_low], now) is group_high
    assert winner([group_high, group_same], now) is group_same
    assert winner([screen_same, group_same, group_high], now) is screen_same
