"""Live pages: `GET /events/{topic}` streams "changed" whenever the topic's channel
gets a message (signage/topics.py names them all), and `static/live.js` refreshes the
part of the page that shows it.

    <div id="results" data-live="audit">…</div>   → re-fetched (htmx) on every change
    new EventSource("/events/bookings")          → the availability grid's own script

A topic is listed in TOPICS with the roles that may follow it. Events carry no data
to the page (it asks for the fresh fragment itself, with the viewer's own rights),
except where TOPICS says the payload is the news: the media pages' progress, named
by its type (`progress`, `ready`, …), and the meeting pages' ids (which meeting changed;
the page then asks for its fragment like any other). Every stream starts with `hello`.
"""

from __future__ import annotations

import contextlib
import json

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response

from signage.auth import SIGNED_IN, allowed, route
from signage.errors import Forbidden, Invalid, NotFound
from signage.i18n import gettext as _

EDITORS = ("editor",)

# topic → (roles that may follow it, whether the page gets the payload)
TOPICS: dict[str, tuple[str | tuple[str, ...], bool]] = {
    "audit": (("admin",), False),
    "schedules": (EDITORS, False),  # schedule entries added, changed or deleted
    "emergency": (EDITORS, False),  # overrides started or cleared
    "bookings": (SIGNED_IN, False),  # bookings or rooms changed (availability, my bookings, approvals)
    "screens": (EDITORS, False),  # screens claimed, edited, reporting in
    "media": (EDITORS, True),  # uploads, conversions' progress, edits
    "meetings": (SIGNED_IN, True),  # a meeting's files or answers changed: its id, for its page to look again
    "replies": (SIGNED_IN, False),  # attendees answered invitations (a booking's page)
    "inbox": (SIGNED_IN, False),  # the user's own notices (the bell): channel inbox:{user id}
    "service": (("service",), True),  # service calls and cleaning tasks (the desk announces them)
    "rooms": (SIGNED_IN, False),  # rooms' states moved on with the clock (the desk's tiles)
}
PERSONAL = {"inbox"}  # topics whose channel is the follower's own
PING_SECONDS = 15


class Stream(EventSourceResponse):
    """sse-starlette's response, ended properly when the server stops: told to exit, it
    cancels the stream and returns without the last body message (uvicorn then logs
    "ASGI callable returned without completing response"); here that message is sent."""

    async def __call__(self, scope, receive, send) -> None:
        started = ended = False

        async def tracked(message) -> None:
            nonlocal started, ended
            started = started or message["type"] == "http.response.start"
            ended = ended or (message["type"] == "http.response.body" and not message.get("more_body", False))
            await send(message)

        await super().__call__(scope, receive, tracked)
        if started and not ended:
            with contextlib.suppress(OSError, RuntimeError):  # the client may be gone already
                await send({"type": "http.response.body", "body": b"", "more_body": False})


def sse(stream, ping: float = PING_SECONDS) -> Response:
    """Every page stream of the product (not the screens', see player/stream.py)."""
    return Stream(stream, ping=ping, send_timeout=30, headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"})


async def topic_events(request: Request) -> Response:
    topic = request.path_params["topic"]
    if topic not in TOPICS:
        raise NotFound(_("Not found"))
    roles, with_data = TOPICS[topic]
    if not allowed(request.state.user, roles):
        raise Forbidden(_("Your role may not do this."))
    if "text/event-stream" not in request.headers.get("accept", ""):
        raise Invalid(_("This address is an event stream: open it with EventSource."))
    bus = request.app.state.bus

    async def stream():
        channel = f"{topic}:{request.state.user.id}" if topic in PERSONAL else topic
        async with bus.subscribe(channel) as sub:
            yield {"event": "hello", "data": "{}"}
            async for _channel, data in sub:
                if with_data:
                    yield {"event": data.get("type", "changed"), "data": json.dumps(data)}
                else:
                    yield {"event": "changed", "data": "{}"}

    return sse(stream())


routes = [route("/events/{topic}", topic_events, allow=SIGNED_IN)]
