"""`GET /api/v1/events`: the event log for OA systems, as pages or as a live stream.

    GET /api/v1/events?after=120&limit=100&type=booking.
    → {"events": [{"id": "121", "type": "booking.created", "at", "actor", "subject", "data"}, ...],
       "next": "180"}

Oldest first. Pass `next` as `after` for the next page; a page with no events is the
end for now. With `Accept: text/event-stream` the same endpoint streams events as they
are committed (`id:` is the event's id, so a reconnecting EventSource resumes from
`Last-Event-ID`). A caller sees only events about what it may read (`visible`);
`next` moves past the others too.

`publish_live(bus)` is the dispatcher's "live" consumer (`topics.changes_logged`): it
tells the door screens and pages of the rooms whose bookings changed, or that changed,
and every process's subscribers of the `events` channel that events were committed (the
stream above then reads them from the database, in order): `{"first", "last", "count",
"types"}`, the ids of the batch's first and last event, how many it holds, and their
types. A bus that is away fails the delivery: it is retried, so nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from signage import openapi, topics
from signage.api import int_param, list_limit, param, refuse_unknown
from signage.auth import MAX_ID, SIGNED_IN, route
from signage.errors import Invalid
from signage.eventlog.models import Event
from signage.i18n import gettext as _
from signage.live import PING_SECONDS, sse
from signage.responses import JSONResponse

LIMIT, MAX_LIMIT = 100, 1000  # MAX_LIMIT: signage.api.LIST_MAX
SCAN = 10  # a page reads at most SCAN × limit events looking for visible ones
PARAMS = {"after", "limit", "type"}
TYPE = re.compile(r"[a-z_.]{1,60}")


def publish_live(bus):
    async def handler(_s, events: list[Event]) -> None:
        await bus.publish_many(topics.changes_logged(events))

    return handler


class Reader:
    """What one user may read of the log: everything (admins), rooms (everyone), service
    calls (service staff, the room's admins), and the events of the meetings they are
    concerned with (booking_api.bookings.visibility: the one rule of who sees a meeting)."""

    def __init__(self, viewer):
        self.viewer, self.user = viewer, viewer.user

    @classmethod
    async def of(cls, s, user) -> Reader:
        from booking_api.bookings.visibility import Viewer

        return cls(await Viewer.of(s, user))

    def may_read(self, event: Event) -> bool:
        user, data = self.user, event.data or {}
        if user.role == "admin" or event.type.startswith("room."):
            return True
        if event.type.startswith("service_call."):
            return user.role == "service" or data.get("room_id") in self.viewer.managed
        if event.type.startswith("booking."):
            return self.viewer.concerned(data)
        return False


def query_of(request: Request) -> tuple[int, int, str]:
    refuse_unknown(request, PARAMS)
    after = int_param(request, "after", MAX_ID * 1000) or 0
    limit = LIMIT if "limit" not in request.query_params else list_limit(request)  # 1 to 1,000
    kind = request.query_params.get("type", "")
    if kind and not TYPE.fullmatch(kind):
        raise Invalid(_("type is the start of an event type, like booking. or booking.created."), {"field": "type"})
    return after, limit, kind


async def page(s, reader: Reader, after: int, limit: int, kind: str) -> tuple[list[Event], int]:
    """Up to `limit` visible events after `after`, and the id to go on from."""
    found: list[Event] = []
    scanned = 0
    while len(found) < limit and scanned < SCAN * limit:
        query = select(Event).where(Event.id > after).order_by(Event.id).limit(limit)
        if kind:
            query = query.where(Event.type.startswith(kind, autoescape=True))
        rows = (await s.scalars(query)).all()
        if not rows:
            break
        for event in rows:
            after = event.id
            if reader.may_read(event):
                found.append(event)
                if len(found) == limit:
                    break
        scanned += len(rows)
        if len(rows) < limit:  # the end of the log: no second query to find nothing
            break
    return found, after


async def api_events(request: Request) -> Response:
    after, limit, kind = query_of(request)
    db = request.app.state.db
    async with db.session() as s:
        reader = await Reader.of(s, request.state.user)
    if "text/event-stream" in request.headers.get("accept", ""):
        last = request.headers.get("last-event-id", "")
        if last.isascii() and last.isdigit() and len(last) <= 18:
            after = max(after, int(last))
        return stream(request, reader, after, kind)
    async with db.session() as s:
        events, after = await page(s, reader, after, limit, kind)
    return JSONResponse({"events": [e.as_json() for e in events], "next": str(after)})


def stream(request: Request, reader: Reader, after: int, kind: str) -> Response:
    db, bus = request.app.state.db, request.app.state.bus

    async def events():
        nonlocal after
        async with bus.subscribe("events") as sub:
            while True:
                async with db.session() as s:
                    found, after = await page(s, reader, after, MAX_LIMIT, kind)
                for event in found:
                    yield {"id": str(event.id), "event": event.type, "data": json.dumps(event.as_json())}
                if len(found) == MAX_LIMIT:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sub.__anext__(), PING_SECONDS)
                while not sub.queue.empty():  # a burst of commits: one read
                    sub.queue.get_nowait()

    return sse(events())


class EventOut(BaseModel):
    id: str = Field(description="its place in the log (a number, as text): pass it as `after`")
    type: str = Field(description="booking.created, booking.updated, booking.cancelled, room.deleted …")
    at: str = Field(description="when it was committed (UTC)")
    actor: str = Field(description='who made the change: "user:3", "screen:5", "sensor" or "system"')
    subject: str = Field(description='what changed: "booking:41", "room:3"')
    data: dict = Field(description="the subject's state after the change (a booking or room as the API shows it)")


class EventsOut(BaseModel):
    events: list[EventOut]
    next: str = Field(description="pass as `after` for the next page")


openapi.add(
    "get",
    "/api/v1/events",
    "Events of every change, oldest first (or a live stream with Accept: text/event-stream)",
    response=EventsOut,
    tag="events",
    query={
        "after": param(
            "events after this id (the `next` of the previous page; 0 or absent: from the start)",
            type="integer",
            minimum=0,
            maximum=MAX_ID * 1000,
        ),
        "limit": param(f"at most this many (default {LIMIT})", type="integer", minimum=1, maximum=MAX_LIMIT),
        "type": param("only types starting with this, e.g. booking. or booking.cancelled", pattern=f"^{TYPE.pattern}$"),
    },
)

routes = [route("/api/v1/events", api_events, allow=SIGNED_IN)]
