"""`GET /healthz`: the state of the database and of the event bus, as JSON.

200 `{"status": "ok", ...}` when both answer; 503 `{"status": "degraded", ...}` otherwise.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from signage import __version__
from signage.auth import PUBLIC, route
from signage.responses import JSONResponse


async def healthz(request: Request) -> Response:
    database, events = await asyncio.gather(request.app.state.db.check(), request.app.state.bus.health())
    ok = database["ok"] and events["ok"]
    body = {"status": "ok" if ok else "degraded", "version": __version__, "database": database, "events": events}
    return JSONResponse(body, status_code=200 if ok else 503)


routes = [route("/healthz", healthz, allow=PUBLIC)]
