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
from pathlib import Path

import segno
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from player.models import PAIRING_EXPIRES, Play, Screen
from player.rendered import renderings
from player.stream import ScreenSession, ScreenStream
from playlists.playing import screen_layout, screen_layouts
from signage.api import json_body, parse
from signage.auth import PUBLIC, SCREEN, hash_token, route
from signage.batching import BatchLoader
from signage.db import utcnow
from signage.errors import Invalid, TooMany
from signage.i18n import gettext as _
from signage.responses import JSONResponse
from signage.templating import render

HEARTBEAT_SECONDS = 60  # the player's heartbeat; a screen is online while seen within 2.5 of them
STATIC = Path(__file__).parent / "static"


async def player_page(request: Request) -> Response:
    return render(request, "player/player.html")


PENDING_PER_ADDRESS = 20  # unclaimed pairing codes one address may hold at once


async def pair(request: Request) -> Response:
    """A new screen: its key (kept by the player) and a pairing code to claim it with.

    Codes not claimed within `PAIRING_EXPIRES` are deleted here (their players are
    told "not known" and ask for a new code); an address holding `PENDING_PER_ADDRESS`
    unclaimed codes is refused with 429 until one is claimed or expires."""
    address = client_address(request)
    async with request.app.state.db.begin() as s:
        await s.execute(
            delete(Screen).where(Screen.claimed_at.is_(None), Screen.created_at < utcnow() - PAIRING_EXPIRES)
        )
        pending = await s.scalar(
            select(func.count()).select_from(Screen).where(Screen.claimed_at.is_(None), Screen.address == address)
        )
    if pending >= PENDING_PER_ADDRESS:
        raise TooMany(
            _("Too many screens at this address are waiting to be paired. Claim them first, or try again later."),
            headers={"Retry-After": "60"},
        )
    key = secrets.token_urlsafe(32)
    for _attempt in range(10):
        code = f"{secrets.randbelow(10**6):06d}"
        try:
            async with request.app.state.db.begin() as s:
                s.add(Screen(key_hash=hash_token(key), pairing_code=code, address=address))
            return JSONResponse({"key": key, "code": code}, status_code=201)
        except IntegrityError:
            continue
    raise Invalid(_("Could not make a pairing code; try again."))


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


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
    return state_of(screen, *await screen_layout(app.state.db, screen, render=renderings(app).content))


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
            layouts_ = await screen_layouts(app.state.db, claimed, render=renderings(app).content)
            states = {sc.id: state_of(sc) for sc in found if not sc.claimed}
            states.update({sc.id: state_of(sc, *answer) for sc, answer in zip(claimed, layouts_, strict=True)})
            return states

        loader = app.state.screen_states = BatchLoader(fetch)
    return loader


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
    have = request.query_params.get("have", "")[:60]
    app = request.app
    session = ScreenSession(screen_id, have, screen_states(app), renderings(app))
    return StreamResponse(ScreenStream(app.state.bus, session))


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
