"""What rooms earned in a month, and a room admin's override of a booking's price.

    GET  /api/v1/billing/charges?month=2026-12&group=organizer|room|department[&format=csv]
         → {"month", "group", "rows": [{"key", "label", "bookings", "amount", "currency"}], "total"}
    GET  /billing?month=2026-12&group=organizer       the page (its table, CSV, statements)
    GET  /billing/statement?month=2026-12&organizer_id=7   a printable statement of one organizer
    POST /api/v1/bookings/{id}/charges {"amount": 8000, "reason": "..."} → the booking's charges

A booking counts in the month it starts (the site's zone) at its latest charge (what it costs
now); bookings that cost nothing are left out. Admins see every room, room admins their own.
By department: the organizer's department (signage/directory; the first by id when in several).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from booking_api.billing.models import Charge
from booking_api.models import Booking, Room
from booking_api.rooms.rooms import may_manage
from booking_api.stats.api import rooms_of
from signage import audit, clock, openapi
from signage.api import json_body, param, parse, refuse_unknown
from signage.auth import route
from signage.db import utcnow
from signage.errors import Invalid, NotFound
from signage.i18n import gettext as _
from signage.models import User
from signage.responses import JSONResponse
from signage.templating import render

GROUPS = ("organizer", "room", "department")
MANAGERS = ("room_admin",)


def month_of(raw: str | None, today: dt.date) -> dt.date:
    if not raw:
        return today.replace(day=1)
    try:
        year, month = raw.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return dt.date(int(year), int(month), 1)
    except ValueError:
        raise Invalid(_("month is a month as YYYY-MM."), {"field": "month"}) from None


def next_month(first: dt.date) -> dt.date:
    return (first + dt.timedelta(days=32)).replace(day=1)


def latest_charges(room_ids, start: dt.datetime, end: dt.datetime):
    """(charge, booking) of each booking starting in [start, end) at its latest charge."""
    newest = select(func.max(Charge.id)).group_by(Charge.booking_id)
    query = (
        select(Charge, Booking)
        .join(Booking, Booking.id == Charge.booking_id)
        .where(Charge.id.in_(newest), Booking.start_at >= start, Booking.start_at < end, Charge.amount != 0)
        .order_by(Booking.start_at, Booking.id)
    )
    if room_ids is not None:
        query = query.where(Booking.room_id.in_(room_ids))
    return query


async def load(request: Request, params) -> dict:
    tz = ZoneInfo(request.app.state.settings.timezone)
    first = month_of(params.get("month"), clock.now().astimezone(tz).date())
    group = params.get("group") or "organizer"
    if group not in GROUPS:
        raise Invalid(_("group is one of: %(groups)s.", groups=", ".join(GROUPS)), {"field": "group"})
    start = dt.datetime.combine(first, dt.time(), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(next_month(first), dt.time(), tz).astimezone(dt.UTC)
    async with request.app.state.db.reads() as s:
        room_ids = await rooms_of(s, request.state.user)
        found = (await s.execute(latest_charges(room_ids, start, end))).all()
        people = {u.id: u for u in (await s.scalars(select(User).where(User.id.in_({b.organizer_id for _c, b in found if b.organizer_id})))).all()}
        rooms = {r.id: r.name for r in (await s.execute(select(Room.id, Room.name))).all()}
        homes = await home_departments(s, {b.organizer_id for _c, b in found if b.organizer_id}) if group == "department" else {}
    rows: dict = {}
    for charge, b in found:
        if group == "organizer":
            who = people.get(b.organizer_id)
            key, label = b.organizer_id, (who.name or who.email) if who else _("(unknown)")
        elif group == "room":
            key, label = b.room_id, rooms.get(b.room_id, str(b.room_id))
        else:
            key, label = homes.get(b.organizer_id, (None, _("No department")))
        row = rows.setdefault((key, charge.currency), {"key": key, "label": label, "bookings": 0, "amount": 0,
                                                       "currency": charge.currency})  # fmt: skip
        row["bookings"] += 1
        row["amount"] += charge.amount
    out = sorted(rows.values(), key=lambda r: (-r["amount"], str(r["label"])))
    return {"month": first.strftime("%Y-%m"), "group": group, "rows": out,
            "total": sum(r["amount"] for r in out), "bookings": sum(r["bookings"] for r in out)}  # fmt: skip


async def home_departments(s, user_ids: set[int]) -> dict[int, tuple[int, str]]:
    """Each organizer's department (the first of theirs, by id, when in several) and its path."""
    from signage.directory.api import path_of, tree
    from signage.directory.models import Membership

    if not user_ids:
        return {}
    first = await s.execute(
        select(Membership.user_id, func.min(Membership.department_id))
        .where(Membership.user_id.in_(user_ids))
        .group_by(Membership.user_id)
    )
    depts = await tree(s)
    return {user_id: (dept_id, path_of(depts, dept_id)) for user_id, dept_id in first.all()}


def as_csv(data: dict) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["key", "label", "bookings", "amount", "currency"])
    for r in data["rows"]:
        writer.writerow(["" if r["key"] is None else r["key"], r["label"], r["bookings"], f"{r['amount'] / 100:.2f}",
                         r["currency"]])  # fmt: skip
    writer.writerow(["", _("Total"), data["bookings"], f"{data['total'] / 100:.2f}", ""])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM: Excel reads UTF-8 (Chinese names)


async def api_report(request: Request) -> Response:
    refuse_unknown(request, {"month", "group", "format"})
    fmt = request.query_params.get("format") or "json"
    if fmt not in ("json", "csv"):
        raise Invalid(_("format is json or csv."), {"field": "format"})
    data = await load(request, request.query_params)
    if fmt == "csv":
        name = f"charges-{data['group']}-{data['month']}.csv"
        return Response(as_csv(data), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
    return JSONResponse(data)


async def billing_page(request: Request) -> Response:
    from booking_api.billing.api import money

    data = await load(request, request.query_params)
    return render(request, "billing/billing.html", {"data": data, "money": money, "groups": GROUPS})


async def statement_page(request: Request) -> Response:
    """One organizer's bookings of a month with what each costs: printable."""
    from booking_api.billing.api import money

    tz = ZoneInfo(request.app.state.settings.timezone)
    first = month_of(request.query_params.get("month"), clock.now().astimezone(tz).date())
    try:
        organizer_id = int(request.query_params.get("organizer_id") or 0)
    except ValueError:
        organizer_id = 0
    start = dt.datetime.combine(first, dt.time(), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(next_month(first), dt.time(), tz).astimezone(dt.UTC)
    async with request.app.state.db.reads() as s:
        who = await s.get(User, organizer_id) if 0 < organizer_id < 2**31 else None
        if who is None:
            raise NotFound(_("No such user."))
        room_ids = await rooms_of(s, request.state.user)
        found = (await s.execute(latest_charges(room_ids, start, end).where(Booking.organizer_id == organizer_id))).all()
        rooms = {r.id: r.name for r in (await s.execute(select(Room.id, Room.name))).all()}
    ctx = {"who": who, "month": first.strftime("%Y-%m"), "found": found, "rooms": rooms, "money": money,
           "total": sum(c.amount for c, _b in found)}  # fmt: skip
    return render(request, "billing/statement.html", ctx)


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(ge=0, le=10**10, description="what the booking costs from now on, in fen")
    reason: str = Field(min_length=1, max_length=500, description="why (kept in the audit log)")


async def api_override(request: Request) -> Response:
    """A room admin sets what a booking costs (a discount, a waived fee), with a reason."""
    from booking_api.billing.api import api_charges

    booking_id, user = request.path_params["id"], request.state.user
    body = parse(OverrideIn, await json_body(request))
    async with request.app.state.db.begin() as s:
        b = await s.get(Booking, booking_id)
        if b is None or not await may_manage(s, user, b.room_id):
            raise NotFound(_("No such booking."))
        last = await s.scalar(select(Charge).where(Charge.booking_id == b.id).order_by(Charge.id.desc()).limit(1))
        if last is None:
            raise Invalid(_("This booking costs nothing: there is no price to change."), {"field": "amount"})
        s.add(Charge(booking_id=b.id, room_id=last.room_id, card_id=last.card_id, card_version=last.card_version,
                     kind="override", currency=last.currency, amount=body.amount, difference=body.amount - last.amount,
                     lines=[], event_id=None, at=utcnow()))  # fmt: skip
        reason = f"{last.amount} → {body.amount} {last.currency}: {body.reason}"
        s.add(audit.entry(request, "booking.charge_override", f"booking:{b.id}", "success", reason, user))
    request.state.audited = True
    return await api_charges(request)


openapi.add("get", "/api/v1/billing/charges", "What bookings cost in a month, by organizer, room or department",
            tag="billing", errors=(400, 401, 403),
            query={"month": param("YYYY-MM (default: this month)", pattern=r"^\d{4}-\d{2}$"),
                   "group": param("organizer (default), room or department", enum=list(GROUPS)),
                   "format": param("json (default) or csv (UTF-8 with a BOM, then a total row)", enum=["json", "csv"])})  # fmt: skip
openapi.add("post", "/api/v1/bookings/{id}/charges", "Override what a booking costs, with a reason (its room admins)",
            body=OverrideIn, tag="billing", errors=(400, 401, 403, 404))  # fmt: skip

routes = [
    route("/api/v1/billing/charges", api_report, allow=MANAGERS),
    route("/api/v1/bookings/{id:id}/charges", api_override, methods=["POST"], allow=MANAGERS),
    route("/billing", billing_page, allow=MANAGERS),
    route("/billing/statement", statement_page, allow=MANAGERS),
]
