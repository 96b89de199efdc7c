"""`GET /api/v1/stats/rooms`: the statistics report as JSON, CSV or an Excel workbook.

    GET /api/v1/stats/rooms?from=2026-11-01&to=2026-11-30&group=room            → JSON
    GET /api/v1/stats/rooms?from=2026-11-01&to=2026-11-30&group=hour&format=csv → CSV (UTF-8, BOM)
    GET /api/v1/stats/rooms?...&format=xlsx                                     → a workbook

Room admins see their rooms, admins every room; anyone else gets 403. The CSV and the
workbook hold the JSON's rows, its columns in the same order (`figures.COLUMNS`), then
the total. Without `from` and `to`: the last 30 days up to today.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, create_model
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from booking_api.models import RoomOwner
from booking_api.stats.figures import COLUMNS, GROUPS, report
from signage import clock, openapi
from signage.api import refuse_unknown
from signage.auth import route
from signage.errors import Invalid
from signage.i18n import gettext as _
from signage.responses import JSONResponse

STATS = ("room_admin",)  # and admins
FORMATS = ("json", "csv", "xlsx")
MAX_DAYS = 1100  # three years
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date(params, name: str, default: dt.date) -> dt.date:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        if not DATE.fullmatch(raw):
            raise ValueError
        value = dt.date.fromisoformat(raw)
    except ValueError:
        raise Invalid(_("%(name)s is a date: YYYY-MM-DD.", name=name), {"field": name}) from None
    if not 1971 <= value.year <= 9998:
        raise Invalid(_("%(name)s is out of range.", name=name), {"field": name})
    return value


def parse_range(params, today: dt.date) -> tuple[dt.date, dt.date]:
    """`from` and `to` (days of the site, both included); the last 30 days without them."""
    end = _date(params, "to", today)
    start = _date(params, "from", end - dt.timedelta(days=29))
    if start > end:
        raise Invalid(_("from is after to."), {"field": "from"})
    if (end - start).days >= MAX_DAYS:
        raise Invalid(_("A report covers at most %(n)d days.", n=MAX_DAYS), {"field": "from"})
    return start, end


def parse_choice(params, name: str, choices: tuple[str, ...], default: str) -> str:
    value = params.get(name) or default
    if value not in choices:
        raise Invalid(_("%(name)s is one of: %(choices)s.", name=name, choices=", ".join(choices)), {"field": name})
    return value


async def rooms_of(s, user) -> list[int] | None:
    """The rooms whose figures the user may see: None (all) for admins, else the rooms they own."""
    if user.role == "admin":
        return None
    return list((await s.scalars(select(RoomOwner.room_id).where(RoomOwner.user_id == user.id))).all())


async def load(request: Request, params) -> dict:
    """The report `params` ask for, of the rooms the user may see."""
    tz = ZoneInfo(request.app.state.settings.timezone)
    now = clock.now()
    start, end = parse_range(params, now.astimezone(tz).date())
    group = parse_choice(params, "group", GROUPS, "room")
    async with request.app.state.db.session() as s:
        room_ids = await rooms_of(s, request.state.user)
        return await report(s, tz, start, end, group, room_ids, now)


def table(data: dict) -> list[list[Any]]:
    """Header, rows and the total, as CSV and the workbook hold them."""
    columns = data["columns"]
    return [columns, *([row[c] for c in columns] for row in [*data["rows"], data["total"]])]


def as_csv(data: dict) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for line in table(data):
        writer.writerow(["" if v is None else v for v in line])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM: Excel then reads UTF-8 (Chinese names)


def as_xlsx(data: dict) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Statistics")[:31])
    for line in table(data):
        sheet.append(line)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def download(data: dict, fmt: str) -> Response:
    name = f"rooms-{data['group']}-{data['from']}-{data['to']}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(as_csv(data), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(as_xlsx(data), media_type=XLSX, headers=headers)


async def api_rooms(request: Request) -> Response:
    params = request.query_params
    refuse_unknown(request, {"from", "to", "group", "format"})
    fmt = parse_choice(params, "format", FORMATS, "json")
    data = await load(request, params)
    if fmt == "json":
        return JSONResponse(data)
    return download(data, fmt)


def _row_type(name: str):
    if name in ("key", "label"):
        return str
    if name in ("weekday", "hour"):
        return int | None
    if name in ("rooms", "meetings", "no_shows", "released", "rebooked", "started", "checked_in", "cancelled"):
        return int
    if name == "service_calls":
        return int
    if name.endswith("_hours") and not name.startswith("avg"):
        return float
    return float | None  # a ratio or an average: null when there is nothing to divide by


StatsRow = create_model(
    "StatsRow", **{name: (_row_type(name), Field(description=text)) for name, text in COLUMNS.items()}
)


class StatsReport(BaseModel):
    from_: str = Field(alias="from", description="first day (YYYY-MM-DD, the site's zone)")
    to: str = Field(description="last day, included")
    group: str = Field(description="room, floor, building, department, hour (weekday × hour) or day")
    columns: list[str] = Field(description="the row fields in order (the CSV's and workbook's header)")
    rows: list[StatsRow] = Field(description="one per group; every room, day or weekday-hour, with nothing or not")
    total: StatsRow = Field(description="the figures of every row together")
    message: str = Field(description="a remark, e.g. that no departments are set")


openapi.add(
    "get",
    "/api/v1/stats/rooms",
    "Room statistics: bookable, booked and used hours, no-shows, recovered hours, check-in rate, "
    "headcount, cancellations, service calls, per room, floor, building, department, day or weekday × hour",
    response=StatsReport,
    tag="statistics",
    query={
        "from": "first day, YYYY-MM-DD in the site's zone (default: 29 days before `to`)",
        "to": "last day, included (default: today); at most 1,100 days in all",
        "group": "room (default), floor, building, department, hour (weekday × hour of day) or day",
        "format": "json (default), csv (UTF-8 with a BOM, then a total row) or xlsx (the same rows)",
    },
    errors=(400, 401, 403),
)

routes = [route("/api/v1/stats/rooms", api_rooms, allow=STATS)]
