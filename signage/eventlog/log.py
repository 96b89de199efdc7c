"""Writing events: inside the change's own transaction, after its other writes.

    await record(s, "booking.cancelled", "booking:41", booking_json(b, attendees), actor_of(request))

On PostgreSQL each transaction that writes events first takes one advisory lock
(`pg_advisory_xact_lock(LOCK)`, held until it commits), so events are numbered in
commit order and a follower reading `id > position` never skips an event that
commits later with a smaller number. Record events last in a transaction (after
its row locks), so the lock is never held while waiting for a row. SQLite
serialises writers anyway (`BEGIN IMMEDIATE`).
"""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request

from signage.db import utcnow
from signage.eventlog.models import Event

LOCK = 7_413_001  # the event log's advisory lock key (PostgreSQL)
TAKE_LOCK = f"SELECT pg_advisory_xact_lock({LOCK})"

TYPES = (
    "booking.created",
    "booking.updated",
    "booking.cancelled",
    "booking.approved",
    "booking.rejected",
    "booking.checked_in",
    "booking.ended",
    "booking.extended",
    "booking.no_show",
    "booking.minutes_added",  # the booking, and "files": the names of the minutes added
    "booking.materials_added",  # the booking, "files": the names of the materials added, "scope": this | series
    "room.created",
    "room.updated",
    "room.deleted",
    "service_call.created",
    "service_call.accepted",
    "service_call.escalated",
    "service_call.done",
    "service_call.cancelled",  # the services of a meeting cancelled or moved meanwhile
    "desk.called_in",
)


def actor_of(request: Request | None) -> str:
    """Who made the change: "user:3", "screen:5", or "system" (the room timer)."""
    if request is None:
        return "system"
    user = getattr(request.state, "user", None)
    if user is not None:
        return f"user:{user.id}"
    screen = getattr(request.state, "screen", None)
    return f"screen:{screen.id}" if screen is not None else "system"


async def record(s, type: str, subject: str, data: dict, actor: str = "system") -> None:
    """Add one event to the session's transaction (it commits with the change, or not at all)."""
    await record_many(s, [(type, subject, data)], actor)


async def record_many(s, events: list[tuple[str, str, dict]], actor: str = "system") -> None:
    if not events:
        return
    assert all(e[0] in TYPES for e in events), [e[0] for e in events]
    if s.bind.dialect.name == "postgresql":
        await s.execute(text(TAKE_LOCK))
    now = utcnow()
    s.add_all(Event(type=t, subject=subject, data=data, actor=actor, at=now) for t, subject, data in events)
    await s.flush()
    s.info["events"] = True  # signage.db wakes the dispatcher once this commits
