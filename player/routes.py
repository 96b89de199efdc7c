"""What a screen's browser talks to: the player page, pairing, its state, its live events.

A screen authenticates with its own key (`signage.auth.authenticate_screen`).
The key is made when the player first asks for a pairing code; claiming the
code activates it.

Catch-up is state-based: the player opens its stream saying what it shows
(`?have=<layout>:<version>`), and the stream answers at once with its state
when that differs; after that every change arrives as a new state on the stream
(see `player.stream`). So an update published while a screen was away is never lost.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
import time
from pathlib import Path

import segno
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from player.models import Play, Screen
from player.stream import SLOW, LayoutCache, ScreenStream, frame
from playlists import playing
from playlists.layouts import render_content
from playlists.models import LayoutVersion
from playlists.playing import screen_layout, screen_layouts
from signage.api import json_body, parse
from signage.auth import PUBLIC, SCREEN, BatchLoader, hash_token, route
from signage.db import utcnow
from signage.errors import Invalid
from signage.i18n import gettext as _
from signage.responses import JSONResponse
from signage.templating import render

HEARTBEAT_SECONDS = 60  # the player's heartbeat; a screen is online while seen within 2.5 of them
STATIC = Path(__file__).parent / "static"


def layouts(app) -> LayoutCache:
    """The app's cache of rendered layout versions (one per app, made on first use)."""
    cache = getattr(app.state, "player_layouts", None)
    if cache is None:
        cache = app.state.player_layouts = LayoutCache()
    return cache


async def player_page(request: Request) -> Response:
    return render(request, "player/player.html")


async def pair(request: Request) -> Response:
    """A new screen: its key (kept by the player) and a pairing code to claim it with."""
    key = secrets.token_urlsafe(32)
    for _attempt in range(10):
        code = f"{secrets.randbelow(10**6):06d}"
        try:
            async with request.app.state.db.begin() as s:
                s.add(Screen(key_hash=hash_token(key), pairing_code=code, address=client_address(request)))
            return JSONResponse({"key": key, "code": code}, status_code=201)
        except IntegrityError:
            continue
    raise Invalid(_("Could not make a pairing code; try again."))


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


async def rendered_layout(request: Request, layout_id: int, version: int) -> dict | None:
    """`L` of the contract for one published version, rendered once per process (see `player.stream`)."""
    db = request.app.state.db

    async def make() -> dict | None:
        async with db.session() as s:
            row = await s.scalar(
                select(LayoutVersion).where(LayoutVersion.layout_id == layout_id, LayoutVersion.version == version)
            )
        if row is None:
            return None
        content = await render_content(db, row.content)
        return {"id": row.layout_id, "version": row.version, "emergency": False, **content}

    return await layouts(request.app).get((layout_id, version), make)


def state_of(screen: Screen, layout: dict | None = None, next_check: float | None = None) -> dict:
    return {
        "screen": {"id": screen.id, "name": screen.name, "claimed": screen.claimed},
        "code": None if screen.claimed else screen.pairing_code,
        "layout": layout,
        "next_check": next_check,
    }


async def screen_state(request: Request, screen: Screen) -> dict:
    if not screen.claimed:
        return state_of(screen)
    app = request.app
    return state_of(screen, *await screen_layout(app.state.db, screen, render=lambda v: shared_render(app, v)))


def screen_states(app) -> BatchLoader:
    """Screens' states by id, many in one go: the screens asking while a read runs are read
    together in the next one (a storm of 10,000 reconnecting screens: tens of reads, not
    10,000). Each answer is read after it was asked for, so a stream that subscribed
    before asking misses nothing. None: the screen is gone (unpaired)."""
    loader = getattr(app.state, "screen_states", None)
    if loader is None:

        async def fetch(ids: list[int]) -> dict[int, dict]:
            async with app.state.db.session() as s:
                found = (await s.scalars(select(Screen).where(Screen.id.in_(ids)))).all()
            claimed = [sc for sc in found if sc.claimed]
            layouts_ = await screen_layouts(app.state.db, claimed, render=lambda v: shared_render(app, v))
            states = {sc.id: state_of(sc) for sc in found if not sc.claimed}
            states.update({sc.id: state_of(sc, *answer) for sc, answer in zip(claimed, layouts_, strict=True)})
            return states

        loader = app.state.screen_states = BatchLoader(fetch)
    return loader


async def shared_render(app, version) -> tuple[dict, float | None]:
    """A published version rendered once for every screen of the process (a reconnect
    storm of 10,000 screens renders it once, not 10,000 times). A rendering is reused
    for at most the cache's 30 s, and never past the moment one of its items starts or
    stops being valid."""
    key = ("content", version.layout_id, version.version)
    cache = layouts(app)

    async def make() -> tuple[dict, float | None]:
        content, change = await playing.render_content(app.state.db, version.content)
        return content, None if change is None else time.monotonic() + change

    content, change_at = await cache.get(key, make)
    if change_at is not None and change_at <= time.monotonic():
        cache.items.pop(key, None)
        content, change_at = await cache.get(key, make)
    return content, None if change_at is None else max(change_at - time.monotonic(), 0.0)


def shows(state: dict) -> str:
    """What a state puts on the screen, as the player says it with `?have=`: "<layout>:<version>"."""
    layout = state.get("layout")
    return f"{layout['id']}:{layout['version']}" if layout else ""


async def state(request: Request) -> Response:
    screen = request.state.screen
    return JSONResponse(await screen_state(request, screen), headers={"Cache-Control": "no-store"})


def whole(body: dict, name: str) -> int:
    value = body.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise Invalid(_("Send JSON with a whole-number version."), {"field": name})
    return value


async def ack(request: Request) -> Response:
    """The player received (`{"received": V}`) or applied (`{"version": V, "layout": "7"}`) a version."""
    screen = request.state.screen
    body = await json_body(request)
    if not isinstance(body, dict) or not ("version" in body or "received" in body):
        raise Invalid(_("Send JSON with a whole-number version."), {"field": "version"})
    values = {"last_seen": utcnow(), "address": client_address(request)}
    if "version" in body:
        values["applied_version"] = whole(body, "version")
        values["applied_layout"] = str(body.get("layout", ""))[:40]
    if "received" in body:
        values["received_version"] = whole(body, "received")
    await request.app.state.screen_reports.save(screen.id, values, "ack")
    return JSONResponse({"ok": True})


class HeartbeatIn(BaseModel):
    resolution: str = Field("", max_length=20)
    player_version: str = Field("", max_length=40)


async def heartbeat(request: Request) -> Response:
    """The player is alive; it says its screen size and player version."""
    screen = request.state.screen
    body = parse(HeartbeatIn, await json_body(request))
    values = {"last_seen": utcnow(), "address": client_address(request), **body.model_dump()}
    await request.app.state.screen_reports.save(screen.id, values, "heartbeat")
    return JSONResponse({"ok": True, "heartbeat_seconds": HEARTBEAT_SECONDS})


class PlayIn(BaseModel):
    layout: str = Field("", max_length=40)
    region: str = Field("", max_length=40)
    item: str = Field("", max_length=80)
    widget: str = Field("", max_length=30)
    started_at: dt.datetime
    seconds: float = Field(ge=0, le=86400)
    plays: int = Field(1, ge=0, le=1)


class PlaysIn(BaseModel):
    plays: list[PlayIn] = Field(max_length=5000)


async def plays(request: Request) -> Response:
    """Proof of play, in batches (the player buffers them while offline)."""
    screen = request.state.screen
    body = parse(PlaysIn, await json_body(request))
    rows = []
    for p in body.plays:
        started = p.started_at if p.started_at.tzinfo else p.started_at.replace(tzinfo=dt.UTC)
        values = p.model_dump() | {"started_at": started.astimezone(dt.UTC)}
        rows.append(Play(screen_id=screen.id, screen_name=screen.name, **values))
    async with request.app.state.db.begin() as s:
        s.add_all(rows)
    return JSONResponse({"ok": True, "stored": len(rows)}, status_code=201)


async def events(request: Request) -> Response:
    """The screen's live stream; `?have=<layout>:<version>` is what it shows now (see `player.stream`)."""
    screen_id, request.state.screen = request.state.screen.id, None  # held for hours: keep the stream small
    showing = {"have": request.query_params.get("have", "")[:60]}

    states = screen_states(request.app)

    async def full() -> bytes:
        current = await states.load(screen_id)
        if current is None:
            return frame("revoked", "{}")
        showing["have"] = shows(current)
        return frame("state", current)

    async def answer(data: dict) -> bytes | None:
        layout = data.get("layout_id")
        if data.get("type") == "layout" and showing["have"].split(":")[0] == str(layout):
            key = f"{layout}:{data.get('version')}"
            if key == showing["have"]:
                return None
            body = await layout_frame(request, int(layout), int(data.get("version", 0)))
            if body is not None:
                showing["have"] = key
                return body
        return await full()

    cache = layouts(request.app)

    def quick(data: dict):
        """A publish of the layout this screen shows, when its frame is encoded already."""
        if data.get("type") != "layout":
            return SLOW
        layout, version = data.get("layout_id"), data.get("version")
        if showing["have"].split(":")[0] != str(layout):
            return SLOW
        key = f"{layout}:{version}"
        if key == showing["have"]:
            return None
        body = cache.ready(("frame", layout, version)) if isinstance(layout, int) and isinstance(version, int) else None
        if body is None:
            return SLOW
        showing["have"] = key
        return body

    async def first() -> bytes:  # read once subscribed: a change since is not missed
        current = await states.load(screen_id)
        if current is None:
            return frame("revoked", "{}")
        have, showing["have"] = showing["have"], shows(current)
        return b"" if have and showing["have"] == have else frame("state", current)

    return StreamResponse(ScreenStream(request.app.state.bus, screen_id, first, answer, quick))


async def layout_frame(request: Request, layout_id: int, version: int) -> bytes | None:
    """The `layout` event of one version, encoded once per process for every screen."""

    async def make() -> bytes | None:
        rendered = await rendered_layout(request, layout_id, version)
        return None if rendered is None else frame("layout", rendered)

    return await layouts(request.app).get(("frame", layout_id, version), make)


class StreamResponse(Response):
    """Hands the ASGI call to a `ScreenStream`."""

    def __init__(self, stream: ScreenStream):
        self.stream = stream
        self.background = None

    async def __call__(self, scope, receive, send) -> None:
        await self.stream(scope, receive, send)


async def service_worker(request: Request) -> Response:
    return FileResponse(
        STATIC / "sw.js",
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/player", "Cache-Control": "no-cache"},
    )


async def pairing_qr(request: Request) -> Response:
    """An SVG QR code of the claim link for a pairing code."""
    code = request.query_params.get("code", "")
    if not code.isdigit() or len(code) > 12:
        raise Invalid(_("No screen shows this pairing code."), {"field": "code"})
    link = str(request.url_for("screens_page").include_query_params(code=code))
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="svg", scale=8, dark="#000", light="#fff", border=2, xmldecl=False)
    return Response(out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


routes = [
    route("/player", player_page, allow=PUBLIC),
    route("/player/sw.js", service_worker, allow=PUBLIC),
    route("/player/qr.svg", pairing_qr, allow=PUBLIC),
    route("/player/api/pair", pair, methods=["POST"], allow=PUBLIC, csrf=False),
    route("/player/api/state", state, allow=SCREEN),
    route("/player/api/ack", ack, methods=["POST"], allow=SCREEN),
    route("/player/api/heartbeat", heartbeat, methods=["POST"], allow=SCREEN),
    route("/player/api/plays", plays, methods=["POST"], allow=SCREEN),
    route("/player/api/events", events, allow=SCREEN),
]
