"""What every change to bookings writes, decided here once: its events and its audit entry,
in the change's own transaction.

    async with db.begin() as s:
        ...  # the change itself: rules checked, rows written
        await changes.record(s, "booking.cancelled", [b.id for b in targets], request, reason="this: 1")

`record` writes one event per booking (its state after the change, as the API shows it,
attendees included, read again inside the transaction) and one audit entry for the change
(its action follows from the event type: `booking.cancelled` → `booking.cancel`). Door
screens, availability pages and the audit page hear of it from the event log's `live`
consumer (`signage.topics.changes_logged`: the booking's `room_id`, and `moved_from`, the
rooms an edit took bookings out of), so a crash after the commit loses no update. `who` is
the request (a user, or a door screen) or, for the room timer and sensors, "system" or
"sensor". Failures are audited by the routes (`signage.audit.record`, in a transaction of
their own, since the change rolled back).

Every path that changes a booking calls `record` in its transaction: create (series in
`bookings.py`, walk-up in `doors/walkup.py`), edit and cancel (`bookings.py`), approve and
reject (`approvals.py`), check-in, end early and extend (`doors/checkin.py`), no-show release
and sensor end (`doors/roomstate.py`). Room deletion takes its bookings with it
(`room.deleted`). The fast writer of single bookings (`writer.py`) writes the same
`booking.created` event and `booking.create` audit row in its own SQL, in one statement per
batch; `tests/signage/eventlog/test_eventlog.py` holds both ways to one payload.

Whether a booking waits for approval is decided by `needs_approval`, for every path.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request

from booking_api.models import Attendee, Booking, booking_json
from booking_api.rooms.rooms import may_manage
from signage import audit
from signage.eventlog import log
from signage.models import AuditEntry

ACTIONS = {  # event type → the audit entry's action
    "booking.created": "booking.create",
    "booking.updated": "booking.update",
    "booking.cancelled": "booking.cancel",
    "booking.approved": "booking.approve",
    "booking.rejected": "booking.reject",
    "booking.checked_in": "booking.check_in",
    "booking.ended": "booking.end",
    "booking.extended": "booking.extend",
    "booking.no_show": "booking.no_show",
}


async def needs_approval(s, user, room) -> bool:
    """A booking by this user in this room waits for approval (its admins' own do not)."""
    return bool(room.needs_approval) and (user is None or not await may_manage(s, user, room.id))


async def record(
    s,
    type: str,
    booking_ids,
    who: Request | str,
    extra: dict | None = None,
    *,
    reason: str = "",
    target: str = "",
    action: str = "",
) -> None:
    """The change's events (one per booking) and its audit entry, in its transaction."""
    ids = sorted(set(booking_ids))
    if not ids:
        return
    await s.flush()
    found = (
        await s.scalars(select(Booking).where(Booking.id.in_(ids)).execution_options(populate_existing=True))
    ).all()
    people: dict[int, list] = {}
    for a in (await s.scalars(select(Attendee).where(Attendee.booking_id.in_(ids)).order_by(Attendee.id))).all():
        people.setdefault(a.booking_id, []).append(a)
    events = [
        (type, f"booking:{b.id}", {**booking_json(b, people.get(b.id)), **(extra or {})})
        for b in sorted(found, key=lambda b: b.id)
    ]
    action, target = action or ACTIONS[type], target or f"booking:{ids[0]}"
    if isinstance(who, str):
        s.add(AuditEntry(action=action, target=target, user_email=who, reason=reason))
        await log.record_many(s, events, who)
    else:
        s.add(audit.entry(who, action, target, reason=reason))
        await log.record_many(s, events, log.actor_of(who))
