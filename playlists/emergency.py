"""The emergency override: one action puts a message or a layout on every screen (or
one group) above every schedule, until cleared. Stored, audited, and told to the
screens at once; `playlists.playing` shows the newest override in force.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from player.models import ScreenGroup
from playlists import api, publishing
from playlists.models import Emergency, Layout
from signage import audit, topics
from signage.api import json_body, parse
from signage.auth import route
from signage.db import utcnow
from signage.errors import AppError, Conflict, Invalid, NotFound
from signage.i18n import gettext as _
from signage.responses import JSONResponse, created, is_htmx
from signage.templating import render

EDITORS = ("editor",)


def emergency_json(e: Emergency) -> dict:
    return {
        "id": e.id,
        "message": e.message,
        "layout_id": e.layout_id,
        "group_id": e.group_id,
        "created_at": e.created_at.isoformat(),
        "cleared_at": e.cleared_at.isoformat() if e.cleared_at else None,
    }


async def start(request: Request, body: api.EmergencyIn) -> Emergency:
    message = body.message.strip()
    try:
        if not message and body.layout_id is None:
            raise Invalid(_("Write a message or choose a layout."), {"field": "message"})
        async with request.app.state.db.begin() as s:
            if body.layout_id is not None:
                layout = await s.get(Layout, body.layout_id)
                if layout is None:
                    raise Invalid(_("No such layout."), {"field": "layout_id"})
                if layout.published_version == 0:
                    raise Invalid(_("Publish the layout before using it as an override."), {"field": "layout_id"})
            if body.group_id is not None and await s.get(ScreenGroup, body.group_id) is None:
                raise Invalid(_("No such screen group."), {"field": "group_id"})
            row = Emergency(
                message=message, layout_id=body.layout_id, group_id=body.group_id, created_by=request.state.user.id
            )
            s.add(row)
            await s.flush()
            screens = await publishing.screens_of(s, body.group_id)
    except AppError as exc:
        await audit.record(request, "emergency.start", "emergency:new", result="failure", reason=exc.message)
        raise
    scope = f"group:{body.group_id}" if body.group_id else "all screens"
    await audit.record(request, "emergency.start", f"emergency:{row.id}", reason=f"{scope}: {message[:200]}")
    await publishing.notify(request, screens, emergency=row.id)
    await request.app.state.bus.notify_many(topics.page_changed("emergency"))  # open emergency pages
    return row


async def clear(request: Request, emergency_id: int) -> Emergency:
    try:
        async with request.app.state.db.begin() as s:
            row = await s.get(Emergency, emergency_id, with_for_update=True)
            if row is None:
                raise NotFound(_("No such emergency override."))
            if row.cleared_at is not None:
                raise Conflict(_("This override was already cleared."))
            row.cleared_at, row.cleared_by = utcnow(), request.state.user.id
            screens = await publishing.screens_of(s, row.group_id)
    except AppError as exc:
        await audit.record(
            request, "emergency.clear", f"emergency:{emergency_id}", result="failure", reason=exc.message
        )
        raise
    await audit.record(request, "emergency.clear", f"emergency:{emergency_id}")
    await publishing.notify(request, screens, emergency=emergency_id)
    await request.app.state.bus.notify_many(topics.page_changed("emergency"))
    return row


async def in_force(request: Request) -> list[Emergency]:
    async with request.app.state.db.session() as s:
        query = select(Emergency).where(Emergency.cleared_at.is_(None)).order_by(Emergency.id.desc())
        return list((await s.scalars(query)).all())


async def page(request: Request, status_code: int = 200, error: AppError | None = None) -> Response:
    async with request.app.state.db.session() as s:
        layouts = (await s.scalars(select(Layout).where(Layout.published_version > 0).order_by(Layout.name))).all()
        groups = {g.id: g for g in (await s.scalars(select(ScreenGroup).order_by(ScreenGroup.name))).all()}
    ctx = {"active": await in_force(request), "layouts": layouts, "groups": groups, "error": error}
    block = "active" if is_htmx(request) else None  # a live refresh (static/live.js)
    return render(request, "emergency/page.html", ctx, status_code=status_code, block=block)


async def start_form(request: Request) -> Response:
    form = await request.form()
    data = {
        "message": str(form.get("message", "")),
        "layout_id": form.get("layout_id") or None,
        "group_id": form.get("group_id") or None,
    }
    try:
        await start(request, parse(api.EmergencyIn, data, strict=False))
    except Invalid as exc:
        return await page(request, status_code=400, error=exc)
    return RedirectResponse("/emergency", status_code=303)


async def clear_form(request: Request) -> Response:
    await clear(request, request.path_params["id"])
    return RedirectResponse("/emergency", status_code=303)


async def api_list(request: Request) -> Response:
    return JSONResponse([emergency_json(e) for e in await in_force(request)])


async def api_start(request: Request) -> Response:
    row = await start(request, parse(api.EmergencyIn, await json_body(request)))
    return created(emergency_json(row), f"/api/v1/emergency/{row.id}")


async def api_get(request: Request) -> Response:
    """One override, in force or cleared."""
    async with request.app.state.db.session() as s:
        row = await s.get(Emergency, request.path_params["id"])
    if row is None:
        raise NotFound(_("No such emergency override."))
    return JSONResponse(emergency_json(row))


async def api_clear(request: Request) -> Response:
    return JSONResponse(emergency_json(await clear(request, request.path_params["id"])))


routes = [
    route("/emergency", page, allow=EDITORS),
    route("/emergency", start_form, methods=["POST"], allow=EDITORS),
    route("/emergency/{id:id}/clear", clear_form, methods=["POST"], allow=EDITORS),
    route("/api/v1/emergency", api_list, allow=EDITORS),
    route("/api/v1/emergency", api_start, methods=["POST"], allow=EDITORS),
    route("/api/v1/emergency/{id:id}", api_get, allow=EDITORS),
    route("/api/v1/emergency/{id:id}/clear", api_clear, methods=["POST"], allow=EDITORS),
]
