"""The proof-of-play report: plays and time on screen per item, screen and day.

    GET /screens/plays?screen=3&start=2026-11-01&end=2026-11-30&layout=7     the page
    GET /screens/plays.csv?...                                               the same rows as CSV

Days are the site's days (`SIGNAGE_TIMEZONE`); rows are summed here, so the
report reads the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from player.models import Play, Screen
from signage.auth import route
from signage.errors import Invalid
from signage.i18n import gettext as _
from signage.templating import render

EDITORS = ("editor",)
MAX_DAYS = 366


def parse_filters(request: Request) -> dict:
    q = request.query_params
    tz = ZoneInfo(request.app.state.settings.timezone)
    today = dt.datetime.now(tz).date()
    try:
        start = dt.date.fromisoformat(q["start"]) if q.get("start") else today - dt.timedelta(days=6)
        end = dt.date.fromisoformat(q["end"]) if q.get("end") else today
    except ValueError:
        raise Invalid(_("Dates are written as YYYY-MM-DD."), {"field": "start"}) from None
    if end < start or (end - start).days >= MAX_DAYS:
        raise Invalid(_("The end date must be after the start, at most a year later."), {"field": "end"})
    screen = q.get("screen", "")
    if screen and not screen.isdigit():
        raise Invalid(_("No such screen."), {"field": "screen"})
    return {
        "start": start,
        "end": end,
        "screen": int(screen) if screen else None,
        "layout": q.get("layout", "")[:40],
        "tz": tz,
    }


async def report_rows(request: Request, f: dict) -> list[dict]:
    tz = f["tz"]
    since = dt.datetime.combine(f["start"], dt.time(), tz).astimezone(dt.UTC)
    until = dt.datetime.combine(f["end"] + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    query = (
        select(Play, Screen.name)
        .join(Screen, Screen.id == Play.screen_id)
        .where(Play.started_at >= since, Play.started_at < until)
    )
    if f["screen"]:
        query = query.where(Play.screen_id == f["screen"])
    if f["layout"]:
        query = query.where(Play.layout == f["layout"])
    totals: dict[tuple, dict] = {}
    async with request.app.state.db.session() as s:
        for play, screen_name in (await s.execute(query)).all():
            day = play.started_at.astimezone(tz).date().isoformat()
            key = (day, play.screen_id, play.layout, play.region, play.item, play.widget)
            row = totals.setdefault(
                key,
                {
                    "day": day,
                    "screen_id": play.screen_id,
                    "screen": screen_name,
                    "layout": play.layout,
                    "region": play.region,
                    "item": play.item,
                    "widget": play.widget,
                    "plays": 0,
                    "seconds": 0.0,
                },
            )
            row["plays"] += play.plays
            row["seconds"] += play.seconds
    return sorted(totals.values(), key=lambda r: (r["day"], r["screen"], r["layout"], r["region"], r["item"]))


async def plays_page(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        screens = (await s.scalars(select(Screen).where(Screen.claimed_at.is_not(None)).order_by(Screen.name))).all()
    ctx: dict = {"screens": screens, "rows": [], "error": None, "q": request.query_params}
    try:
        f = parse_filters(request)
        ctx |= {"rows": await report_rows(request, f), "f": f}
    except Invalid as exc:
        return render(request, "player/plays.html", ctx | {"error": exc, "f": None}, status_code=400)
    return render(request, "player/plays.html", ctx)


COLUMNS = ("day", "screen", "screen_id", "layout", "region", "item", "widget", "plays", "seconds")


async def plays_csv(request: Request) -> Response:
    rows = await report_rows(request, parse_filters(request))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([round(r[c], 1) if c == "seconds" else r[c] for c in COLUMNS])
    name = f"plays-{request.query_params.get('start', 'week')}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


routes = [
    route("/screens/plays", plays_page, allow=EDITORS),
    route("/screens/plays.csv", plays_csv, allow=EDITORS),
]
