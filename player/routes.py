"""What a screen's browser talks to: the player page, pairing, its state, its live events.

A screen authenticates with its own key (`signage.auth.authenticate_screen`).
The key is made when the player first asks for a pairing code; claiming the
code activates it.

Catch-up is state-based: the event stream starts with the version the server
holds, and every event only says "something newer exists"; the player then asks
for its state. So an update published while a screen was away is never lost.
"""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from player.models import Screen
from playlists.playing import screen_layout
from signage.auth import PUBLIC, SCREEN, hash_token, route
from signage.db import utcnow
from signage.errors import Invalid
from signage.i18n import gettext as _
from signage.templating import render

PING_SECONDS = 15


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


async def screen_state(request: Request, screen: Screen) -> dict:
    state: dict = {
        "screen": {"id": screen.id, "name": screen.name, "claimed": screen.claimed},
        "code": None if screen.claimed else screen.pairing_code,
        "layout": None,
        "next_check": None,
    }
    if not screen.claimed:
        return state
    state["layout"], state["next_check"] = await screen_layout(request.app.state.db, screen)
    return state


async def state(request: Request) -> Response:
    screen = request.state.screen
    return JSONResponse(await screen_state(request, screen), headers={"Cache-Control": "no-store"})


async def ack(request: Request) -> Response:
    """The player applied a version (and is alive): recorded for the fleet view."""
    screen = request.state.screen
    try:
        body = await request.json()
        version = int(body.get("version", 0))
    except (ValueError, TypeError, AttributeError):
        raise Invalid(_("Send JSON with a whole-number version.")) from None
    async with request.app.state.db.begin() as s:
        row = await s.get(Screen, screen.id)
        row.applied_version, row.last_seen, row.address = version, utcnow(), client_address(request)
    await request.app.state.bus.notify("screens", {"type": "ack", "screen_id": screen.id, "version": version})
    return JSONResponse({"ok": True})


async def events(request: Request) -> Response:
    screen = request.state.screen
    bus = request.app.state.bus

    async def stream():
        async with bus.subscribe(f"screen:{screen.id}") as sub:
            yield {"event": "hello", "data": "{}"}
            async for _channel, data in sub:
                if data.get("type") == "revoked":
                    yield {"event": "revoked", "data": "{}"}
                    return
                yield {"event": "changed", "data": "{}"}

    return EventSourceResponse(
        stream(), ping=PING_SECONDS, send_timeout=30, headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"}
    )


routes = [
    route("/player", player_page, allow=PUBLIC),
    route("/player/api/pair", pair, methods=["POST"], allow=PUBLIC, csrf=False),
    route("/player/api/state", state, allow=SCREEN),
    route("/player/api/ack", ack, methods=["POST"], allow=SCREEN),
    route("/player/api/events", events, allow=SCREEN),
]
