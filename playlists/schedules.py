"""Schedules: which layout a screen or a screen group plays, when (SPEC A5).

Who wins is `playlists.rules` (written down in docs/schedules.md). This module
checks and stores entries, tells the screens concerned at once, and shows what
plays where: now, next, and a week's timeline per screen.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from player.models import Screen, ScreenGroup
from playlists import api, playing, publishing, rules
from playlists.models import Layout, Schedule
from signage import audit, i18n, topics
from signage.api import json_body, parse
from signage.auth import route
from signage.db import utcnow
from signage.errors import AppError, Invalid, NotFound
from signage.i18n import gettext as _
from signage.responses import JSONResponse, created, is_htmx
from signage.templating import render
from widgets.clock import zones

EDITORS = ("editor",)


def minutes(value: str, name: str) -> int:
    """ "09:30" → 570; "24:00" → 1440 (the end of the day)."""
    try:
        hours, mins = (int(x) for x in value.split(":"))
    except ValueError:
        raise Invalid(_("%(field)s must be a time like 09:30.", field=name), {"field": name}) from None
    if not (0 <= hours <= 24 and 0 <= mins < 60) or hours * 60 + mins > 1440:
        raise Invalid(_("%(field)s must be a time like 09:30.", field=name), {"field": name})
    return hours * 60 + mins


def clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


async def check_schedule(s, body: api.ScheduleIn) -> dict:
    """An entry's fields, checked; Invalid says what is wrong and nothing is written."""
    start, end = minutes(body.start_time, "start_time"), minutes(body.end_time, "end_time")
    if end <= start:
        raise Invalid(_("The time window must end after it starts."), {"field": "end_time"})
    if body.end_date is not None and body.end_date < body.start_date:
        raise Invalid(_("The end date must not be before the start date."), {"field": "end_date"})
    days = sorted(set(body.weekdays))
    if not days or any(d not in range(7) for d in days):
        raise Invalid(_("Choose at least one weekday."), {"field": "weekdays"})
    tz = body.timezone or i18n.site_timezone.get()
    if tz not in zones():
        raise Invalid(_("Unknown time zone: %(tz)s", tz=tz[:64]), {"field": "timezone"})
    if (body.screen_id is None) == (body.group_id is None):
        raise Invalid(_("Choose either a screen or a screen group."), {"field": "screen_id"})
    if await s.get(Layout, body.layout_id) is None:
        raise Invalid(_("No such layout."), {"field": "layout_id"})
    if body.screen_id is not None and await s.get(Screen, body.screen_id) is None:
        raise Invalid(_("No such screen."), {"field": "screen_id"})
    if body.group_id is not None and await s.get(ScreenGroup, body.group_id) is None:
        raise Invalid(_("No such screen group."), {"field": "group_id"})
    return {
        "layout_id": body.layout_id,
        "screen_id": body.screen_id,
        "group_id": body.group_id,
        "start_date": body.start_date,
        "end_date": body.end_date,
        "weekdays": days,
        "start_minute": start,
        "end_minute": end,
        "timezone": tz,
        "priority": body.priority,
    }


def schedule_json(row: Schedule) -> dict:
    return {
        "id": row.id,
        "layout_id": row.layout_id,
        "screen_id": row.screen_id,
        "group_id": row.group_id,
        "start_date": row.start_date.isoformat(),
        "end_date": row.end_date.isoformat() if row.end_date else None,
        "weekdays": row.weekdays,
        "start_time": clock(row.start_minute),
        "end_time": clock(row.end_minute),
        "timezone": row.timezone,
        "priority": row.priority,
    }


async def targets(s, row: Schedule) -> set[int]:
    if row.screen_id is not None:
        return {row.screen_id}
    return await publishing.screens_of(s, row.group_id)


async def save(request: Request, body: api.ScheduleIn | None, schedule_id: int | None) -> Schedule:
    """Create (no id), change, or delete (no body) an entry; audited; its screens are told at once."""
    action = "schedule.delete" if body is None else "schedule.save"
    try:
        async with request.app.state.db.begin() as s:
            row = Schedule() if schedule_id is None else await s.get(Schedule, schedule_id, with_for_update=True)
            if row is None:
                raise NotFound(_("No such schedule entry."))
            screens = await targets(s, row) if schedule_id is not None else set()
            if body is None:
                await s.delete(row)
            else:
                for key, value in (await check_schedule(s, body)).items():
                    setattr(row, key, value)
                s.add(row)
                await s.flush()
                screens |= await targets(s, row)
    except AppError as exc:
        target = f"schedule:{schedule_id or 'new'}"
        await audit.record(request, action, target, result="failure", reason=exc.message)
        raise
    await audit.record(request, action, f"schedule:{row.id}")
    await publishing.notify(request, screens, schedule_id=row.id)
    await request.app.state.bus.notify_many(topics.page_changed("schedules"))  # open schedule pages
    return row


# Pages


def form_body(form) -> api.ScheduleIn:
    target = str(form.get("target", ""))
    kind, _sep, raw_id = target.partition(":")
    data = {
        "layout_id": form.get("layout_id") or 0,
        "screen_id": raw_id if kind == "screen" else None,
        "group_id": raw_id if kind == "group" else None,
        "start_date": form.get("start_date") or None,
        "end_date": form.get("end_date") or None,
        "weekdays": form.getlist("weekdays"),
        "start_time": form.get("start_time") or "00:00",
        "end_time": form.get("end_time") or "24:00",
        "timezone": form.get("timezone") or None,
        "priority": form.get("priority") or 0,
    }
    return parse(api.ScheduleIn, data, strict=False)


async def schedules_page(request: Request, status_code: int = 200, error: AppError | None = None) -> Response:
    async with request.app.state.db.session() as s:
        rows = (await s.scalars(select(Schedule).order_by(Schedule.priority.desc(), Schedule.id))).all()
        layouts = {lo.id: lo for lo in (await s.scalars(select(Layout).order_by(Layout.name))).all()}
        screens = {sc.id: sc for sc in (await s.scalars(select(Screen).order_by(Screen.name))).all()}
        groups = {g.id: g for g in (await s.scalars(select(ScreenGroup).order_by(ScreenGroup.name))).all()}
    ctx = {
        "entries": [{**schedule_json(r), "row": r} for r in rows],
        "layouts": layouts,
        "screens": {k: v for k, v in screens.items() if v.claimed},
        "groups": groups,
        "error": error,
        "site_timezone": i18n.site_timezone.get(),
        "today": i18n.local_time(utcnow()).date().isoformat(),
    }
    block = "entries" if is_htmx(request) else None  # a live refresh (static/live.js)
    return render(request, "schedules/list.html", ctx, status_code=status_code, block=block)


async def add_schedule(request: Request) -> Response:
    try:
        await save(request, form_body(await request.form()), None)
    except Invalid as exc:
        return await schedules_page(request, status_code=400, error=exc)
    return RedirectResponse("/schedules", status_code=303)


async def delete_schedule(request: Request) -> Response:
    await save(request, None, request.path_params["id"])
    return RedirectResponse("/schedules", status_code=303)


async def playing_json(request: Request, screen: Screen, days: int = 7) -> dict:
    """Now, next and the week from today's local midnight, for one screen."""
    now = utcnow()
    tz = ZoneInfo(i18n.site_timezone.get())
    async with request.app.state.db.session() as s:
        entries = await playing.entries_for(s, screen)
        emergency = await playing.emergency_for(s, screen.group_id)
        names = {lo.id: lo.name for lo in (await s.scalars(select(Layout))).all()}
    midnight = dt.datetime.combine(now.astimezone(tz).date(), dt.time(), tzinfo=tz).astimezone(dt.UTC)
    end = midnight + dt.timedelta(days=days)

    def slot(start: dt.datetime, entry: rules.Entry | None) -> dict:
        layout_id = entry.layout_id if entry else screen.layout_id
        return {
            "from": start.isoformat(),
            "layout_id": layout_id,
            "layout": names.get(layout_id) if layout_id else None,
            "schedule_id": entry.id if entry else None,
        }

    week = rules.timeline(entries, midnight, end)
    slots = [slot(t, e) for t, e in week]
    for a, b in zip(slots, [*slots[1:], {"from": end.isoformat()}], strict=True):
        a["until"] = b["from"]
    current = slot(now, rules.winner(entries, now))
    change = rules.next_change(entries, now)
    return {
        "screen_id": screen.id,
        "emergency": {"id": emergency.id, "message": emergency.message} if emergency else None,
        "now": current,
        "next": slot(change, rules.winner(entries, change)) if change else None,
        "timeline": slots,
    }


async def get_screen(request: Request) -> Screen:
    async with request.app.state.db.session() as s:
        screen = await s.get(Screen, request.path_params["id"])
    if screen is None:
        raise NotFound(_("No such screen."))
    return screen


async def playing_page(request: Request) -> Response:
    screen = await get_screen(request)
    data = await playing_json(request, screen)
    if data["next"]:
        data["next"]["from"] = dt.datetime.fromisoformat(data["next"]["from"])
    return render(request, "schedules/playing.html", {"screen": screen, "data": data, "days": week_rows(data)})


def week_rows(data: dict) -> list[dict]:
    """The timeline cut into days, each slot with its left/width in percent of the day."""
    tz = ZoneInfo(i18n.site_timezone.get())
    slots = [
        (dt.datetime.fromisoformat(x["from"]).astimezone(tz), dt.datetime.fromisoformat(x["until"]).astimezone(tz), x)
        for x in data["timeline"]
    ]
    first = slots[0][0]
    days = []
    for n in range(7):
        day_start = dt.datetime.combine(first.date() + dt.timedelta(days=n), dt.time(), tzinfo=tz)
        day_end = dt.datetime.combine(day_start.date() + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        length = (day_end - day_start).total_seconds()
        row = []
        for a, b, x in slots:
            lo, hi = max(a, day_start), min(b, day_end)
            if hi > lo:
                left = (lo - day_start).total_seconds() / length * 100
                row.append({**x, "left": left, "width": (hi - lo).total_seconds() / length * 100, "at": lo, "to": hi})
        days.append({"date": day_start.date(), "slots": row})
    return days


# API


async def api_list(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        rows = (await s.scalars(select(Schedule).order_by(Schedule.id))).all()
    return JSONResponse([schedule_json(r) for r in rows])


async def api_create(request: Request) -> Response:
    row = await save(request, parse(api.ScheduleIn, await json_body(request)), None)
    return created(schedule_json(row), f"/api/v1/schedules/{row.id}")


async def api_get(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        row = await s.get(Schedule, request.path_params["id"])
    if row is None:
        raise NotFound(_("No such schedule entry."))
    return JSONResponse(schedule_json(row))


async def api_update(request: Request) -> Response:
    body = parse(api.ScheduleIn, await json_body(request))
    return JSONResponse(schedule_json(await save(request, body, request.path_params["id"])))


async def api_delete(request: Request) -> Response:
    await save(request, None, request.path_params["id"])
    return Response(status_code=204)


async def api_playing(request: Request) -> Response:
    return JSONResponse(await playing_json(request, await get_screen(request)))


routes = [
    route("/schedules", schedules_page, allow=EDITORS),
    route("/schedules", add_schedule, methods=["POST"], allow=EDITORS),
    route("/schedules/{id:id}/delete", delete_schedule, methods=["POST"], allow=EDITORS),
    route("/schedules/screens/{id:id}", playing_page, allow=EDITORS),
    route("/api/v1/schedules", api_list, allow=EDITORS),
    route("/api/v1/schedules", api_create, methods=["POST"], allow=EDITORS),
    route("/api/v1/schedules/{id:id}", api_get, allow=EDITORS),
    route("/api/v1/schedules/{id:id}", api_update, methods=["PUT"], allow=EDITORS),
    route("/api/v1/schedules/{id:id}", api_delete, methods=["DELETE"], allow=EDITORS),
    route("/api/v1/screens/{id:id}/playing", api_playing, allow=EDITORS),
]
