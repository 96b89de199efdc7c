"""`GET /healthz`: the state of the database and of the event bus, as JSON.

200 `{"status": "ok", ...}` when both answer; 503 `{"status": "degraded", ...}` otherwise.
`notify` gives each channel's state: email on or off, what waits, and `"failing": true`
when it keeps failing (a message tried three times, or given up today). A failing channel
does not make the server "degraded": the server still serves, and a 503 would take it out
of a load balancer for want of a mail server.
`room_timer` tells whether this process's room timer runs, is idle (asleep until the
next boundary, no change waiting) and the booking clock's time of its last tick (tests
with a shifted clock wait on it). `event_log` is this process's event dispatcher
(`signage.eventlog.dispatch.Dispatcher.health`): the newest event and, per consumer, its
durable position, how far behind it is, its failures, and how many events this process
delivered to it since it started; left out while the database does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.requests import Request
from starlette.responses import Response

from signage import __version__
from signage.auth import PUBLIC, route
from signage.notify import outbox
from signage.responses import JSONResponse


async def healthz(request: Request) -> Response:
    database, events = await asyncio.gather(request.app.state.db.check(), request.app.state.bus.health())
    ok = database["ok"] and events["ok"]
    body = {"status": "ok" if ok else "degraded", "version": __version__, "database": database, "events": events}
    with contextlib.suppress(Exception):  # the database being away is reported above
        body["notify"] = await outbox.health(request.app.state.db, request.app.state.settings)
    timer = getattr(request.app.state, "room_timer", None)
    if timer is not None:
        body["room_timer"] = timer.health()
    dispatcher = getattr(request.app.state, "dispatcher", None)
    if dispatcher is not None and database["ok"]:
        with contextlib.suppress(Exception):  # the database went away meanwhile: the 200/503 stands
            body["event_log"] = await dispatcher.health()
    return JSONResponse(body, status_code=200 if ok else 503)


routes = [route("/healthz", healthz, allow=PUBLIC)]
