"""The audit log (SPEC B12): who did what, when, on what, with what result.

`await record(request, "layout.publish", f"layout:{id}")` writes one entry in its
own transaction, so a failure is logged even when the change itself rolled back.
The admin page filters by user, action, date range, result and role, and exports CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from signage import i18n
from signage.auth import route
from signage.models import AuditEntry, User
from signage.templating import render

PAGE_SIZE = 100


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
    await request.app.state.bus.notify("audit", {"type": "audit"})


def _day(value: str, end: bool = False) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    if end:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(), ZoneInfo(i18n.site_timezone.get()))


def filtered(params) -> tuple[Select, dict]:
    query = select(AuditEntry)
    f = {k: (params.get(k) or "").strip() for k in ("user", "action", "result", "role", "from", "to")}
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
    return query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()), f


async def audit_page(request: Request) -> Response:
    query, f = filtered(request.query_params)
    async with request.app.state.db.session() as s:
        entries = (await s.scalars(query.limit(PAGE_SIZE))).all()
        actions = (await s.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))).all()
    ctx = {"entries": entries, "filters": f, "actions": actions, "query": request.url.query}
    if request.headers.get("HX-Request"):
        return render(request, "audit.html", ctx, block="results")
    return render(request, "audit.html", ctx)


async def audit_csv(request: Request) -> Response:
    query, _f = filtered(request.query_params)
    async with request.app.state.db.session() as s:
        entries = (await s.scalars(query)).all()
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


routes = [
    route("/admin/audit", audit_page, allow=("admin",)),
    route("/admin/audit.csv", audit_csv, allow=("admin",)),
]
