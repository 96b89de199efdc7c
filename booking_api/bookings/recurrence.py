"""Recurring meetings: RFC 5545 RRULE (daily, weekly on given days, monthly; until a date or a count).

    occurrences("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4", start, end, "Asia/Shanghai")
    → [(start, end), ...] four aware UTC pairs, at the same local wall time every time

Occurrences are computed in the site's time zone, so a 09:00 meeting stays at 09:00
across daylight-saving changes. A rule must end (UNTIL or COUNT) within MAX_COUNT
occurrences and MAX_DAYS days.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from signage.errors import Invalid
from signage.i18n import gettext as _

MAX_COUNT = 500
MAX_DAYS = 2 * 366
FREQS = ("DAILY", "WEEKLY", "MONTHLY")


def parse_parts(rule: str) -> dict[str, str]:
    rule = rule.strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[6:]
    parts = {}
    for part in rule.split(";"):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise Invalid(_("The repeat rule is not valid: %(rule)s", rule=rule), {"field": "rrule"})
        parts[key.strip().upper()] = value.strip().upper()
    return parts


def occurrences(
    rule: str, start: dt.datetime, end: dt.datetime, timezone: str
) -> list[tuple[dt.datetime, dt.datetime]]:
    parts = parse_parts(rule)
    if parts.get("FREQ") not in FREQS:
        raise Invalid(
            _("Meetings repeat daily, weekly or monthly (FREQ=DAILY, WEEKLY or MONTHLY)."), {"field": "rrule"}
        )
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise Invalid(_("Say when the meetings stop repeating (UNTIL or COUNT)."), {"field": "rrule"})
    if "COUNT" in parts and "UNTIL" in parts:  # RFC 5545 allows one of them
        raise Invalid(_("Say when the meetings stop repeating with UNTIL or COUNT, not both."), {"field": "rrule"})
    if "COUNT" in parts and not (parts["COUNT"].isascii() and parts["COUNT"].isdigit() and int(parts["COUNT"]) >= 1):
        raise Invalid(_("COUNT is how many meetings: a whole number from 1."), {"field": "rrule"})
    if "COUNT" in parts and int(parts["COUNT"]) > MAX_COUNT:
        raise Invalid(_("A meeting repeats at most %(n)s times.", n=MAX_COUNT), {"field": "rrule"})
    if len(parts.get("UNTIL", "")) == 8:  # a date: the whole day counts
        parts["UNTIL"] += "T235959"
    tz = ZoneInfo(timezone)
    local_start = start.astimezone(tz).replace(tzinfo=None)
    text = ";".join(f"{k}={v}" for k, v in parts.items())
    try:
        rule_set = rrulestr(text, dtstart=local_start, ignoretz=True)
        limit = local_start + dt.timedelta(days=MAX_DAYS)
        found = []
        for when in rule_set:
            if when > limit or len(found) > MAX_COUNT:
                raise Invalid(
                    _("A meeting repeats at most %(n)s times, over at most two years.", n=MAX_COUNT), {"field": "rrule"}
                )
            found.append(when)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise Invalid(
            _("The repeat rule is not valid: %(rule)s", rule=re.sub(r"\s+", " ", rule)[:200]),
            {"field": "rrule", "reason": str(exc)},
        ) from None
    if not found:
        raise Invalid(_("The repeat rule gives no meetings."), {"field": "rrule"})
    length = end - start
    out = []
    for when in found:
        s = when.replace(tzinfo=tz).astimezone(dt.UTC)
        out.append((s, s + length))
    return out
