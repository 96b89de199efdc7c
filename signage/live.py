"""Live pages: `GET /events/{topic}` streams "changed" whenever the topic's channel
gets an event, and `static/live.js` refreshes the part of the page that shows it.

    <div id="results" data-live="audit">…</div>   → re-fetched (htmx) on every change

A topic is listed in TOPICS with the roles that may follow it. Events carry no data
to the page: it asks for the fresh fragment itself, with the viewer's own rights.
"""

from __future__ import annotations

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response

from signage.auth import SIGNED_IN, allowed, route
from signage.errors import Forbidden, NotFound
from signage.i18n import gettext as _

TOPICS: dict[str, str | tuple[str, ...]] = {
    "audit": ("admin",),
    "schedules": ("editor",),  # schedule entries added, changed or deleted
    "emergency": ("editor",),  # overrides started or cleared
}
PING_SECONDS = 15


def sse(stream) -> Response:
    return EventSourceResponse(
        stream, ping=PING_SECONDS, send_timeout=30, headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"}
    )


async def topic_events(request: Request) -> Response:
    topic = request.path_params["topic"]
    if topic not in TOPICS:
        raise NotFound(_("Not found"))
    if not allowed(request.state.user, TOPICS[topic]):
        raise Forbidden(_("Your role may not do this."))
    bus = request.app.state.bus

    async def stream():
        async with bus.subscribe(topic) as sub:
            yield {"event": "hello", "data": "{}"}
            async for _channel, _data in sub:
                yield {"event": "changed", "data": "{}"}

    return sse(stream())


routes = [route("/events/{topic}", topic_events, allow=SIGNED_IN)]
