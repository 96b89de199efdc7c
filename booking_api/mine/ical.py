"""iCalendar feeds (RFC 5545, SPEC B8): a user's meetings or a room's, at a secret URL.

    GET /ical/<secret>.ics   → text/calendar; anyone with the URL may read it, so it can be
                               rotated (`rotate`), which makes the old URL answer 404.

A recurring meeting is one VEVENT with its RRULE (DTSTART in the site's time zone,
so 09:00 stays 09:00 across daylight saving), ending at its last occurrence (UNTIL),
with EXDATE for every occurrence cancelled, and a RECURRENCE-ID override under the
series' UID for an occurrence changed alone, moved or not (its RECURRENCE-ID is the
slot it had: `signage.notify.models.Occurrence`). Each VEVENT is the one the
invitations carry (same UID, SEQUENCE, RECURRENCE-ID, DTSTART, DTEND; ORGANIZER the
site's address with the organizer's name), with LAST-MODIFIED, DESCRIPTION (the notes)
and each attendee's answer as PARTSTAT.

A feed answers with an ETag (of its body) and Last-Modified (its newest change), and
304 Not Modified to a matching If-None-Match, or (without one) to an If-Modified-Since
not older than its Last-Modified.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import secrets
from email.utils import format_datetime, parseaddr, parsedate_to_datetime
from zoneinfo import ZoneInfo

import icalendar
from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from booking_api.bookings import recurrence
from booking_api.bookings.visibility import public_title
from booking_api.mine import replies
from booking_api.models import ACTIVE, Attendee, Booking, CalendarFeed, Room, Series
from booking_api.rooms.rooms import MANAGERS, get_room, may_manage
from signage import audit, clock, openapi
from signage.api import param
from signage.auth import PUBLIC, route
from signage.errors import Forbidden, Invalid, NotFound
from signage.i18n import gettext as _
from signage.responses import JSONResponse

HISTORY = dt.timedelta(days=90)  # past meetings kept in a feed


async def feed_url(request: Request, s, kind: str, owner_id: int) -> str:
    """The feed's URL, made on first use."""
    feed = await s.scalar(select(CalendarFeed).where(CalendarFeed.kind == kind, CalendarFeed.owner_id == owner_id))
    if feed is None:
        try:
            async with request.app.state.db.begin() as w:
                feed = CalendarFeed(kind=kind, owner_id=owner_id, secret=secrets.token_urlsafe(24))
                w.add(feed)
        except IntegrityError:  # made meanwhile by another request
            feed = await s.scalar(
                select(CalendarFeed).where(CalendarFeed.kind == kind, CalendarFeed.owner_id == owner_id)
            )
    return f"{str(request.base_url).rstrip('/')}/ical/{feed.secret}.ics"


async def rotate(request: Request, kind: str, owner_id: int) -> None:
    async with request.app.state.db.begin() as s:
        feed = await s.scalar(select(CalendarFeed).where(CalendarFeed.kind == kind, CalendarFeed.owner_id == owner_id))
        if feed is None:
            s.add(CalendarFeed(kind=kind, owner_id=owner_id, secret=secrets.token_urlsafe(24)))
        else:
            feed.secret = secrets.token_urlsafe(24)
    await audit.record(request, "calendar_feed.rotate", f"{kind}:{owner_id}")


ROLES = {"chair": "CHAIR", "required": "REQ-PARTICIPANT", "optional": "OPT-PARTICIPANT"}


def event(
    b: Booking,
    room: Room,
    tz: ZoneInfo,
    uid: str,
    *,
    sequence: int | None = None,
    organizer: tuple[str, str] | None = None,
    attendees: list[tuple] = (),
    description: str = "",
    stamp: dt.datetime | None = None,
    status: str | None = None,
    modified: dt.datetime | None = None,
    summary: str | None = None,
) -> icalendar.Event:
    """One VEVENT: what the feeds list and what invitations carry (`signage.notify`).

    `organizer` is (name, address): ORGANIZER;CN=name:mailto:address; `attendees` are
    (name, address, role) with role chair, required or optional, or (name, address,
    role, partstat) with their answer (ACCEPTED, DECLINED; else NEEDS-ACTION)."""
    e = icalendar.Event()
    e.add("uid", uid)
    e.add("dtstamp", stamp or b.updated_at or clock.now())
    e.add("dtstart", b.start_at.astimezone(tz))
    e.add("dtend", b.end_at.astimezone(tz))
    e.add("summary", b.title if summary is None else summary)
    e.add("location", room.name)
    e.add("status", status or ("TENTATIVE" if b.status == "pending" else "CONFIRMED"))
    if sequence is not None:
        e.add("sequence", sequence)
    if modified is not None:
        e.add("last-modified", modified)
    if description:
        e.add("description", description)
    if organizer is not None:
        who = icalendar.vCalAddress(f"mailto:{organizer[1]}")
        who.params["CN"] = icalendar.vText(organizer[0] or organizer[1])
        e.add("organizer", who, encode=False)
    for name, address, role, *answer in attendees:
        who = icalendar.vCalAddress(f"mailto:{address}")
        who.params["CN"] = icalendar.vText(name or address)
        who.params["ROLE"] = ROLES.get(role, "REQ-PARTICIPANT")
        who.params["PARTSTAT"] = (answer and answer[0]) or "NEEDS-ACTION"
        who.params["RSVP"] = "TRUE"
        e.add("attendee", who, encode=False)
    return e


def series_master(
    series: Series, members: list[Booking], rooms: dict, tz: ZoneInfo, uid: str, kept=frozenset(), **fields
) -> tuple[icalendar.Event, list[dt.datetime], list[Booking]]:
    """The series' VEVENT with its RRULE (to its last occurrence) and an EXDATE for each slot
    whose occurrence is gone (cancelled, or changed alone: unless its slot is in `kept`);
    with the slots of the rule and the active members. `fields` go to `event`."""
    members = sorted(members, key=lambda b: b.start_at)
    first, last = next((b for b in members if not b.detached), members[0]), members[-1]
    parts = {k: v for k, v in recurrence.parse_parts(series.rrule).items() if k not in ("COUNT", "UNTIL")}
    until_local = last.start_at.astimezone(tz).strftime("%Y%m%dT%H%M%S")
    rule = ";".join(f"{k}={v}" for k, v in parts.items())
    slots = [s for s, _e in recurrence.occurrences(f"{rule};UNTIL={until_local}", first.start_at, first.end_at, tz.key)]
    active = [b for b in members if b.status in ACTIVE]
    present = {b.start_at for b in active} | set(kept)
    master = event(first, rooms[first.room_id], tz, uid, **fields)
    master.add("rrule", icalendar.vRecur.from_ical(f"{rule};UNTIL={last.start_at.strftime('%Y%m%dT%H%M%SZ')}"))
    for start in slots:
        if start not in present:
            master.add("exdate", start.astimezone(tz))
    return master, slots, active


def calendar_host(settings, fallback: str) -> str:
    """The host in UIDs: the domain of SIGNAGE_MAIL_FROM, so feeds and invitations name a
    meeting alike; else the host the feed was asked at."""
    from email.utils import parseaddr

    address = parseaddr(settings.mail_from)[1]
    return address.rpartition("@")[2] if "@" in address else fallback


@dataclasses.dataclass
class FeedState:
    """What a feed's VEVENTs say beyond the bookings: each UID's calendar state (from the
    notifications: SEQUENCE, each occurrence's slot), attendees with their answers, and
    the organizers' names."""

    invitations: dict = dataclasses.field(default_factory=dict)  # uid → Invitation
    occurrences: dict = dataclasses.field(default_factory=dict)  # booking id → Occurrence
    people: dict = dataclasses.field(default_factory=dict)  # booking id → [(name, email, role, partstat)]
    organizers: dict = dataclasses.field(default_factory=dict)  # user id → (name, email)
    site: str = ""  # the site's address (SIGNAGE_MAIL_FROM): ORGANIZER, as in the invitations
    answered: list = dataclasses.field(default_factory=list)  # when the answers were given
    outline: bool = False  # a room's feed, for whoever holds its URL: no people or notes; "busy" when private

    def organizer(self, b: Booking) -> tuple[str, str] | None:
        name, address = self.organizers.get(b.organizer_id, ("", ""))
        address = self.site or address
        return (name, address) if address else None

    def fields(self, b: Booking, sequence: int, modified: dt.datetime | None = None) -> dict:
        if self.outline:  # booking_api.bookings.visibility: what everyone may see of a meeting
            return {"sequence": sequence, "modified": modified or b.updated_at, "summary": public_title(b)}
        return {
            "sequence": sequence,
            "organizer": self.organizer(b),
            "attendees": [p for p in self.people.get(b.id, ()) if p[1]],
            "description": b.notes,
            "modified": modified or b.updated_at,
        }

    def sequence(self, uid: str) -> int:
        found = self.invitations.get(uid)
        return found.master_sequence if found is not None else 0


def series_events(
    series: Series, members: list[Booking], rooms: dict, tz: ZoneInfo, host: str, state: FeedState
) -> list:
    """The series as one VEVENT with RRULE and EXDATEs, plus an override (RECURRENCE-ID) for
    each occurrence changed alone; one whose slot is unknown or no longer the rule's (the
    series was moved since) is its own event (`booking-N`)."""
    uid = f"series-{series.id}@{host}"
    ordered = sorted(members, key=lambda b: b.start_at)
    first = next((b for b in ordered if not b.detached), ordered[0])
    changed = [b for b in members if b.detached and b.status in ACTIVE]
    slot_of = {b.id: state.occurrences[b.id].slot if b.id in state.occurrences else b.start_at for b in changed}
    modified = max(b.updated_at for b in members)
    master, slots, _active = series_master(
        series, members, rooms, tz, uid, set(slot_of.values()), **state.fields(first, state.sequence(uid), modified)
    )
    out, alone = [master], []
    for b in sorted(changed, key=lambda b: b.start_at):
        if slot_of[b.id] not in slots:
            alone.append(b)
            continue
        occurrence = state.occurrences.get(b.id)
        sequence = occurrence.sequence if occurrence is not None and occurrence.sequence is not None else None
        e = event(
            b, rooms[b.room_id], tz, uid, **state.fields(b, state.sequence(uid) if sequence is None else sequence)
        )
        e.add("recurrence-id", slot_of[b.id].astimezone(tz))
        out.append(e)
    out += [event(b, rooms[b.room_id], tz, f"booking-{b.id}@{host}", **state.fields(b, 0)) for b in alone]
    return out


def calendar_of(
    bookings: list[Booking], series: dict, rooms: dict, tz: ZoneInfo, host: str, name: str, state: FeedState
) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Signage//Meeting rooms//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    grouped: dict[int, list[Booking]] = {}
    for b in sorted(bookings, key=lambda b: (b.start_at, b.id)):
        if b.series_id is not None and b.series_id in series:
            grouped.setdefault(b.series_id, []).append(b)
        elif b.status in ACTIVE:
            uid = f"booking-{b.id}@{host}"
            cal.add_component(event(b, rooms[b.room_id], tz, uid, **state.fields(b, state.sequence(uid))))
    for series_id, members in grouped.items():
        if any(b.status in ACTIVE for b in members):
            for e in series_events(series[series_id], members, rooms, tz, host, state):
                cal.add_component(e)
    add_timezones(cal)
    return cal.to_ical()


@functools.lru_cache(maxsize=16)
def vtimezone(tzid: str) -> icalendar.Timezone | None:
    """The VTIMEZONE of a zone, 1970 to 2038, made once per process: icalendar takes ~0.1 s of
    CPU to work out a zone's transitions, which every invitation would otherwise pay (found by
    bench/notify.py). Shared between calendars: they only read it."""
    try:
        return icalendar.Timezone.from_tzid(tzid)
    except ValueError:
        return None


def add_timezones(cal: icalendar.Calendar) -> None:
    """`cal.add_missing_timezones()`, from the cache: a VTIMEZONE first for each TZID used."""
    at = len(cal.timezones)
    for tzid in sorted(cal.get_missing_tzids()):
        found = vtimezone(tzid)
        if found is not None:
            cal.subcomponents.insert(at, found)
            at += 1


PARTSTAT = {"accepted": "ACCEPTED", "declined": "DECLINED"}


async def feed_state(s, bookings: list[Booking], host: str, site: str) -> FeedState:
    from signage.models import User
    from signage.notify.models import Invitation, Occurrence

    ids = [b.id for b in bookings]
    uids = {f"booking-{b.id}@{host}" for b in bookings} | {f"series-{b.series_id}@{host}" for b in bookings}
    state = FeedState(site=site)
    state.invitations = {i.uid: i for i in await s.scalars(select(Invitation).where(Invitation.uid.in_(uids)))}
    detached = [b.id for b in bookings if b.detached]
    if detached:
        found = await s.scalars(select(Occurrence).where(Occurrence.booking_id.in_(detached)))
        state.occurrences = {o.booking_id: o for o in found}
    answers = await replies.answers_of(s, ids)
    state.answered = [at for per in answers.values() for _answer, at in per.values()]
    for a in await s.scalars(select(Attendee).where(Attendee.booking_id.in_(ids)).order_by(Attendee.id)):
        answer = answers.get(a.booking_id, {}).get(a.id, ("", None))[0]
        state.people.setdefault(a.booking_id, []).append((a.name, a.email, a.role, PARTSTAT.get(answer, "")))
    organizers = {b.organizer_id for b in bookings if b.organizer_id}
    for u in await s.scalars(select(User).where(User.id.in_(organizers))):
        state.organizers[u.id] = (u.name or u.email, u.email)
    return state


def http_date(value: dt.datetime) -> str:
    return format_datetime(value.astimezone(dt.UTC).replace(microsecond=0), usegmt=True)


def not_modified(request: Request, etag: str, modified: dt.datetime) -> bool:
    """RFC 9110: If-None-Match when sent (any of its tags, weak or strong, or *), else
    If-Modified-Since (whole seconds, as HTTP dates are)."""
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError, IndexError):
            return False
        if when.tzinfo is None:
            return False
        return modified.replace(microsecond=0) <= when
    return False


async def feed(request: Request) -> Response:
    secret = request.path_params["secret"].removesuffix(".ics")
    tz = ZoneInfo(request.app.state.settings.timezone)
    since = clock.now() - HISTORY
    async with request.app.state.db.session() as s:
        found = await s.scalar(select(CalendarFeed).where(CalendarFeed.secret == secret))
        if found is None:
            raise NotFound(_("No such calendar feed."))
        if found.kind == "room":
            room = await get_room(s, found.owner_id)
            name, where = room.name, Booking.room_id == room.id
        else:
            invited = select(Attendee.booking_id).where(Attendee.user_id == found.owner_id)
            name, where = _("My meetings"), or_(Booking.organizer_id == found.owner_id, Booking.id.in_(invited))
        picked = (await s.scalars(select(Booking).where(where, Booking.ends_after(since)).limit(5000))).all()
        series_ids = {b.series_id for b in picked if b.series_id is not None}
        whole = (
            list((await s.scalars(select(Booking).where(Booking.series_id.in_(series_ids)))).all())
            if series_ids
            else []
        )
        bookings = list({b.id: b for b in (*picked, *whole)}.values())
        series = {x.id: x for x in (await s.scalars(select(Series).where(Series.id.in_(series_ids)))).all()}
        rooms = {r.id: r for r in (await s.scalars(select(Room))).all()}
        settings = request.app.state.settings
        host = calendar_host(settings, request.url.hostname or "signage")
        state = await feed_state(s, bookings, host, parseaddr(settings.mail_from)[1])
        state.outline = found.kind == "room"
        modified = await last_change(s, bookings, state)
    body = calendar_of(bookings, series, rooms, tz, host, name, state)
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    # no-cache: a cache may keep it, but asks every time (304 when nothing changed); private: a secret URL
    headers = {"ETag": etag, "Last-Modified": http_date(modified), "Cache-Control": "private, no-cache"}
    if not_modified(request, etag, modified):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


async def last_change(s, bookings: list[Booking], state: FeedState) -> dt.datetime:
    """The feed's newest change: of its bookings, their calendar state, or the rooms (the newest
    room event: a room renamed or deleted, which takes its bookings with it)."""
    from signage.eventlog.models import Event

    found = [b.updated_at for b in bookings] + [i.updated_at for i in state.invitations.values()]
    found.append(await s.scalar(select(func.max(Event.at)).where(Event.type.startswith("room."))))
    found += state.answered
    return max((t for t in found if t is not None), default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))


async def api_room_feed(request: Request) -> Response:
    """A room's feed URL (room admins); `?rotate=1` replaces the secret first."""
    room_id = request.path_params["id"]
    async with request.app.state.db.session() as s:
        await get_room(s, room_id)
        if not await may_manage(s, request.state.user, room_id):
            raise Forbidden(_("Only the room's admins may share its calendar."))
    rotating = request.query_params.get("rotate")
    if rotating not in (None, "1"):
        raise Invalid(_("rotate is 1 or absent."), {"field": "rotate"})
    if rotating:
        await rotate(request, "room", room_id)
    async with request.app.state.db.session() as s:
        return JSONResponse({"url": await feed_url(request, s, "room", room_id)})


class FeedOut(BaseModel):
    url: str = Field(description="the feed's address, its secret in it")


openapi.add(
    "post",
    "/api/v1/rooms/{id}/calendar-feed",
    "The room's iCalendar feed URL (made on first use)",
    response=FeedOut,
    tag="check-in",
    query={"rotate": param("1: replace the secret; the old URL stops working", type="string", enum=["1"])},
)

routes = [
    route("/ical/{secret}", feed, allow=PUBLIC),
    route("/api/v1/rooms/{id:id}/calendar-feed", api_room_feed, methods=["POST"], allow=MANAGERS),
]
