"""The audit log (SPEC B12): who did what, when, on what, with what result.

`await record(request, "layout.publish", f"layout:{id}")` writes one entry in its
own transaction, so a failure is logged even when the change itself rolled back.
The admin page filters by user, action, date range, result and role, and exports CSV;
`GET /api/v1/audit` lists the same entries as JSON, a page at a time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import Select, false, select
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from signage import i18n, openapi, topics
from signage.api import DAY, EMPTY, PAGING, Keyset, param, refuse_unknown
from signage.auth import route
from signage.errors import Invalid
from signage.i18n import gettext as _
from signage.i18n import lazy
from signage.models import AuditEntry, User
from signage.responses import JSONResponse, is_htmx
from signage.templating import render

PAGE_SIZE = 100



ACTION_LABELS = {  # what each action is called on the audit page (English; translated where shown)
    "auth.login": lazy("Sign-in"),
    "auth.logout": lazy("Sign-out"),
    "auth.session_end": lazy("Session ended"),
    "auth.sign_out_everywhere": lazy("Signed out everywhere"),
    "booking.approve": lazy("Booking approved"),
    "booking.call_in": lazy("Call-in to a meeting"),
    "booking.cancel": lazy("Booking cancelled"),
    "booking.charge_override": lazy("Booking price changed"),
    "booking.check_in": lazy("Checked in"),
    "booking.create": lazy("Booking made"),
    "booking.end": lazy("Meeting ended early"),
    "booking.extend": lazy("Meeting extended"),
    "booking.no_show": lazy("Released as no-show"),
    "booking.reassign": lazy("Booking given to another organizer"),
    "booking.reject": lazy("Booking rejected"),
    "booking.update": lazy("Booking changed"),
    "booking.walk_up": lazy("Walk-up booking"),
    "calendar_feed.rotate": lazy("Calendar link renewed"),
    "clock.shift": lazy("Test clock moved"),
    "department.create": lazy("Department added"),
    "department.update": lazy("Department changed"),
    "directory.source": lazy("Directory source saved"),
    "directory.sync": lazy("Directory synced"),
    "door.open": lazy("Door opened"),
    "door.refused": lazy("Door refused"),
    "door.terminal": lazy("Door terminal"),
    "emergency.clear": lazy("Emergency message ended"),
    "emergency.start": lazy("Emergency message started"),
    "floorplan.upload": lazy("Floor plan uploaded"),
    "import.create": lazy("Import source added"),
    "import.delete": lazy("Import source removed"),
    "layout.create": lazy("Layout made"),
    "layout.duplicate": lazy("Layout copied"),
    "layout.edit": lazy("Layout edited"),
    "layout.publish": lazy("Layout published"),
    "layout.rollback": lazy("Layout rolled back"),
    "media.delete": lazy("Media deleted"),
    "media.rename": lazy("Media renamed"),
    "media.upload": lazy("Media uploaded"),
    "notification.retry": lazy("Notification sent again"),
    "notification_channel.test": lazy("Channel tested"),
    "notification_channel.update": lazy("Channel changed"),
    "notification_template.reset": lazy("Notice text reset"),
    "notification_template.update": lazy("Notice text changed"),
    "person.update": lazy("Person changed"),
    "playlist.create": lazy("Playlist made"),
    "playlist.publish": lazy("Playlist published"),
    "playlist.save": lazy("Playlist saved"),
    "rate_card.delete": lazy("Rate card removed"),
    "rate_card.update": lazy("Rate card changed"),
    "room.cleaning_rule": lazy("Cleaning rule changed"),
    "room.create": lazy("Room added"),
    "room.delete": lazy("Room deleted"),
    "room.door_rules": lazy("Door rules changed"),
    "room.place": lazy("Room placed on the floor plan"),
    "room.save": lazy("Room saved"),
    "room.service_call": lazy("Service called"),
    "room.service_state": lazy("Room service state"),
    "room.update": lazy("Room changed"),
    "schedule.create": lazy("Schedule added"),
    "schedule.delete": lazy("Schedule removed"),
    "schedule.save": lazy("Schedule saved"),
    "screen.claim": lazy("Screen added"),
    "screen.edit": lazy("Screen changed"),
    "screen.unpair": lazy("Screen unpaired"),
    "screen_group.create": lazy("Screen group added"),
    "screen_group.delete": lazy("Screen group removed"),
    "sensor.report": lazy("Sensor report"),
    "sensor.token": lazy("Sensor token issued"),
    "series.ghost_notify": lazy("Organizer told of unused meetings"),
    "terminal.token": lazy("Terminal token issued"),
    "token.create": lazy("API token issued"),
    "token.revoke": lazy("API token revoked"),
    "user.contacts": lazy("Contacts changed"),
    "user.create": lazy("User added"),
    "user.notifications": lazy("Notification choices changed"),
    "user.password": lazy("Password changed"),
    "user.update": lazy("User changed"),
    "webhook.create": lazy("Webhook added"),
    "webhook.delete": lazy("Webhook removed"),
    "webhook.rotate": lazy("Webhook secret renewed"),
    "webhook.send_again": lazy("Webhook sent again"),
    "webhook.test": lazy("Webhook tested"),
    "webhook.update": lazy("Webhook changed"),
}

def entry(
    request: Request,
    action: str,
    target: str = "",
    result: str = "success",
    reason: str = "",
    user: User | None = None,
) -> AuditEntry:
    """An entry to add to the change's own transaction (it commits with the change, or not at all)."""
    user = user or getattr(request.state, "user", None)
    return AuditEntry(
        user_id=user.id if user else None,
        user_email=user.email if user else "",
        role=user.role if user else "",
        action=action.replace("\x00", ""),  # a refusal may quote the NUL it refused
        target=target[:200].replace("\x00", ""),
        result=result,
        reason=reason.replace("\x00", ""),
        client=request.client.host if request.client else "",
    )


async def record(
    request: Request,
    action: str,
    target: str = "",
    result: str = "success",
    reason: str = "",
    user: User | None = None,
) -> None:
    async with request.app.state.db.begin() as s:
        s.add(entry(request, action, target, result, reason, user))
    request.state.audited = True
    await request.app.state.bus.notify_many(topics.page_changed("audit"))


def _day(value: str, end: bool = False) -> dt.datetime | None:
    """The start of day `value` (YYYY-MM-DD) of the site, or of the day after with `end`;
    None when it is not a day, or not one of the years 1900 to 9000."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    if not 1900 <= day.year <= 9000:  # 0001-01-01 in UTC+8 is before any time Python holds
        return None
    if end:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(), ZoneInfo(i18n.site_timezone.get()))


def filtered(params) -> tuple[Select, dict]:
    """The entries `params` ask for, in no order yet, and those filters."""
    query = select(AuditEntry)
    f = {k: (params.get(k) or "").strip() for k in ("user", "action", "result", "role", "from", "to")}
    if len(f["user"]) > 254 or len(f["action"]) > 60 or len(f["role"]) > 20:
        query = query.where(false())  # longer than any stored (and than SQLite's LIKE takes: a 500)
    if f["user"]:
        query = query.where(AuditEntry.user_email.contains(f["user"]))
    if f["action"]:
        query = query.where(AuditEntry.action.startswith(f["action"]))
    if f["result"] in ("success", "failure"):
        query = query.where(AuditEntry.result == f["result"])
    if f["role"]:
        query = query.where(AuditEntry.role == f["role"])
    start, end = _day(f["from"]), _day(f["to"], end=True)
    if start:
        query = query.where(AuditEntry.at >= start)
    if end:
        query = query.where(AuditEntry.at < end)
    return query, f


NEWEST_FIRST = (AuditEntry.at.desc(), AuditEntry.id.desc())


async def audit_page(request: Request) -> Response:
    query, f = filtered(request.query_params)
    async with request.app.state.db.session() as s:
        entries = (await s.scalars(query.order_by(*NEWEST_FIRST).limit(PAGE_SIZE))).all()
        actions = (await s.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))).all()
    ctx = {"entries": entries, "filters": f, "actions": actions, "query": request.url.query, "action_labels": ACTION_LABELS}
    if is_htmx(request):
        return render(request, "audit.html", ctx, block="results")
    return render(request, "audit.html", ctx)


async def audit_csv(request: Request) -> Response:
    query, _f = filtered(request.query_params)
    async with request.app.state.db.session() as s:
        entries = (await s.scalars(query.order_by(*NEWEST_FIRST))).all()
    buf = io.StringIO()
    buf.write("\ufeff")  # so Excel reads the Chinese text as UTF-8
    writer = csv.writer(buf)
    writer.writerow(["at", "user", "role", "action", "target", "result", "reason", "client"])
    for e in entries:
        writer.writerow([e.at.isoformat(), e.user_email, e.role, e.action, e.target, e.result, e.reason, e.client])
    return StreamingResponse(
        iter([buf.getvalue()]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )


def entry_json(e: AuditEntry) -> dict:
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "user_id": e.user_id,
        "user_email": e.user_email,
        "role": e.role,
        "action": e.action,
        "target": e.target,
        "result": e.result,
        "reason": e.reason,
        "client": e.client,
    }


PAGES = Keyset("audit", AuditEntry.id, AuditEntry.at, newest_first=True)
FILTERS = {  # what filtered reads, as the API documents it
    "user": "text in the user's email",
    "action": "actions starting with this (booking. for every booking action)",
    "result": param("success or failure", type="string", enum=["success", "failure"]),
    "role": "the user's role then",
    "from": param("a day YYYY-MM-DD of the site (from its start)", anyOf=[DAY, EMPTY]),
    "to": param("a day YYYY-MM-DD of the site (to its end)", anyOf=[DAY, EMPTY]),
}


async def api_list(request: Request) -> Response:
    """The entries of the page's filters, newest first, a page at a time (`limit`, `cursor`;
    the next page in the `Link` header)."""
    refuse_unknown(request, {*FILTERS, *PAGING})
    if request.query_params.get("result", "success") not in ("success", "failure"):
        raise Invalid(_("result is success or failure."), {"field": "result"})
    for name in ("from", "to"):
        if (raw := (request.query_params.get(name) or "").strip()) and _day(raw) is None:
            raise Invalid(
                _("%(field)s must be a day (YYYY-MM-DD) of the years 1900 to 9000.", field=name), {"field": name}
            )
    query, _f = filtered(request.query_params)
    async with request.app.state.db.session() as s:
        entries, headers = PAGES.page(request, (await s.scalars(PAGES.query(request, query))).all())
    return JSONResponse([entry_json(e) for e in entries], headers=headers)


class AuditEntryOut(BaseModel):
    id: int
    at: str = Field(description="ISO 8601, UTC")
    user_id: int | None
    user_email: str
    role: str
    action: str
    target: str = Field(description="what it was done to, as kind:id (booking:12)")
    result: str = Field(description="success or failure")
    reason: str
    client: str = Field(description="the client's address")


openapi.add(
    "get",
    "/api/v1/audit",
    "The audit log: who did what, when, on what, with what result (newest first)",
    response=list[AuditEntryOut],
    tag="admin",
    query={**FILTERS, **PAGING},
    errors=(400, 401, 403),
)

routes = [
    route("/admin/audit", audit_page, allow=("admin",)),
    route("/admin/audit.csv", audit_csv, allow=("admin",)),
    route("/api/v1/audit", api_list, allow=("admin",)),
]
