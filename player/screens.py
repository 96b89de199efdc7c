"""The screen fleet for people and for IT automation: claim, edit, group, unpair,
reload and identify screens; see which screen is online and which update it holds.

The page is live: it listens on `/events/screens` (the "screens" channel: heartbeats,
acks, claims, edits) and reloads its table; online/offline also changes with time
alone, so the table refreshes itself every half minute too.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field
from sqlalchemy import bindparam, delete, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from player.models import KINDS, PAIRING_EXPIRES, Screen, ScreenGroup
from player.routes import HEARTBEAT_SECONDS
from playlists.models import Layout
from signage import audit, topics
from signage.api import PAGING, Id, Keyset, json_body, parse, refuse_unknown
from signage.auth import route
from signage.db import utcnow
from signage.errors import Conflict, Invalid, NotFound
from signage.i18n import gettext as _
from signage.i18n import lazy
from signage.responses import JSONResponse, created, is_htmx
from signage.templating import render

EDITORS = ("editor",)
KIND_LABELS = {
    "door_sign": lazy("Door sign"),
    "lobby_board": lazy("Lobby board"),
    "waiting_room": lazy("Waiting-room screen"),
    "service": lazy("Service screen"),
    "in_room": lazy("In-room display"),
}


def is_online(screen: Screen, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return screen.last_seen is not None and (now - screen.last_seen).total_seconds() < HEARTBEAT_SECONDS * 2.5


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


async def load_group_id(s, raw) -> int | None:
    if raw in (None, ""):
        return None
    try:
        group = await s.get(ScreenGroup, int(raw))
    except (TypeError, ValueError):
        group = None
    if group is None:
        raise Invalid(_("No such group."), {"field": "group_id"})
    return group.id


async def fleet(request: Request) -> dict:
    async with request.app.state.db.session() as s:
        screens = (await s.scalars(select(Screen).where(Screen.claimed_at.is_not(None)).order_by(Screen.name))).all()
        layouts = (await s.scalars(select(Layout).order_by(Layout.name))).all()
        groups = (await s.scalars(select(ScreenGroup).order_by(ScreenGroup.name))).all()
    now = utcnow()
    return {
        "screens": screens,
        "layouts": layouts,
        "published": {lo.id: lo.published_version for lo in layouts},
        "groups": groups,
        "group_names": {g.id: g.name for g in groups},
        "online": {x.id: is_online(x, now) for x in screens},
        "kinds": KIND_LABELS,
    }


async def screens_page(request: Request, status_code: int = 200, error: Invalid | None = None) -> Response:
    ctx = await fleet(request) | {"error": error, "code": request.query_params.get("code", "")[:12]}
    block = "fleet" if is_htmx(request) else None
    return render(request, "player/screens.html", ctx, status_code=status_code, block=block)


async def claim_screen(request: Request, code: str, name: str, layout_raw) -> Screen:
    code, name = code.strip(), name.strip()
    if not name or len(name) > 200:
        raise Invalid(_("Give the screen a name (up to 200 characters)."), {"field": "name"})
    async with request.app.state.db.begin() as s:
        screen = await s.scalar(
            select(Screen).where(
                Screen.pairing_code == code,
                Screen.claimed_at.is_(None),
                Screen.created_at >= utcnow() - PAIRING_EXPIRES,
            )
        )
        if screen is None or not code:
            raise Invalid(_("No screen shows this pairing code."), {"field": "code"})
        screen.layout_id = await load_layout_id(s, layout_raw)
        screen.name, screen.claimed_at, screen.pairing_code = name, utcnow(), None
    await request.app.state.bus.notify_many(
        [*topics.screens_told([screen.id], "claimed"), *topics.screens_changed("claimed", screen_id=screen.id)]
    )
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


async def edit(request: Request) -> Response:
    """Layout, name, type, location, room and group of a screen (one form or a single field)."""
    form = await request.form()
    screen_id = request.path_params["id"]
    try:
        async with request.app.state.db.begin() as s:
            screen = await s.get(Screen, screen_id)
            if screen is None or not screen.claimed:
                raise NotFound(_("No such screen."))
            await apply_form(s, screen, form)
    except Invalid as exc:
        await audit.record(request, "screen.edit", f"screen:{screen_id}", result="failure", reason=exc.message)
        return await screens_page(request, status_code=400, error=exc)
    await request.app.state.bus.notify_many(
        [*topics.screens_told([screen.id], "assigned"), *topics.screens_changed("edited", screen_id=screen.id)]
    )
    await audit.record(request, "screen.edit", f"screen:{screen.id}", reason=f"layout:{screen.layout_id}")
    return RedirectResponse("/screens", status_code=303)


async def apply_form(s, screen: Screen, form) -> None:
    if "layout_id" in form:
        screen.layout_id = await load_layout_id(s, form.get("layout_id"))
    if "group_id" in form:
        screen.group_id = await load_group_id(s, form.get("group_id"))
    if "name" in form:
        name = str(form.get("name", "")).strip()
        if not name or len(name) > 200:
            raise Invalid(_("Give the screen a name (up to 200 characters)."), {"field": "name"})
        screen.name = name
    if "kind" in form:
        if form.get("kind") not in KINDS:
            raise Invalid(_("Choose a screen type."), {"field": "kind"})
        screen.kind = str(form.get("kind"))
    if "location" in form:
        screen.location = str(form.get("location", "")).strip()[:200]
    if "room_id" in form:
        raw = str(form.get("room_id", "")).strip()
        if raw and not raw.isdigit():
            raise Invalid(_("The room must be a room number from the booking system."), {"field": "room_id"})
        screen.room_id = int(raw) if raw else None


async def unpair_screen(request: Request, screen_id: int) -> None:
    async with request.app.state.db.begin() as s:
        screen = await s.get(Screen, screen_id)
        if screen is None or not screen.claimed:
            raise NotFound(_("No such screen."))
        name = screen.name
        await s.delete(screen)
    await request.app.state.bus.notify_many(
        [*topics.screens_told([screen_id], "revoked"), *topics.screens_changed("unpaired", screen_id=screen_id)]
    )
    await audit.record(request, "screen.unpair", f"screen:{screen_id}", reason=name)


async def unpair(request: Request) -> Response:
    await unpair_screen(request, request.path_params["id"])
    return RedirectResponse("/screens", status_code=303)


async def command(request: Request) -> Response:
    """Remote reload, or identify (the screen shows its name in large type for a few seconds)."""
    action = request.path_params["action"]
    if action not in ("reload", "identify"):
        raise NotFound(_("No such command."))
    async with request.app.state.db.session() as s:
        screen = await s.get(Screen, request.path_params["id"])
    if screen is None or not screen.claimed:
        raise NotFound(_("No such screen."))
    sent = await request.app.state.bus.notify_many(topics.screens_told([screen.id], action, name=screen.name))
    await audit.record(
        request, f"screen.{action}", f"screen:{screen.id}", result="success" if sent else "failure", reason=screen.name
    )
    if is_htmx(request):
        return Response(status_code=204)
    return RedirectResponse("/screens", status_code=303)


async def add_group(request: Request) -> Response:
    name = str((await request.form()).get("name", "")).strip()
    try:
        if not name or len(name) > 200:
            raise Invalid(_("Give the group a name (up to 200 characters)."), {"field": "name"})
        async with request.app.state.db.begin() as s:
            if await s.scalar(select(ScreenGroup.id).where(ScreenGroup.name == name)):
                raise Conflict(_("A group with this name exists."), {"field": "name"})
            group = ScreenGroup(name=name)
            s.add(group)
    except Invalid as exc:
        return await screens_page(request, status_code=400, error=exc)
    except Conflict as exc:
        return await screens_page(request, status_code=409, error=exc)
    await audit.record(request, "screen_group.create", f"screen_group:{group.id}", reason=name)
    await request.app.state.bus.notify_many(topics.screens_changed("group"))
    return RedirectResponse("/screens", status_code=303)


async def delete_group(request: Request) -> Response:
    group_id = request.path_params["id"]
    async with request.app.state.db.begin() as s:
        group = await s.get(ScreenGroup, group_id)
        if group is None:
            raise NotFound(_("No such group."))
        await s.execute(delete(ScreenGroup).where(ScreenGroup.id == group_id))
    await audit.record(request, "screen_group.delete", f"screen_group:{group_id}", reason=group.name)
    await request.app.state.bus.notify_many(topics.screens_changed("group"))
    return RedirectResponse("/screens", status_code=303)


def screen_json(screen: Screen, online: bool | None = None) -> dict:
    return {
        "id": screen.id,
        "name": screen.name,
        "kind": screen.kind,
        "location": screen.location,
        "room_id": screen.room_id,
        "group_id": screen.group_id,
        "layout_id": screen.layout_id,
        "resolution": screen.resolution,
        "player_version": screen.player_version,
        "address": screen.address,
        "online": is_online(screen) if online is None else online,
        "last_seen": screen.last_seen.isoformat() if screen.last_seen else None,
        "received_version": screen.received_version,
        "applied_version": screen.applied_version,
        "applied_layout": screen.applied_layout,
    }


PAGES = Keyset("screens", Screen.id)
SCREEN = select(Screen.__table__).where(Screen.id == bindparam("id"))


async def api_screens(request: Request) -> Response:
    """Paired screens by id, a page at a time (`limit`, `cursor`; the next page in the `Link` header)."""
    refuse_unknown(request, set(PAGING))
    query = PAGES.query(request, select(Screen.__table__).where(Screen.claimed_at.is_not(None)))
    screens, headers = PAGES.page(request, await request.app.state.db.read(query))
    return JSONResponse([screen_json(x) for x in screens], headers=headers)


class ClaimIn(BaseModel):
    code: str = Field(min_length=1, max_length=12)
    name: str = Field(min_length=1, max_length=200)
    layout_id: Id | None = None


async def api_claim(request: Request) -> Response:
    body = parse(ClaimIn, await json_body(request))
    screen = await claim_screen(request, body.code, body.name, body.layout_id)
    return created(screen_json(screen), f"/api/v1/screens/{screen.id}")


async def api_screen(request: Request) -> Response:
    screen = await request.app.state.db.read_one(SCREEN, {"id": request.path_params["id"]})
    if screen is None or screen.claimed_at is None:
        raise NotFound(_("No such screen."))
    return JSONResponse(screen_json(screen))


async def api_unpair(request: Request) -> Response:
    await unpair_screen(request, request.path_params["id"])
    return Response(status_code=204)


routes = [
    route("/screens", screens_page, allow=EDITORS),
    route("/screens/claim", claim, methods=["POST"], allow=EDITORS),
    route("/screens/groups", add_group, methods=["POST"], allow=EDITORS),
    route("/screens/groups/{id:id}/delete", delete_group, methods=["POST"], allow=EDITORS),
    route("/screens/{id:id}", edit, methods=["POST"], allow=EDITORS),
    route("/screens/{id:id}/unpair", unpair, methods=["POST"], allow=EDITORS),
    route("/screens/{id:id}/{action}", command, methods=["POST"], allow=EDITORS),
    route("/api/v1/screens", api_screens, allow=EDITORS),
    route("/api/v1/screens/claim", api_claim, methods=["POST"], allow=EDITORS),
    route("/api/v1/screens/{id:id}", api_screen, allow=EDITORS),
    route("/api/v1/screens/{id:id}", api_unpair, methods=["DELETE"], allow=EDITORS),
]
