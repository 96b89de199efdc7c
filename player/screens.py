"""The screen fleet for people: claim a screen by its pairing code, assign a layout."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from player.models import Screen
from playlists.models import Layout
from signage import audit
from signage.api import json_body, parse
from signage.auth import route
from signage.db import utcnow
from signage.errors import Invalid, NotFound
from signage.i18n import gettext as _
from signage.templating import render

EDITORS = ("editor",)


async def load_layout_id(s, raw) -> int | None:
    if raw in (None, ""):
        return None
    try:
        layout = await s.get(Layout, int(raw))
    except (TypeError, ValueError):
        layout = None
    if layout is None:
        raise Invalid(_("No such layout."), {"field": "layout_id"})
    return layout.id


async def screens_page(request: Request, status_code: int = 200, error: Invalid | None = None) -> Response:
    async with request.app.state.db.session() as s:
        screens = (await s.scalars(select(Screen).where(Screen.claimed_at.is_not(None)).order_by(Screen.name))).all()
        layouts = (await s.scalars(select(Layout).order_by(Layout.name))).all()
    ctx = {"screens": screens, "layouts": layouts, "error": error}
    return render(request, "player/screens.html", ctx, status_code=status_code)


async def claim_screen(request: Request, code: str, name: str, layout_raw) -> Screen:
    code, name = code.strip(), name.strip()
    if not name or len(name) > 200:
        raise Invalid(_("Give the screen a name (up to 200 characters)."), {"field": "name"})
    async with request.app.state.db.begin() as s:
        screen = await s.scalar(select(Screen).where(Screen.pairing_code == code, Screen.claimed_at.is_(None)))
        if screen is None or not code:
            raise Invalid(_("No screen shows this pairing code."), {"field": "code"})
        screen.layout_id = await load_layout_id(s, layout_raw)
        screen.name, screen.claimed_at, screen.pairing_code = name, utcnow(), None
    await request.app.state.bus.notify(f"screen:{screen.id}", {"type": "claimed"})
    await audit.record(request, "screen.claim", f"screen:{screen.id}", reason=name)
    return screen


async def claim(request: Request) -> Response:
    form = await request.form()
    try:
        await claim_screen(request, str(form.get("code", "")), str(form.get("name", "")), form.get("layout_id"))
    except Invalid as exc:
        await audit.record(request, "screen.claim", "", result="failure", reason=exc.message)
        return await screens_page(request, status_code=400, error=exc)
    return RedirectResponse("/screens", status_code=303)


async def assign(request: Request) -> Response:
    form = await request.form()
    try:
        async with request.app.state.db.begin() as s:
            screen = await s.get(Screen, request.path_params["id"])
            if screen is None or not screen.claimed:
                raise NotFound(_("No such screen."))
            screen.layout_id = await load_layout_id(s, form.get("layout_id"))
    except Invalid as exc:
        return await screens_page(request, status_code=400, error=exc)
    await request.app.state.bus.notify(f"screen:{screen.id}", {"type": "assigned"})
    await audit.record(request, "screen.assign", f"screen:{screen.id}", reason=f"layout:{screen.layout_id}")
    return RedirectResponse("/screens", status_code=303)


def screen_json(screen: Screen) -> dict:
    return {
        "id": screen.id,
        "name": screen.name,
        "layout_id": screen.layout_id,
        "applied_version": screen.applied_version,
        "last_seen": screen.last_seen.isoformat() if screen.last_seen else None,
    }


async def api_screens(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        screens = (await s.scalars(select(Screen).where(Screen.claimed_at.is_not(None)).order_by(Screen.id))).all()
    return JSONResponse([screen_json(x) for x in screens])


class ClaimIn(BaseModel):
    code: str = Field(min_length=1, max_length=12)
    name: str = Field(min_length=1, max_length=200)
    layout_id: int | None = None


async def api_claim(request: Request) -> Response:
    body = parse(ClaimIn, await json_body(request))
    screen = await claim_screen(request, body.code, body.name, body.layout_id)
    return JSONResponse(screen_json(screen), status_code=201)


routes = [
    route("/screens", screens_page, allow=EDITORS),
    route("/screens/claim", claim, methods=["POST"], allow=EDITORS),
    route("/screens/{id:int}", assign, methods=["POST"], allow=EDITORS),
    route("/api/v1/screens", api_screens, allow=EDITORS),
    route("/api/v1/screens/claim", api_claim, methods=["POST"], allow=EDITORS),
]
