"""The statistics page `/stats` (room admins for their rooms, admins for all).

A range (a preset: today, this week, this month, the last 30, 90 or 365 days; or from and
to) and a grouping (room, floor, building, department). The page shows three reports,
each the API's JSON (`GET /api/v1/stats/rooms`) embedded in the page and drawn by
`stats.js` with Apache ECharts, and each also as a table:

- a heat map of utilization by weekday × hour (the report grouped by `hour`),
- bars of booked and used hours per group (the chosen grouping; the table has every column),
- a line of booked, used and no-show hours per day (grouped by `day`).

    /stats?preset=month&group=floor
    /stats?from=2026-11-01&to=2026-11-30&group=room
"""

from __future__ import annotations

import calendar
import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from booking_api.stats import ghosts
from booking_api.stats.api import STATS, parse_choice, parse_range, rooms_of
from booking_api.stats.figures import report, weekday_names
from signage import clock
from signage.auth import route
from signage.errors import Invalid
from signage.i18n import gettext as _
from signage.templating import render

PAGE_GROUPS = ("room", "floor", "building", "department")
PRESETS = ("today", "week", "month", "30", "90", "365")
ECHARTS = "/static/booking_api/stats/echarts-6.1.0.min.js"


def preset_range(preset: str, today: dt.date) -> tuple[dt.date, dt.date]:
    if preset == "today":
        return today, today
    if preset == "week":
        monday = today - dt.timedelta(days=today.weekday())
        return monday, monday + dt.timedelta(days=6)
    if preset == "month":
        return today.replace(day=1), today.replace(day=calendar.monthrange(today.year, today.month)[1])
    return today - dt.timedelta(days=int(preset) - 1), today


def preset_labels() -> dict[str, str]:
    return {
        "today": _("Today"),
        "week": _("This week"),
        "month": _("This month"),
        "30": _("Last 30 days"),
        "90": _("Last 90 days"),
        "365": _("Last 365 days"),
    }


def group_labels() -> dict[str, str]:
    return {"room": _("Room"), "floor": _("Floor"), "building": _("Building"), "department": _("Department")}


def column_labels() -> dict[str, str]:
    return {
        "label": _("Group"),
        "rooms": _("Rooms"),
        "bookable_hours": _("Bookable hours"),
        "booked_hours": _("Booked hours"),
        "used_hours": _("Used hours"),
        "utilization": _("Utilization"),
        "occupancy": _("Occupancy"),
        "meetings": _("Meetings"),
        "no_shows": _("No-shows"),
        "no_show_hours": _("No-show hours"),
        "no_show_rate": _("No-show rate"),
        "released": _("Released early"),
        "recovered_hours": _("Recovered hours"),
        "rebooked": _("Booked again"),
        "started": _("Started"),
        "checked_in": _("Checked in"),
        "check_in_rate": _("Check-in rate"),
        "avg_headcount": _("Average headcount"),
        "avg_capacity": _("Average capacity"),
        "headcount_to_capacity": _("Headcount / capacity"),
        "cancelled": _("Cancelled"),
        "avg_cancel_lead_hours": _("Cancelled hours ahead"),
        "service_calls": _("Service calls"),
        "avg_response_minutes": _("Response minutes"),
    }


def choose(params, today: dt.date) -> tuple[dt.date, dt.date, str, str]:
    """(from, to, group, preset) the query asks for; this month by default."""
    preset = params.get("preset") or ("" if params.get("from") or params.get("to") else "month")
    if preset:
        if preset not in PRESETS:
            raise Invalid(_("Unknown preset."), {"field": "preset"})
        start, end = preset_range(preset, today)
    else:
        start, end = parse_range(params, today)
    return start, end, parse_choice(params, "group", PAGE_GROUPS, "room"), preset


async def stats_page(request: Request) -> Response:
    tz = ZoneInfo(request.app.state.settings.timezone)
    now = clock.now()
    start, end, group, preset = choose(request.query_params, now.astimezone(tz).date())
    async with request.app.state.db.session() as s:
        room_ids = await rooms_of(s, request.state.user)
        main = await report(s, tz, start, end, group, room_ids, now)
        hours = await report(s, tz, start, end, "hour", room_ids, now)
        days = await report(s, tz, start, end, "day", room_ids, now)
        ghost_ledger = await ghosts.ledger(s, tz, start, end, room_ids, 2, now)
    query = {"from": start.isoformat(), "to": end.isoformat()}
    ctx = {
        "main": main,
        "hours": hours,
        "days": days,
        "heat": [[hours["rows"][w * 24 + h] for h in range(24)] for w in range(7)],
        "weekdays": weekday_names(),
        "group": group,
        "preset": preset,
        "start": start,
        "end": end,
        "presets": preset_labels(),
        "groups": group_labels(),
        "labels": column_labels(),
        "api": "/api/v1/stats/rooms?" + urlencode({**query, "group": group}),
        "api_hours": "/api/v1/stats/rooms?" + urlencode({**query, "group": "hour"}),
        "api_days": "/api/v1/stats/rooms?" + urlencode({**query, "group": "day"}),
        "ECHARTS": ECHARTS,
        "ghosts": ghost_ledger,
        "ghost_done": request.query_params.get("ghost", ""),
    }
    return render(request, "stats/stats.html", ctx)


routes = [route("/stats", stats_page, allow=STATS)]
