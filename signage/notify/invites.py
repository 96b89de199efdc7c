"""Booking events → invitations, updates, cancellations and rejections (the `notify` consumer).

    dispatcher.follow("notify", invites.consumer(settings, outbox.wake, bus))

The handler runs inside the event log's delivery transaction: the messages it queues
commit together with the consumer's position, so each change is turned into its mails
exactly once. It reads a change's events together (those of one transaction share
type and time) and sends, to every attendee with an address:

- an invitation (`METHOD:REQUEST`) when a booking is confirmed: made confirmed, or
  approved in a room that needs approval; a series is one VEVENT with its RRULE;
- an update (the next SEQUENCE) when it changes: the series' VEVENT for a change of the
  series, or the occurrence under the series' UID with its RECURRENCE-ID;
- a cancellation (`METHOD:CANCEL`, the next SEQUENCE; RECURRENCE-ID for one occurrence);
- to the organizer, a rejection with its reason, an approval (besides the attendees'
  invitations; not when the organizer approved it), and the notice that a meeting nobody
  checked in to was released (`booking.no_show`);
- to the attendees, "minutes available" when the minutes of a meeting are added (its page
  has them: booking_api.meetings), by mail and in their bell;
- to the attendees and the organizer who are users, "new materials" in their bell (no mail)
  when files are added to a meeting's materials (`booking.materials_added`); not to whoever
  added them.

Reminders before meetings are not events: the outbox's worker finds them due
(signage/notify/reminders.py) and queues them through `Notices.reminder`.

One mail per VEVENT; each recipient who is a user also gets the notice in their own list
(the bell: signage/notify/inbox.py). Besides email, each notice goes by the channels the
recipient chose for its kind, else the site's defaults, as its short text (`Notices.add`,
signage/notify/routing.py). Texts are in the recipient's language (a user's own choice, else
SIGNAGE_DEFAULT_LOCALE). With no channel on nothing is queued, but the
calendar state is kept all the same (each UID's SEQUENCE, each occurrence's slot): the
iCalendar feeds (booking_api/mine/ical.py) show the VEVENTs the mails carry, or would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import types
from email.utils import parseaddr
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import event as orm_event
from sqlalchemy import func, select

from booking_api.mine import ical
from booking_api.models import ACTIVE, Attendee, Booking, Room, Series
from signage import clock, i18n
from signage.models import User
from signage.notify import inbox, mail, reminders, routing, texts
from signage.notify.answers import links as answer_links
from signage.notify.models import Invitation, Message, Occurrence

log = logging.getLogger("signage.notify")

HANDLED = (
    "booking.created",
    "booking.approved",
    "booking.updated",
    "booking.cancelled",
    "booking.rejected",
    "booking.minutes_added",
    "booking.materials_added",
    "booking.no_show",
)
ROUTING = "notify.routing"  # the session's `info` key: the site's channels, users' choices, templates
INVITATIONS = "notify.invitations"  # the session's `info` key: each UID's Invitation read in this delivery
ORGANIZER_NOTICES = {"booking.rejected": "rejection", "booking.no_show": "no_show"}  # event → kind
ALSO_TO_ORGANIZER = {"booking.approved": "approval"}  # and to the attendees as usual


def organizer_told(e) -> bool:
    """Whether the organizer hears of this change (not of their own approval)."""
    return bool(e.data.get("organizer_id")) and e.actor != f"user:{e.data['organizer_id']}"


def consumer(settings, wake, bus=None):
    notices = Notices(settings)

    async def handle(s, events) -> None:
        await reminders.covered(s, events, settings.reminder_minutes)
        queued, groups = 0, changes(events)
        await notices.preload(s, [notices.uid_of(e) for group in groups for e in group])  # one read for all
        for group in groups:
            queued += await notices.change(s, group)
        if bus is not None:
            inbox.told(s, bus)
        if queued:
            orm_event.listen(s.sync_session, "after_commit", lambda _session: wake(), once=True)

    return handle


def changes(events) -> list[list]:
    """Consecutive booking events of one change (same type and time), in order."""
    wanted = [e for e in events if e.type in HANDLED]
    return [list(g) for _k, g in itertools.groupby(wanted, key=lambda e: (e.type, e.at))]


def as_booking(data: dict) -> types.SimpleNamespace:
    """An event's payload with the attributes `ical.event` reads."""
    return types.SimpleNamespace(
        **data,
        start_at=dt.datetime.fromisoformat(data["start"]),
        end_at=dt.datetime.fromisoformat(data["end"]),
        updated_at=None,
    )


@contextlib.contextmanager
def speaking(locale: str, timezone: str):
    tokens = i18n.current_locale.set(locale), i18n.site_timezone.set(timezone)
    try:
        yield
    finally:
        i18n.current_locale.reset(tokens[0])
        i18n.site_timezone.reset(tokens[1])


class Notices:
    def __init__(self, settings):
        self.settings = settings
        self.email = settings.smtp is not None
        self.tz = ZoneInfo(settings.timezone)
        self.sender = settings.mail_from
        self.site = parseaddr(settings.mail_from)[1]
        self.host = ical.calendar_host(settings, "signage")

    # ------------------------------------------------------------ which mails

    async def change(self, s, group: list) -> int:
        kind, at = group[0].type, group[0].at
        key = f"{kind}@{at.isoformat()}"
        queued = 0
        if kind == "booking.minutes_added":  # one occurrence each, no calendar
            for e in group:
                queued += await self.minutes(s, e)
            return queued
        if kind == "booking.materials_added":  # the bell only
            for e in group:
                await self.materials(s, e)
            return 0
        by_series: dict[int | None, list] = {}
        for e in group:
            by_series.setdefault(e.data.get("series_id"), []).append(e)
        for series_id, events in by_series.items():
            if series_id is None:
                for e in events:
                    queued += await self.single(s, kind, key, e)
            else:
                queued += await self.series(s, kind, key, series_id, events)
        return queued

    async def single(self, s, kind: str, key: str, e) -> int:
        data, uid = e.data, f"booking-{e.data['id']}@{self.host}"
        if kind in ORGANIZER_NOTICES:
            return await self.to_organizer(s, ORGANIZER_NOTICES[kind], e)
        if kind == "booking.cancelled":
            return await self.cancel(s, uid, key, e, as_booking(data), data["attendees"])
        if data["status"] != "confirmed":
            return 0
        told = 0
        if kind in ALSO_TO_ORGANIZER and organizer_told(e):
            told = await self.to_organizer(s, ALSO_TO_ORGANIZER[kind], e)
        if not data["attendees"]:  # nobody to invite: the calendar state all the same (the iCalendar feeds)
            sequence = await self.next_sequence(s, uid, key)
            if sequence is not None:
                self.sent_as(await self.invitation(s, uid), None, sequence)
            return told
        vevent = await self.vevent(s, as_booking(data), uid, data["attendees"])
        return told + await self.request(s, uid, key, e, vevent, data["attendees"])

    async def series(self, s, kind: str, key: str, series_id: int, events: list) -> int:
        uid = f"series-{series_id}@{self.host}"
        ids = [e.data["id"] for e in events]
        known = {o.booking_id: o for o in (await s.scalars(select(Occurrence).where(Occurrence.booking_id.in_(ids))))}
        if kind == "booking.created":
            for e in events:
                if e.data["id"] not in known:
                    known[e.data["id"]] = Occurrence(
                        booking_id=e.data["id"], series_id=series_id, slot=as_booking(e.data).start_at
                    )
                    s.add(known[e.data["id"]])
            await s.flush()
        if kind in ORGANIZER_NOTICES:
            return await self.to_organizer(s, ORGANIZER_NOTICES[kind], events[0])  # one notice for the series
        queued = 0
        approved = [e for e in events if e.data["status"] == "confirmed"]
        if kind in ALSO_TO_ORGANIZER and approved and organizer_told(approved[0]):
            queued += await self.to_organizer(s, ALSO_TO_ORGANIZER[kind], approved[0], whole=len(approved) > 1)
        if kind == "booking.updated":  # "this and following" split them off another series: that one is shorter
            for old in sorted({o.series_id for o in known.values() if o.series_id != series_id}):
                old_uid, e = f"series-{old}@{self.host}", events[0]
                if await s.scalar(select(Booking.id).where(Booking.series_id == old, Booking.status.in_(ACTIVE))):
                    queued += await self.whole_series(s, old_uid, key, old, e)
                else:  # every occurrence left it
                    queued += await self.cancel(s, old_uid, key, e, as_booking(e.data), e.data["attendees"])
            for o in known.values():
                o.series_id = series_id
        invitation = await self.invitation(s, uid)
        if kind == "booking.cancelled":
            if invitation is None or invitation.cancelled:
                return queued
            remaining = await s.scalar(
                select(Booking.id).where(Booking.series_id == series_id, Booking.status.in_(ACTIVE))
            )
            if remaining is None:  # the whole series
                e = events[0]
                return queued + await self.cancel(
                    s, uid, key, e, await self.master_of(s, series_id), e.data["attendees"]
                )
            if len(events) == 1:  # one occurrence
                e = events[0]
                return queued + await self.cancel(s, uid, key, e, as_booking(e.data), e.data["attendees"], known)
            return queued + await self.whole_series(s, uid, key, series_id, events[0])  # this and following
        if not any(e.data["status"] == "confirmed" for e in events):
            return queued
        if kind == "booking.updated" and invitation is not None and len(events) == 1 and events[0].data["detached"]:
            e = events[0]
            vevent = await self.vevent(s, as_booking(e.data), uid, e.data["attendees"])
            vevent.add("recurrence-id", self.slot(e, known).astimezone(self.tz))
            occurrence = known.get(e.data["id"])
            return queued + await self.request(s, uid, key, e, vevent, e.data["attendees"], occurrence)
        return queued + await self.whole_series(s, uid, key, series_id, events[0])

    async def whole_series(self, s, uid: str, key: str, series_id: int, e) -> int:
        """A REQUEST of the series' VEVENT as it is now (RRULE, EXDATEs)."""
        series = await s.get(Series, series_id)
        members = (await s.scalars(select(Booking).where(Booking.series_id == series_id))).all()
        if series is None or not any(m.active for m in members):
            return 0
        first = min((m for m in members if m.active), key=lambda m: m.start_at)
        people = [a for a in await self.attendees(s, first.id)]
        rooms = {r.id: r for r in (await s.scalars(select(Room).where(Room.id.in_({m.room_id for m in members}))))}
        kept = set(
            (
                await s.scalars(
                    select(Occurrence.slot).where(
                        Occurrence.booking_id.in_([m.id for m in members if m.detached and m.active])
                    )
                )
            ).all()
        )
        sequence = await self.next_sequence(s, uid, key)
        if sequence is None:
            return 0
        (await self.invitation(s, uid)).master_sequence = sequence
        master, _slots, _active = ical.series_master(
            series,
            list(members),
            rooms,
            self.tz,
            uid,
            kept,
            sequence=sequence,
            organizer=await self.organizer(s, first.organizer_id),
            attendees=self.calendar_people(people),
            description=first.notes,
            stamp=e.at,
        )
        kind = "invitation" if sequence == 0 else "update"
        return await self.queue(s, kind, "REQUEST", master, first, people, e, f"series:{series_id}")

    async def master_of(self, s, series_id: int):
        members = (await s.scalars(select(Booking).where(Booking.series_id == series_id))).all()
        first = min(members, key=lambda m: m.start_at)
        return first

    def slot(self, e, known: dict) -> dt.datetime:
        o = known.get(e.data["id"])
        return o.slot if o is not None else as_booking(e.data).start_at

    # ------------------------------------------------------------ the calendar objects

    @staticmethod
    async def invitation(s, uid: str) -> Invitation | None:
        """The UID's calendar state, read once per delivery (`preload` reads a change's at once)."""
        known = s.info.setdefault(INVITATIONS, {})
        if uid not in known:
            known[uid] = await s.get(Invitation, uid)
        return known[uid]

    def uid_of(self, e) -> str:
        """The calendar object an event's booking is sent as: its series', or its own."""
        series_id = e.data.get("series_id")
        return f"series-{series_id}@{self.host}" if series_id else f"booking-{e.data['id']}@{self.host}"

    @staticmethod
    async def preload(s, uids: list[str]) -> None:
        known = s.info.setdefault(INVITATIONS, {})
        if wanted := list(dict.fromkeys(u for u in uids if u not in known)):
            known.update(dict.fromkeys(wanted))
            known.update({i.uid: i for i in await s.scalars(select(Invitation).where(Invitation.uid.in_(wanted)))})

    async def next_sequence(self, s, uid: str, key: str, cancel: bool = False) -> int | None:
        """0 for the first mail of a UID, then one more for each change; None when this change
        was sent already (a change whose events came in two batches)."""
        invitation = await self.invitation(s, uid)
        if invitation is None:
            if cancel:
                return None  # never invited: nothing to cancel
            s.info[INVITATIONS][uid] = Invitation(uid=uid, sequence=0, last_change=key)
            s.add(s.info[INVITATIONS][uid])
            return 0
        if invitation.last_change == key:
            return None
        invitation.sequence += 1
        invitation.last_change = key
        return invitation.sequence

    async def vevent(self, s, b, uid: str, people: list[dict]) -> icalendar.Event:
        room = await s.get(Room, b.room_id) or types.SimpleNamespace(name="")
        return ical.event(
            b,
            room,
            self.tz,
            uid,
            organizer=await self.organizer(s, b.organizer_id),
            attendees=self.calendar_people(people),
            description=b.notes,
        )

    async def request(
        self, s, uid: str, key: str, e, vevent: icalendar.Event, people: list[dict], occurrence=None
    ) -> int:
        sequence = await self.next_sequence(s, uid, key)
        if sequence is None:
            return 0
        if "recurrence-id" not in vevent or occurrence is not None:
            self.sent_as(await self.invitation(s, uid), occurrence, sequence)
        vevent.add("sequence", sequence)
        vevent["dtstamp"] = icalendar.vDDDTypes(e.at)
        kind = "invitation" if sequence == 0 else "update"
        return await self.queue(s, kind, "REQUEST", vevent, as_booking(e.data), people, e, e.subject)

    async def cancel(self, s, uid: str, key: str, e, b, people: list[dict], known: dict | None = None) -> int:
        sequence = await self.next_sequence(s, uid, key, cancel=True)
        if sequence is None:
            return 0
        vevent = ical.event(
            b,
            await s.get(Room, b.room_id) or types.SimpleNamespace(name=""),
            self.tz,
            uid,
            sequence=sequence,
            organizer=await self.organizer(s, b.organizer_id),
            attendees=self.calendar_people(people),
            stamp=e.at,
            status="CANCELLED",
        )
        invitation = await self.invitation(s, uid)
        if known is not None:
            vevent.add("recurrence-id", self.slot(e, known).astimezone(self.tz))
            if e.data["id"] in known:
                self.sent_as(invitation, known[e.data["id"]], sequence)
        else:
            invitation.cancelled = True
            invitation.master_sequence = sequence
        return await self.queue(s, "cancellation", "CANCEL", vevent, as_booking(e.data), people, e, e.subject)

    @staticmethod
    def sent_as(invitation: Invitation, occurrence: Occurrence | None, sequence: int) -> None:
        """The SEQUENCE a VEVENT went out with: the whole one's, or one occurrence's."""
        if occurrence is not None:
            occurrence.sequence = sequence
        else:
            invitation.master_sequence = sequence

    def calendar_people(self, people: list) -> list[tuple[str, str, str]]:
        return [(p["name"], p["email"], p["role"]) for p in people if p["email"]]

    async def attendees(self, s, booking_id: int) -> list[dict]:
        found = await s.scalars(select(Attendee).where(Attendee.booking_id == booking_id).order_by(Attendee.id))
        return [{"name": a.name, "email": a.email, "role": a.role, "user_id": a.user_id} for a in found]

    async def organizer(self, s, user_id: int | None) -> tuple[str, str]:
        """ORGANIZER: the site's address, with the organizer's name."""
        user = await s.get(User, user_id) if user_id else None
        return ((user.name or user.email) if user else ""), self.site

    # ------------------------------------------------------------ the mails

    async def queue(self, s, kind: str, method: str, vevent, b, people: list[dict], e, about: str) -> int:
        addressed = [person for person in await self.addressed(s, people) if await self.reached(s, kind, person)]
        if not addressed:  # nobody to tell: no calendar made
            return 0
        cal = icalendar.Calendar()
        cal.add("prodid", "-//Signage//Meeting rooms//EN")
        cal.add("version", "2.0")
        cal.add("method", method)
        cal.add_component(vevent)
        ical.add_timezones(cal)
        calendar = cal.to_ical()
        room = await s.get(Room, b.room_id)
        organizer = (await self.organizer(s, b.organizer_id))[0]
        series = await s.get(Series, b.series_id) if b.series_id else None
        whole = "recurrence-id" not in vevent and series is not None
        if whole:  # the answer links: for every occurrence, until the last one ends
            answers = (
                "series",
                series.id,
                await s.scalar(select(func.max(Booking.end_at)).where(Booking.series_id == series.id)),
            )
        else:
            answers = ("booking", b.id, b.end_at)
        queued = 0
        for person in addressed:
            if method == "REQUEST" and person["email"]:
                person["links"] = answer_links(
                    self.settings, *answers[:2], person["email"], answers[2], person["locale"]
                )
            with speaking(person["locale"], self.settings.timezone):
                subject, text, html = await self.texts(s, kind, b, room, organizer, whole, person, calendar=True)
                self.tell(s, kind, b.id, person, subject)
                queued += await self.add(s, kind, about, e, person, subject, text, html, calendar, method)
        return queued

    async def to_organizer(self, s, kind: str, e, whole: bool = False) -> int:
        """A notice to the organizer alone, without a calendar: rejection, approval, no_show."""
        data = e.data
        user = await s.get(User, data["organizer_id"]) if data["organizer_id"] else None
        if user is None or not user.email:
            return 0
        b = as_booking(data)
        room = await s.get(Room, b.room_id)
        person = {
            "name": user.name,
            "email": user.email,
            "locale": self.locale_of(user),
            "user_id": user.id,
            "contacts": routing.contacts_of(user),
        }
        if not await self.reached(s, kind, person):
            return 0
        with speaking(person["locale"], self.settings.timezone):
            subject, text, html = await self.texts(s, kind, b, room, user.name or user.email, whole, person)
            self.tell(s, kind, b.id, person, subject)
            return await self.add(s, kind, e.subject, e, person, subject, text, html, None, "")

    async def reminder(self, s, b: Booking, now: dt.datetime, lead: int | None = None) -> int:
        """A reminder of a meeting to come, to its attendees and its organizer (signage/notify/reminders.py):
        to those reminded `lead` minutes before (their own setting, else the site's)."""
        people = await self.attendees(s, b.id)
        if b.organizer_id:
            people.append({"name": "", "email": "", "role": "chair", "user_id": b.organizer_id})
        room = await s.get(Room, b.room_id)
        organizer = (await self.organizer(s, b.organizer_id))[0]
        e = types.SimpleNamespace(id=None, at=now)
        queued = 0
        for person in await self.addressed(s, people):
            if lead is not None and person["reminder"] != lead:
                continue
            if not person["reminder"]:
                continue  # the user wants none
            if not await self.reached(s, "reminder", person):
                continue
            with speaking(person["locale"], self.settings.timezone):
                subject, text, html = await self.texts(s, "reminder", b, room, organizer, False, person)
                self.tell(s, "reminder", b.id, person, subject)
                queued += await self.add(s, "reminder", f"booking:{b.id}", e, person, subject, text, html, None, "")
        return queued

    async def minutes(self, s, e) -> int:
        """To every attendee with an address: the minutes are there (their names), in their language."""
        b = as_booking(e.data)
        room = await s.get(Room, b.room_id)
        actor = e.actor.removeprefix("user:")
        by, _address = await self.organizer(s, int(actor) if actor.isdigit() else e.data.get("organizer_id"))
        organizer, _address = await self.organizer(s, e.data.get("organizer_id"))
        queued = 0
        for person in await self.addressed(s, e.data["attendees"]):
            if not await self.reached(s, "minutes", person):
                continue
            with speaking(person["locale"], self.settings.timezone):
                extra = {"added_by": by or organizer, "files": ", ".join(e.data["files"])}
                subject, text, html = await self.texts(s, "minutes", b, room, organizer, False, person, extra=extra)
                self.tell(s, "minutes", b.id, person, subject)
                queued += await self.add(s, "minutes", e.subject, e, person, subject, text, html, None, "")
        return queued

    async def materials(self, s, e) -> None:
        """In the bell of each attendee and the organizer who is a user (but the one who added
        them): new materials, their names, in their language."""
        b, data = as_booking(e.data), e.data
        people = [*data["attendees"]]
        if data.get("organizer_id"):
            people.append({"name": "", "email": "", "role": "chair", "user_id": data["organizer_id"]})
        actor = e.actor.removeprefix("user:")
        for person in await self.addressed(s, people):
            if not person["user_id"] or str(person["user_id"]) == actor:
                continue
            with speaking(person["locale"], self.settings.timezone):
                subject = i18n.gettext(
                    "New materials for %(title)s (%(when)s): %(files)s",
                    title=b.title,
                    when=self.when(b),
                    files=", ".join(data["files"]),
                )
            self.tell(s, "materials", b.id, person, subject)

    async def addressed(self, s, people: list[dict]) -> list[dict]:
        """Each recipient once (by email, else by phone), with where they are reached, a
        language and how long before a meeting they are reminded."""
        ids = {p["user_id"] for p in people if p.get("user_id")}
        users = {u.id: u for u in (await s.scalars(select(User).where(User.id.in_(ids))))} if ids else {}
        out, seen = [], set()
        for p in people:
            user = users.get(p.get("user_id"))
            email = (p["email"] or (user.email if user else "")).strip()
            phone = (p.get("phone") or "").strip()
            key = email.lower() or (f"user:{user.id}" if user else "") or f"phone:{phone}" * bool(phone)
            if key and key not in seen:
                seen.add(key)
                lead = user.reminder_minutes if user is not None and user.reminder_minutes is not None else None
                out.append(
                    {
                        "name": p["name"],
                        "email": email,
                        "locale": self.locale_of(user),
                        "user_id": user and user.id,
                        "contacts": routing.contacts_of(user, email, phone),
                        "reminder": self.settings.reminder_minutes if lead is None else lead,
                    }
                )
        return out

    def locale_of(self, user) -> str:
        if user is not None and user.locale in i18n.LOCALES:
            return user.locale
        return self.settings.default_locale

    def tell(self, s, kind: str, booking_id: int, person: dict, subject: str) -> None:
        """The user's own notice (the bell), whether email is on or not."""
        if person.get("user_id"):
            inbox.add(s, person["user_id"], kind, f"booking:{booking_id}", subject)

    async def reached(self, s, kind: str, person: dict) -> bool:
        """Whether a notice of `kind` reaches the person anywhere: on a channel (`person["plan"]`:
        (channel, address) each) or, for a user, in their bell. One who is reached nowhere (a
        guest, with email off) costs no text. The site's channels and each user's choices are
        read once per delivery."""
        cache = s.info.setdefault(ROUTING, {})
        if "site" not in cache:
            cache["site"] = await routing.load(s, self.settings)
        key = (person.get("user_id"), kind)
        if key not in cache:
            cache[key] = await routing.chosen(s, cache["site"], person.get("user_id"), kind)
        person["plan"] = routing.plan(cache["site"], cache[key], person["contacts"])
        return bool(person["plan"] or person.get("user_id"))

    async def add(self, s, kind, about, e, person, subject, text, html, calendar, method) -> int:
        """The messages of one notice to one person, queued in the outbox: on each channel
        they chose for the kind (else the site's defaults), or its fallback where they cannot
        be reached on it (signage/notify/routing.py). Returns how many."""
        await self.reached(s, kind, person)
        contacts, variables = person["contacts"], person.get("variables") or {}
        queued = 0
        for channel, address in person["plan"]:
            if channel == routing.EMAIL:
                queued += self.add_mail(s, kind, about, e, person, subject, text, html, calendar, method)
                continue
            s.add(
                await routing.short_message(
                    s,
                    text=person.get("short"),
                    channel=channel,
                    kind=kind,
                    about=about,
                    event_id=e.id,
                    user_id=person.get("user_id"),
                    recipient=address,
                    locale=person["locale"],
                    variables=variables,
                    contacts=contacts,
                    tried=[],
                )
            )
            queued += 1
        return queued

    def add_mail(self, s, kind, about, e, person, subject, text, html, calendar, method) -> int:
        """The mail, queued in the outbox."""
        try:
            to = mail.address(person["name"], person["email"])
        except (ValueError, IndexError):
            log.warning("notifications: %r is not an email address; not sent", person["email"])
            return 0
        mid = mail.message_id(self.host)
        body = mail.build(
            sender=self.sender,
            to=to,
            subject=subject,
            text=text,
            html=html,
            mid=mid,
            calendar=calendar,
            method=method,
            when=e.at,
        )
        s.add(
            Message(
                channel="email",
                kind=kind,
                about=about,
                event_id=e.id,
                recipient=str(to),
                subject=subject[:300],
                key=mid,
                body=body,
                user_id=person.get("user_id"),
                data=routing.data_of(
                    person["locale"], person.get("variables") or {}, person["contacts"], ["email"], person.get("short")
                ),
            )
        )
        return 1

    async def texts(
        self, s, kind: str, b, room, organizer: str, whole: bool, person: dict, calendar: bool = False, extra=None
    ):
        """Subject, text and HTML, from the kind's template, in the language set around the call
        (`extra`: the variables of one kind, as who added the minutes and their files)."""
        variables = self.variables(b, room, organizer, whole, person) | (extra or {})
        person["variables"] = variables  # the other channels' short text says the same
        cache, locale = s.info.setdefault(ROUTING, {}), i18n.current_locale.get()
        if (kind, locale) not in cache:  # one read per delivery
            cache[(kind, locale)] = await texts.current(s, kind, "email", locale)
        template = cache[(kind, locale)]
        try:
            text = texts.render_text(template, variables)
        except Exception:  # an admins' template that no longer renders: the default says it
            log.warning("notifications: the %s template does not render; the default is used", kind, exc_info=True)
            text = texts.render_text(texts.default(kind), variables)
        return texts.mail_parts(text, person.get("links") or {}, calendar)

    def variables(self, b, room, organizer: str, whole: bool, person: dict) -> dict:
        """The documented variables (texts.VARIABLES) of one notice to one person."""
        start = b.start_at.astimezone(self.tz)
        return {
            "name": person["name"] or person["email"],
            "title": b.title,
            "when": self.when(b),
            "start": f"{start:%H:%M}",
            "room": room.name if room else "",
            "organizer": organizer,
            "notes": b.notes or "",
            "reason": b.reason or "",
            "series": whole,
            "minutes": max(0, round((b.start_at - clock.now()).total_seconds() / 60)),
            "added_by": "",
            "files": "",
        }

    def when(self, b) -> str:
        """`2026年12月3日 09:00–10:00` in the recipient's language and the site's zone."""
        from babel import dates

        locale = i18n.current_locale.get()
        start, end = b.start_at.astimezone(self.tz), b.end_at.astimezone(self.tz)
        day = dates.format_date(start.date(), format="full", locale=locale)
        span = f"{start:%H:%M}–{end:%H:%M}" if start.date() == end.date() else f"{start:%H:%M} – {end:%Y-%m-%d %H:%M}"
        return f"{day} {span}"
