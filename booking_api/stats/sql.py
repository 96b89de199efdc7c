"""The few SQL pieces SQLite and PostgreSQL spell differently, as SQLAlchemy expressions.

    epoch(Booking.start_at)     seconds since 1970 (a float) of a stored UTC time
    greatest(a, b), least(a, b) two-argument max and min of numbers (never NULL here)
    ifloor(x)                   the integer below x (x >= 0: times after 1970)

Statistics work in seconds since 1970 shifted to the site's zone (`local`), so a day,
an hour of the day and a weekday are integer divisions, the same on both databases.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Float, case, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class epoch(FunctionElement):  # noqa: N801 (reads as a SQL function)
    type = Float()
    inherit_cache = True
    name = "epoch"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch, "postgresql")
def _epoch_postgresql(element, compiler, **kw):
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})::float8"


class greatest(FunctionElement):  # noqa: N801
    type = Float()
    inherit_cache = True
    name = "greatest"


class least(FunctionElement):  # noqa: N801
    type = Float()
    inherit_cache = True
    name = "least"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element, compiler, **kw):
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(least, "sqlite")
def _least_sqlite(element, compiler, **kw):
    return f"min({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "postgresql")
def _greatest_postgresql(element, compiler, **kw):
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(least, "postgresql")
def _least_postgresql(element, compiler, **kw):
    return f"LEAST({compiler.process(element.clauses, **kw)})"


class ifloor(FunctionElement):  # noqa: N801
    type = BigInteger()
    inherit_cache = True
    name = "ifloor"


@compiles(ifloor, "sqlite")
def _ifloor_sqlite(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"  # x >= 0 here: truncation


@compiles(ifloor, "postgresql")
def _ifloor_postgresql(element, compiler, **kw):
    return f"CAST(FLOOR({compiler.process(element.clauses, **kw)}) AS BIGINT)"


def offsets(tz: ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[tuple[float, int]]:
    """The zone's UTC offsets (seconds) between two instants, as [(from epoch, offset), ...]:
    one entry for a zone without summer time; a new one at each change (found hour by hour)."""
    found: list[tuple[float, int]] = []
    t = start.replace(minute=0, second=0, microsecond=0)
    while t <= end + dt.timedelta(days=1):
        off = int(t.astimezone(tz).utcoffset().total_seconds())
        if not found or found[-1][1] != off:
            found.append((t.timestamp(), off))
        t += dt.timedelta(hours=1)
    return found


def utc_offset(seconds, table: list[tuple[float, int]]):
    """The zone's offset at `seconds` (an epoch expression): a literal, or a CASE when it changes."""
    if len(table) == 1:
        return literal(table[0][1])
    whens = [(seconds < table[i + 1][0], literal(off)) for i, (_at, off) in enumerate(table[:-1])]
    return case(*whens, else_=literal(table[-1][1]))


def to_local(seconds, table: list[tuple[float, int]]):
    """`seconds` (an epoch expression) shifted to the zone."""
    return seconds + utc_offset(seconds, table)
