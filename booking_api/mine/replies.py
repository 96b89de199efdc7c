"""Attendees' answers to an invitation: accepted or declined.

A user answers under My meetings (`/m/invitations`, kept as a `Reply`); anyone invited,
user or guest, answers through the signed links of their invitation mail
(`signage/notify/answers.py`; a guest's answer is a `GuestReply`, by email). Either way
the booking's page shows it to the organizer live (the `replies` topic).

    await replies.give(s, [41, 42], "li@example.com", "accepted")   # in the change's transaction
    await replies.announce(bus, [41, 42])                           # after the commit
    await replies.answers_of(s, [41])   → {(41, "li@example.com"): ("accepted", at), ...}
"""

from __future__ import annotations

from sqlalchemy import select

from booking_api.models import Attendee, GuestReply, Reply
from signage import clock, topics

ANSWERS = ("accepted", "declined")


async def give(s, booking_ids: list[int], email: str, answer: str, user_id: int | None = None) -> list[int]:
    """`answer` for the attendee of these bookings with this email (or user); returns the
    bookings it was given for (those the person is still invited to)."""
    assert answer in ANSWERS, answer
    email, now, given = email.strip().lower(), clock.now(), []
    query = select(Attendee).where(Attendee.booking_id.in_(booking_ids))
    for a in await s.scalars(query.order_by(Attendee.id)):
        if a.booking_id in given:
            continue
        if not ((email and a.email.strip().lower() == email) or (user_id and a.user_id == user_id)):
            continue
        given.append(a.booking_id)
        if a.user_id:
            row = await s.get(Reply, (a.booking_id, a.user_id))
            if row is None:
                s.add(Reply(booking_id=a.booking_id, user_id=a.user_id, answer=answer, at=now))
            else:
                row.answer, row.at = answer, now
        else:
            row = await s.get(GuestReply, (a.booking_id, a.email.strip().lower()))
            if row is None:
                s.add(GuestReply(booking_id=a.booking_id, email=a.email.strip().lower(), answer=answer, at=now))
            else:
                row.answer, row.at = answer, now
    return given


async def answers_of(s, booking_ids) -> dict[int, dict]:
    """Per booking, each attendee's answer: {booking_id: {attendee_id: (answer, at)}}."""
    ids = list(booking_ids)
    if not ids:
        return {}
    found: dict[int, dict] = {}
    people = (await s.scalars(select(Attendee).where(Attendee.booking_id.in_(ids)))).all()
    users = {(r.booking_id, r.user_id): r for r in await s.scalars(select(Reply).where(Reply.booking_id.in_(ids)))}
    guests = {
        (r.booking_id, r.email): r for r in await s.scalars(select(GuestReply).where(GuestReply.booking_id.in_(ids)))
    }
    for a in people:
        row = users.get((a.booking_id, a.user_id)) if a.user_id else guests.get((a.booking_id, a.email.strip().lower()))
        if row is not None:
            found.setdefault(a.booking_id, {})[a.id] = (row.answer, row.at)
    return found


async def announce(bus, booking_ids) -> None:
    """After the commit: the meetings' pages show the answers."""
    messages = [m for i in sorted(set(booking_ids)) for m in topics.meeting_changed("reply", i)]
    await bus.notify_many([*topics.replies_changed(booking_ids), *messages])
