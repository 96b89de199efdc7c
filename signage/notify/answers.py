"""Accept / Decline links in invitations: signed, no sign-in needed, valid until the meeting ends.

    answers.links(settings, "series", 7, "li@example.com", until, "zh_CN")
    → {"accept": "https://rooms.example.com/invitations/answer/<token>?answer=accept", "decline": ...}

    GET  /invitations/answer/<token>    the meeting, the answer given so far, Accept and Decline
    POST /invitations/answer/<token>    answer=accept|decline → the answer, as the organizer sees it

The token (itsdangerous, signed with SIGNAGE_SECRET_KEY) names the booking, or the series for
an invitation to all its occurrences, the attendee's email, the end of the meeting (after it
the link is 410 Gone) and the recipient's language. Opening a link changes nothing (mail
scanners open links too): the answer is the button pressed on its page. A forged or broken
token is a 400 page; a meeting cancelled, or an attendee no longer invited, a 410 page.
"""

from __future__ import annotations

import datetime as dt

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking_api.mine import replies
from booking_api.models import ACTIVE, Attendee, Booking, Room
from signage import audit, clock, i18n, topics
from signage.auth import PUBLIC, route
from signage.errors import Gone, Invalid
from signage.i18n import gettext as _
from signage.templating import render

SALT = "signage.invitation-answer"
CHOICES = {"accept": "accepted", "decline": "declined"}


def signer(settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt=SALT)


def links(settings, kind: str, ident: int, email: str, until: dt.datetime, locale: str) -> dict[str, str]:
    """The two links of one attendee's invitation; none without SIGNAGE_PUBLIC_URL."""
    if not settings.public_url or not email:
        return {}
    payload = {"k": kind, "id": ident, "e": email.strip().lower(), "x": int(until.timestamp()), "l": locale}
    token = signer(settings).dumps(payload)
    base = f"{settings.public_url.rstrip('/')}/invitations/answer/{token}"
    return {choice: f"{base}?answer={choice}" for choice in CHOICES}


def read(request: Request) -> dict:
    try:
        found = signer(request.app.state.settings).loads(request.path_params["token"])
    except BadSignature:
        raise Invalid(_("This link is not valid: it was changed or cut short. Open it again from the mail.")) from None
    if not isinstance(found, dict) or found.get("k") not in ("booking", "series"):
        raise Invalid(_("This link is not valid: it was changed or cut short. Open it again from the mail."))
    if found.get("l") in i18n.LOCALES and not request.scope.get("signage.lang_cookie"):
        i18n.current_locale.set(found["l"])
    if clock.now().timestamp() > found.get("x", 0):
        raise Gone(_("This meeting has ended; its invitation can no longer be answered."))
    return found


async def invited(s, found: dict) -> tuple[list[Booking], Attendee]:
    """The meetings the link answers (still to come) and the attendee it was sent to."""
    now = clock.now()
    column = Booking.id if found["k"] == "booking" else Booking.series_id
    query = select(Booking).where(column == found["id"], Booking.status.in_(ACTIVE), Booking.end_at > now)
    meetings = (await s.scalars(query.order_by(Booking.start_at))).all()
    if not meetings:
        raise Gone(_("This meeting was cancelled or has ended; its invitation can no longer be answered."))
    people = await s.scalars(select(Attendee).where(Attendee.booking_id.in_([b.id for b in meetings])))
    person = next((a for a in people if a.email.strip().lower() == found["e"]), None)
    if person is None:
        raise Gone(_("You are no longer invited to this meeting."))
    return list(meetings), person


async def answer_page(request: Request) -> Response:
    found = read(request)
    async with request.app.state.db.session() as s:
        meetings, person = await invited(s, found)
        first = meetings[0]
        room = await s.get(Room, first.room_id)
        given = (await replies.answers_of(s, [first.id])).get(first.id, {}).get(person.id)
    ctx = {
        "b": first,
        "room": room,
        "count": len(meetings),
        "person": person,
        "answer": given[0] if given else "",
        "wanted": request.query_params.get("answer", ""),
        "saved": request.query_params.get("saved") == "1",
    }
    return render(request, "notify/answer.html", ctx)


async def answer(request: Request) -> Response:
    found = read(request)
    choice = str((await request.form()).get("answer", ""))
    async with request.app.state.db.begin() as s:
        meetings, person = await invited(s, found)
        if choice not in CHOICES:
            raise Invalid(_("Accept or decline."))
        given = await replies.give(s, [b.id for b in meetings], person.email, CHOICES[choice])
        entry = audit.entry(request, "invitation." + choice, f"booking:{meetings[0].id}")
        entry.user_email = entry.user_email or person.email  # by the link in their mail
        s.add(entry)
    await replies.announce(request.app.state.bus, given)  # the meetings' pages show it
    await request.app.state.bus.notify_many(topics.page_changed("audit"))
    return RedirectResponse(f"{request.url.path}?saved=1", status_code=303)


routes = [
    route("/invitations/answer/{token}", answer_page, allow=PUBLIC),
    route("/invitations/answer/{token}", answer, methods=["POST"], allow=PUBLIC),
]
