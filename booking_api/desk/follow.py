"""The `desk` consumer of the event log.

    dispatcher.follow("desk", follow.consumer(bus, settings, outbox.wake))

- `booking.ended` ("End now", the sensor): the room's cleaning task, in the consumer's
  own transaction (so once per event). Meetings that end at their end time have no event;
  the room timer makes theirs (`after_meetings`, called from its tick). Both go through
  `tasks.ensure_cleaning`, which makes one task per meeting whoever comes first.
- a meeting cancelled, rejected, released or moved: the task for its services (made before
  it starts, `services.py`) is withdrawn (`service_call.cancelled`).
- `service_call.*`: the desks (`service` channel, with what they announce) and the room's
  door screens (`room:<id>`, which then show "service on the way"); an escalated call
  also reaches every service user's bell (signage/notify/inbox.py) and, when email is on,
  their mailbox through the notification outbox.
- `desk.called_in`: the waiting-room screens (`rooms`) announce the meeting.
"""

from __future__ import annotations

import datetime as dt

from markupsafe import escape
from sqlalchemy import event as orm_event
from sqlalchemy import select

from booking_api.desk import services as meeting_services
from booking_api.desk import tasks
from booking_api.models import Booking
from signage import topics
from signage.eventlog import log as eventlog
from signage.i18n import gettext as _
from signage.models import User
from signage.notify import inbox, routing, texts
from signage.notify.invites import Notices, speaking

# a meeting cancelled, rejected, released or moved: the task for its services is withdrawn
MAY_WITHDRAW = {"booking.cancelled", "booking.rejected", "booking.no_show", "booking.updated"}
FOLLOWS = (*sorted(MAY_WITHDRAW), "booking.ended", "desk.", "service_call.")  # the events `consumer` acts on
LOOKBACK = dt.timedelta(days=1)  # the test clock jumping ahead: at most a day of meetings


def consumer(bus, settings, wake_outbox):
    async def handler(s, events) -> None:
        messages, mailed, cleanings, changed = [], 0, [], set()
        for event in events:
            data = event.data or {}
            if event.type in MAY_WITHDRAW and data.get("id"):
                changed.add(data["id"])
            if event.type == "booking.ended" and data.get("status") == "confirmed":
                made = await tasks.make_cleaning(s, data["id"], data["room_id"], data.get("services"))
                if made is not None:
                    cleanings.append((f"service_call:{made[0]}", made[1], event.actor or "system"))
            elif event.type == "desk.called_in":
                messages += topics.called_in(data["room_id"])
            elif event.type.startswith("service_call."):
                messages += topics.service_changed(event.type.split(".", 1)[1], data)
                if event.type == "service_call.escalated":
                    mailed += await tell_staff(s, settings, event)
        withdrawn = await meeting_services.withdrawn(s, changed)
        # The events last, after every insert: the event log's lock is never held while waiting
        # for a row (another process's timer may be inserting the same meeting's task).
        for subject, task, actor in cleanings:
            await eventlog.record(s, "service_call.created", subject, task, actor)
        for subject, task in withdrawn:
            await eventlog.record(s, "service_call.cancelled", subject, task, "system")
        if mailed:
            orm_event.listen(s.sync_session, "after_commit", lambda _session: wake_outbox(), once=True)
        inbox.told(s, bus)  # the bells of the staff told of an escalated call
        if messages:
            await bus.notify_many(messages)

    return handler


async def tell_staff(s, settings, event) -> int:
    """An escalated call: a notice on every service user's bell and a message on their channels
    (email unless they or the site chose others), in their language (the outbox sends it); how
    many messages were queued."""
    notices = Notices(settings)
    data, queued = event.data, 0
    staff = (await s.scalars(select(User).where(User.role == "service", User.is_active.is_(True)))).all()
    for user in staff:
        person = {
            "name": user.name,
            "email": user.email,
            "locale": notices.locale_of(user),
            "user_id": user.id,
            "contacts": routing.contacts_of(user),
        }
        with speaking(person["locale"], settings.timezone):
            kind = tasks.kind_label(data["kind"])
            subject = _("Waiting: %(room)s requests %(kind)s", room=data["room"], kind=kind)
            text = _(
                "%(room)s requests %(kind)s. Nobody has accepted the call for %(n)s minutes.",
                room=data["room"],
                kind=kind,
                n=data.get("minutes", settings.service_escalate_minutes),
            )
            if data.get("note"):
                text += "\n\n" + data["note"]
            html = "".join(f"<p>{escape(line)}</p>" for line in text.split("\n\n"))
            inbox.add(s, user.id, "service_call", event.subject, subject)
            person["short"] = texts.Text(subject, text)  # the other channels say the same
            queued += await notices.add(s, "service_call", event.subject, event, person, subject, text, html, None, "")
    return queued


async def after_meetings(db, since: dt.datetime, now: dt.datetime) -> int:
    """Cleaning tasks of the confirmed meetings that ended after `since` (at most LOOKBACK
    ago; a second before, for an end written in the second the timer last ticked) until
    `now`; how many this made."""
    async with db.session() as s:
        ended = (
            await s.execute(
                select(Booking.id, Booking.room_id, Booking.services).where(
                    Booking.status == "confirmed",
                    Booking.end_at > max(since, now - LOOKBACK) - dt.timedelta(seconds=1),
                    Booking.end_at <= now,
                )
            )
        ).all()
    made = 0
    for booking_id, room_id, services in ended:
        async with db.begin() as s:
            made += await tasks.ensure_cleaning(s, booking_id, room_id, services)
    return made
