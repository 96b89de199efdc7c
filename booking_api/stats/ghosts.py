"""The ghost-meeting ledger (issue 17 point 2): recurring meetings and organizers whose
meetings go unused (released as no-shows), with the hours lost and the strikes, and what a
room admin does about one: tell its organizer, or end the series.

    GET  /api/v1/stats/ghosts?from=YYYY-MM-DD&to=YYYY-MM-DD&min_strikes=2
         → {"series": [{"series_id", "title", "organizer_id", "organizer", "room_id", "room",
                        "strikes", "hours_lost", "last", "upcoming"}], "organizers": [...]}
    POST /api/v1/stats/ghosts/{series_id}/notify   a notice on the organizer's bell
    POST /api/v1/stats/ghosts/{series_id}/end      its meetings still to come cancelled

Two grouped queries (by series, by organizer) over the released meetings of the range, in
the rooms the asker may see (admins all, room admins theirs); the same forms on /stats.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking_api.bookings.bookings import cancel_booking
from booking_api.models import ACTIVE, Booking, Room
from booking_api.rooms.rooms import may_manage
from booking_api.stats.api import parse_range, rooms_of
from booking_api.stats.sql import epoch
from signage import audit, clock, openapi
from signage.api import param, refuse_unknown
from signage.auth import route
from signage.errors import AppError, Invalid, NotFound
from signage.i18n import gettext as _
from signage.models import User
from signage.notify import inbox
from signage.notify.invites import speaking
from signage.responses import JSONResponse

MANAGERS = ("room_admin",)


def strikes_of(params) -> int:
    raw = params.get("min_strikes") or "2"
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1000:
        raise Invalid(_("min_strikes is a whole number from 1 to 1000."), {"field": "min_strikes"})
    return int(raw)


async def ledger(s, tz: ZoneInfo, start: dt.date, end: dt.date, room_ids, min_strikes: int, now: dt.datetime) -> dict:
    since = dt.datetime.combine(start, dt.time(), tz).astimezone(dt.UTC)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    ghosts = [Booking.status == "no_show", Booking.start_at >= since, Booking.start_at < until]
    if room_ids is not None:
        ghosts.append(Booking.room_id.in_(room_ids))
    strikes = func.count().label("strikes")
    lost = func.sum(epoch(Booking.end_at) - epoch(Booking.start_at)).label("lost")
    series = (
        await s.execute(
            select(Booking.series_id, strikes, lost, func.max(Booking.start_at).label("last"),
                   func.max(Booking.organizer_id).label("organizer_id"), func.max(Booking.room_id).label("room_id"),
                   func.max(Booking.title).label("title"))  # fmt: skip
            .where(*ghosts, Booking.series_id.is_not(None))
            .group_by(Booking.series_id)
            .having(func.count() >= min_strikes)
            .order_by(strikes.desc(), Booking.series_id)
        )
    ).all()
    people = (
        await s.execute(
            select(Booking.organizer_id, strikes, lost, func.count(func.distinct(Booking.series_id)).label("series"))
            .where(*ghosts, Booking.organizer_id.is_not(None))
            .group_by(Booking.organizer_id)
            .having(func.count() >= min_strikes)
            .order_by(strikes.desc(), Booking.organizer_id)
        )
    ).all()
    upcoming = {}
    if series:
        for series_id, count in (
            await s.execute(
                select(Booking.series_id, func.count())
                .where(Booking.series_id.in_([r.series_id for r in series]), Booking.status.in_(ACTIVE),
                       Booking.start_at > now)  # fmt: skip
                .group_by(Booking.series_id)
            )
        ).all():
            upcoming[series_id] = count
    user_ids = {r.organizer_id for r in series} | {r.organizer_id for r in people}
    users = {u.id: u for u in (await s.scalars(select(User).where(User.id.in_(user_ids)))).all()} if user_ids else {}
    rooms = {r.id: r.name for r in (await s.execute(select(Room.id, Room.name))).all()}

    def who(user_id):
        u = users.get(user_id)
        return (u.name or u.email) if u else ""

    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "min_strikes": min_strikes,
        "series": [
            {"series_id": r.series_id, "title": r.title, "organizer_id": r.organizer_id, "organizer": who(r.organizer_id),
             "room_id": r.room_id, "room": rooms.get(r.room_id, ""), "strikes": r.strikes,
             "hours_lost": round((r.lost or 0) / 3600, 2), "last": r.last.isoformat() if r.last else None,
             "upcoming": upcoming.get(r.series_id, 0)}  # fmt: skip
            for r in series
        ],
        "organizers": [
            {"organizer_id": r.organizer_id, "organizer": who(r.organizer_id), "strikes": r.strikes,
             "hours_lost": round((r.lost or 0) / 3600, 2), "series": r.series}  # fmt: skip
            for r in people
        ],
    }


async def load(request: Request, params) -> dict:
    tz = ZoneInfo(request.app.state.settings.timezone)
    now = clock.now()
    today = now.astimezone(tz).date()
    if not params.get("from") and not params.get("to"):  # the last 90 days
        params = {**params, "from": (today - dt.timedelta(days=89)).isoformat(), "to": today.isoformat()}
    start, end = parse_range(params, today)
    min_strikes = strikes_of(params)
    async with request.app.state.db.reads() as s:
        room_ids = await rooms_of(s, request.state.user)
        return await ledger(s, tz, start, end, room_ids, min_strikes, now)


async def api_ledger(request: Request) -> Response:
    refuse_unknown(request, {"from", "to", "min_strikes"})
    return JSONResponse(await load(request, request.query_params))


async def series_of(request: Request) -> tuple[list, int | None, str]:
    """The series' meetings still to come, and its organizer; NotFound unless the asker manages its room."""
    series_id, user = request.path_params["id"], request.state.user
    async with request.app.state.db.reads() as s:
        found = (await s.scalars(select(Booking).where(Booking.series_id == series_id).order_by(Booking.start_at))).all()
        if not found or not await may_manage(s, user, found[-1].room_id):
            raise NotFound(_("No such recurring meeting."))
    now = clock.now()
    return [b for b in found if b.active and b.start_at > now], found[-1].organizer_id, found[-1].title


async def notify(request: Request) -> dict:
    _coming, organizer_id, title = await series_of(request)
    async with request.app.state.db.begin() as s:
        organizer = await s.get(User, organizer_id) if organizer_id else None
        if organizer is None:
            raise Invalid(_("This recurring meeting has no organizer to tell."))
        settings = request.app.state.settings
        with speaking(organizer.locale or settings.default_locale, settings.timezone):
            text = _("Your recurring meeting “%(title)s” often goes unused: please check in, or end the series.",
                     title=title)  # fmt: skip
        inbox.add(s, organizer.id, "ghost", f"series:{request.path_params['id']}", text)
        s.add(audit.entry(request, "series.ghost_notify", f"series:{request.path_params['id']}", "success",
                          f"user:{organizer.id}", request.state.user))  # fmt: skip
        inbox.told(s, request.app.state.bus)
    request.state.audited = True
    return {"notified": organizer.id}


async def end(request: Request) -> dict:
    coming, _organizer, _title = await series_of(request)
    if not coming:
        raise Invalid(_("No meeting of this series is still to come."))
    targets = await cancel_booking(request, coming[0].id, "following", _("Ended: its meetings went unused."))
    return {"cancelled": [t.id for t in targets]}


async def api_notify(request: Request) -> Response:
    return JSONResponse(await notify(request))


async def api_end(request: Request) -> Response:
    return JSONResponse(await end(request))


async def page_action(request: Request) -> Response:
    """The forms on /stats: tell the organizer or end the series, then back to the page."""
    if request.path_params["action"] not in ("notify", "end"):
        raise NotFound(_("No such page."))
    action = notify if request.path_params["action"] == "notify" else end
    try:
        await action(request)
        done = "notified" if action is notify else "ended"
    except AppError as exc:
        done = "error:" + exc.message
    from urllib.parse import quote

    return RedirectResponse(f"/stats?ghost={quote(done)}#ghosts", status_code=303)


RANGE = {"from": param("YYYY-MM-DD (default: 89 days before to)"), "to": param("YYYY-MM-DD (default: today)"),
         "min_strikes": param("only series and organizers with at least this many (default 2)", type="integer",
                              minimum=1, maximum=1000)}  # fmt: skip
openapi.add("get", "/api/v1/stats/ghosts", "Ghost meetings: recurring meetings and organizers whose meetings go unused",
            tag="statistics", query=RANGE, errors=(400, 401, 403))  # fmt: skip
openapi.add("post", "/api/v1/stats/ghosts/{id}/notify", "Tell a ghost series' organizer (a notice on their bell)",
            tag="statistics", errors=(400, 401, 403, 404))  # fmt: skip
openapi.add("post", "/api/v1/stats/ghosts/{id}/end", "End a ghost series: its meetings still to come are cancelled",
            tag="statistics", errors=(400, 401, 403, 404, 409))  # fmt: skip

routes = [
    route("/api/v1/stats/ghosts", api_ledger, allow=MANAGERS),
    route("/api/v1/stats/ghosts/{id:id}/notify", api_notify, methods=["POST"], allow=MANAGERS),
    route("/api/v1/stats/ghosts/{id:id}/end", api_end, methods=["POST"], allow=MANAGERS),
    route("/stats/ghosts/{id:id}/{action:str}", page_action, methods=["POST"], allow=MANAGERS),
]
