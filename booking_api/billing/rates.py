"""A rate card's rules, and the price they give a meeting (no database here).

A rule (as the API takes it and the card stores it):

    {"label": "Peak", "weekdays": [1, 2, 3, 4, 5], "from": "09:00", "to": "18:00",
     "min_minutes": 0, "max_minutes": null, "unit_minutes": 30, "unit_price": 5000,
     "minimum": 0, "rounding": "up", "who": null}

`weekdays` ISO (1 Monday … 7 Sunday), `from`/`to` local times of the site ("24:00" is the
end of the day), `min_minutes`/`max_minutes` the meeting's whole length, prices in fen.

    quote(rules, start, end, tz, tags) → Quote(lines=[Line(...)], total=...)

The meeting is cut at every local midnight and at each rule's `from` and `to`; each piece
takes the first rule that matches it, and consecutive pieces of one rule are one line:
its minutes in units (`rounding`: "up" by default, "down", or "nearest" with a half
rounded up), units × unit price, at least the rule's `minimum`. A piece no rule matches
costs nothing and makes no line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

DAY_MINUTES = 24 * 60


def minutes_of(hhmm: str) -> int:
    """"09:30" → 570; "24:00" → 1440."""
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def units_of(minutes: int, unit_minutes: int, rounding: str) -> int:
    if rounding == "down":
        return minutes // unit_minutes
    if rounding == "nearest":
        return (2 * minutes + unit_minutes) // (2 * unit_minutes)  # a half unit rounds up
    return -(-minutes // unit_minutes)  # up


def matches_who(rule: dict, tags: Iterable[str | int]) -> bool:
    who = rule.get("who")
    return who is None or who in set(tags)


def applies(rule: dict, length_minutes: int, tags: Iterable[str | int]) -> bool:
    """The rule can price this meeting at all: its length and who books it."""
    longest = rule.get("max_minutes")
    return (
        length_minutes >= (rule.get("min_minutes") or 0)
        and (longest is None or length_minutes <= longest)
        and matches_who(rule, tags)
    )


@dataclasses.dataclass
class Line:
    rule: int  # the rule's place on the card
    label: str
    minutes: int
    units: int
    unit_price: int
    amount: int

    def as_json(self) -> dict:
        return {"label": self.label, "units": self.units, "unit_price": self.unit_price, "amount": self.amount,
                "minutes": self.minutes, "rule": self.rule}  # fmt: skip


@dataclasses.dataclass
class Quote:
    lines: list[Line]

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


def label_of(rule: dict) -> str:
    if rule.get("label"):
        return rule["label"]
    days = rule.get("weekdays") or list(range(1, 8))
    names = "Mon Tue Wed Thu Fri Sat Sun".split()
    if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        span = f"{names[days[0] - 1]}–{names[days[-1] - 1]}"
    else:
        span = ",".join(names[d - 1] for d in days)
    return f"{span} {rule.get('from', '00:00')}–{rule.get('to', '24:00')}"


def cuts(start: dt.datetime, end: dt.datetime, tz: ZoneInfo, rules: Sequence[dict]) -> list[dt.datetime]:
    """Every time in (start, end) where a rule's band or the local day begins or ends, sorted."""
    marks = {0, DAY_MINUTES}
    for rule in rules:
        marks.add(minutes_of(rule.get("from", "00:00")))
        marks.add(minutes_of(rule.get("to", "24:00")))
    found = set()
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        for mark in marks:  # the day's wall-clock time → its instant
            if mark < DAY_MINUTES:
                at = dt.datetime.combine(day, dt.time(mark // 60, mark % 60), tz).astimezone(dt.UTC)
            else:
                at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
            if start < at < end:
                found.add(at)
        day += dt.timedelta(days=1)
    return sorted(found)


def rule_for(rules: Sequence[tuple[int, dict]], piece_start: dt.datetime, tz: ZoneInfo) -> int | None:
    """The first rule whose weekdays and band hold the piece starting at `piece_start`
    (a piece never crosses a band's edge or midnight, so its start decides)."""
    local = piece_start.astimezone(tz)
    weekday, minute = local.isoweekday(), local.hour * 60 + local.minute
    for place, rule in rules:
        if weekday in (rule.get("weekdays") or range(1, 8)):
            if minutes_of(rule.get("from", "00:00")) <= minute < minutes_of(rule.get("to", "24:00")):
                return place
    return None


def quote(rules: Sequence[dict], start: dt.datetime, end: dt.datetime, tz: ZoneInfo, tags: Iterable = ()) -> Quote:
    """The price of one meeting from `start` to `end` (aware datetimes) under `rules`."""
    tags = list(tags)
    length = int((end - start).total_seconds() // 60)
    usable = [(place, rule) for place, rule in enumerate(rules) if applies(rule, length, tags)]
    points = [start, *cuts(start, end, tz, [rule for _place, rule in usable]), end]
    segments: list[list] = []  # [rule place, seconds]
    for a, b in zip(points, points[1:], strict=False):
        place = rule_for(usable, a, tz)
        seconds = (b - a).total_seconds()
        if segments and segments[-1][0] == place:
            segments[-1][1] += seconds
        else:
            segments.append([place, seconds])
    lines = []
    for place, seconds in segments:
        if place is None:
            continue
        rule = rules[place]
        minutes = int(seconds // 60)
        units = units_of(minutes, rule["unit_minutes"], rule.get("rounding", "up"))
        amount = max(units * rule["unit_price"], rule.get("minimum") or 0)
        lines.append(Line(place, label_of(rule), minutes, units, rule["unit_price"], amount))
    return Quote(lines)


def combine(quotes: Iterable[Quote]) -> list[Line]:
    """The lines of several occurrences' quotes, one per rule (units and amounts added)."""
    by_rule: dict[int, Line] = {}
    for q in quotes:
        for line in q.lines:
            kept = by_rule.get(line.rule)
            if kept is None:
                by_rule[line.rule] = dataclasses.replace(line)
            else:
                kept.minutes += line.minutes
                kept.units += line.units
                kept.amount += line.amount
    return [by_rule[k] for k in sorted(by_rule)]
