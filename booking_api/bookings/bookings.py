"""Bookings (SPEC B2): create, edit, cancel, one at a time or a recurring series.

The guarantee: no two active bookings of one room block overlapping times. Every
write runs in one transaction (`db.begin()`): on SQLite that is BEGIN IMMEDIATE,
so the overlap check below and the insert that follows cannot interleave with
another writer; on PostgreSQL the exclusion constraint refuses what a concurrent
transaction slipped in, and that refusal becomes the same 409.

A single new booking (the hot path of OA systems) goes through `booking_api.bookings.writer`,
which keeps the same guarantee with fewer round trips; series, edits and
cancellations go through the ORM here.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Literal
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from booking_api.bookings import changes, recurrence, rules, writer
from booking_api.bookings.visibility import Viewer
from booking_api.models import STATUSES, Attendee, Booking, IdempotencyKey, Room, Series, booking_json
from booking_api.rooms.rooms import get_room, may_manage
from signage import audit, clock, idempotency, openapi
from signage.api import (
    DAY,
    EMPTY,
    ID_PARAM,
    MOMENT,
    PAGING,
    Id,
    Keyset,
    When,
    check_match,
    etag,
    if_match,
    int_param,
    json_body,
    param,
    parse,
    reasonable_year,
    refuse_unknown,
    tagged,
)
from signage.auth import SIGNED_IN, route
from signage.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from signage.i18n import gettext as _
from signage.models import User
from signage.responses import JSONResponse, created

Scope = Literal["this", "following", "series"]
EXCLUSION_VIOLATION = "23P01"  # PostgreSQL's SQLSTATE: the exclusion constraint refused an overlap
DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE: deadlock detected (this transaction was aborted)


def _iso_text(value):
    if not isinstance(value, str):
        raise ValueError("give the time as ISO 8601 text with an offset, e.g. 2026-11-25T09:00:00+08:00")
    return value


class AttendeeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=50)
    role: Literal["chair", "required", "optional"] = "required"
    user_id: Id | None = Field(None, description="set when the attendee is a user of the system; else a guest")


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    room_id: Id
    title: str = Field(min_length=1, max_length=200)
    start: When = Field(description="ISO 8601 with offset")
    end: When = Field(description="ISO 8601 with offset")
    attendees: list[AttendeeIn] = Field(default_factory=list, max_length=500)
    notes: str = Field("", max_length=5000)
    services: list[str] = Field(default_factory=list, max_length=20, description="wanted services, e.g. tea, projector")
    rrule: str | None = Field(None, max_length=500, description="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=10")
    on_conflict: Literal["fail", "skip"] = Field("fail", description="skip: book only the free occurrences")
    private: bool | None = Field(None, description="outsiders see only busy; default: the room's")
    external_id: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="the booking's id in your OA: sent again, it changes that booking",
    )
    external_source: str | None = Field(
        None, min_length=1, max_length=60, description='which OA (default "oa"); external_id is unique per source'
    )

    _text = field_validator("start", "end", mode="before")(_iso_text)


class BookingPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    room_id: Id | None = None
    title: str | None = Field(None, min_length=1, max_length=200)
    start: When | None = None
    end: When | None = None
    attendees: list[AttendeeIn] | None = Field(None, max_length=500)
    notes: str | None = Field(None, max_length=5000)
    services: list[str] | None = Field(None, max_length=20)
    private: bool | None = Field(None, description="outsiders see only busy")
    scope: Scope = Field("this", description="this occurrence, this and following, or the whole series")

    _text = field_validator("start", "end", mode="before")(lambda v: v if v is None else _iso_text(v))


class AttendeeOut(AttendeeIn):
    pass


class BookingOut(BaseModel):
    id: int
    room_id: int
    series_id: int | None
    title: str
    organizer_id: int | None
    start: str
    end: str
    status: Literal["pending", "confirmed", "cancelled", "rejected", "no_show"]
    reason: str
    notes: str
    services: list[str]
    detached: bool
    private: bool = Field(description="outsiders see only that the room is busy")
    limited: bool = Field(
        False,
        description="present and true when the viewer is not concerned (not organizer, attendee, room admin, service, admin) "
        "and sees the outline only: no attendees, notes or services; no title or organizer when private",
    )
    external_source: str | None = None
    external_id: str | None = None
    attendees: list[AttendeeOut]
    occurrences: list[dict] | None = None
    skipped: list[dict] | None = None


def site_tz(request: Request) -> ZoneInfo:
    return zone(request.app.state.settings.timezone)


@functools.lru_cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def wanted_times(body: BookingIn, tz: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
    start, end = body.start.astimezone(dt.UTC), body.end.astimezone(dt.UTC)
    rules.check_times(start, end)
    if body.rrule:
        return recurrence.occurrences(body.rrule, start, end, tz.key)
    return [(start, end)]


async def find_clashes(s, room: Room, times, exclude=()) -> list:
    clashes = []
    for start, end in times:
        taken = await rules.conflicts(s, room.id, start, rules.blocked_until(room, end), exclude)
        if taken:
            clashes.append((start, end, taken))
    return clashes


async def replay(s, user_id: int, key: str, print_: str) -> Response | None:
    found = await s.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key))
    if found is None:
        return None
    if found.fingerprint != print_:
        raise Invalid(_("This Idempotency-Key was used for a different request."), {"header": "Idempotency-Key"})
    return JSONResponse(found.response, status_code=found.status, headers={"Idempotent-Replayed": "true"})


async def insert_bookings(s, request: Request, body: BookingIn, room: Room, times, tz) -> tuple[list[Booking], list]:
    user = request.state.user
    for start, end in times:
        rules.check_rules(room, start, end, tz)
    clashes = await find_clashes(s, room, times)
    if clashes and (body.on_conflict == "fail" or len(clashes) == len(times)):
        raise await rules.conflict_error(s, room, clashes, max(len(body.attendees), 1), tz)
    skipped = {(c[0], c[1]) for c in clashes}
    series = None
    if body.rrule:
        series = Series(rrule=body.rrule.strip())
        s.add(series)
        await s.flush()
    status = "pending" if await changes.needs_approval(s, user, room) else "confirmed"
    made = []
    for start, end in times:
        if (start, end) in skipped:
            continue
        made.append(
            Booking(
                room_id=room.id,
                series_id=series.id if series else None,
                title=body.title.strip(),
                organizer_id=user.id,
                start_at=start,
                end_at=end,
                blocked_until=rules.blocked_until(room, end),
                status=status,
                notes=body.notes,
                services=body.services,
                private=room.private_default if body.private is None else body.private,
                external_source=body.external_source if body.external_id else None,
                external_id=body.external_id,
            )
        )
    s.add_all(made)
    await s.flush()
    for b in made:
        s.add_all(Attendee(booking_id=b.id, **a.model_dump()) for a in body.attendees)
    return made, sorted(skipped)


async def link_attendees(request: Request, attendees: list[AttendeeIn]) -> None:
    """Attendees who are users of the system: a `user_id` must be one (else 400), and an
    attendee given by the email of a user becomes that user (their invitation reaches them)."""
    ids = {a.user_id for a in attendees if a.user_id}
    emails = {a.email.strip().lower() for a in attendees if not a.user_id and a.email.strip()}
    if not ids and not emails:
        return
    async with request.app.state.db.session() as s:
        query = select(User.id, User.email).where(or_(User.id.in_(ids), User.email.in_(emails)))
        found = (await s.execute(query)).all()
    by_id = {row.id: row.email for row in found}
    by_email = {row.email: row.id for row in found}
    for n, a in enumerate(attendees):
        if a.user_id:
            if a.user_id not in by_id:
                field = f"attendees.{n}.user_id"
                raise Invalid(_("No user has this id."), [{"field": field, "message": str(a.user_id)}])
            a.email = a.email or by_id[a.user_id]
        elif a.email.strip().lower() in by_email:
            a.user_id = by_email[a.email.strip().lower()]


async def create_booking(request: Request, body: BookingIn, key: str = "", raw: bytes = b"") -> tuple[int, dict]:
    """(status, answer) for a new booking or series; Conflict (409) when the room is taken."""
    tz = site_tz(request)
    await link_attendees(request, body.attendees)
    times = wanted_times(body, tz)
    print_ = idempotency.fingerprint(request, raw) if key else ""
    if body.external_id:
        return await create_external(request, body, times, key, print_, tz)
    if not body.rrule:
        return await create_one(request, body, times[0], key, print_, tz)
    for attempt in range(3):
        try:
            return await create_series(request, body, times, key, print_, tz)
        except DBAPIError as exc:
            # PostgreSQL: two series whose occurrences overlap in another order can each wait
            # for the other's row (the exclusion check); one is aborted and simply tried again.
            if getattr(exc.orig, "sqlstate", None) != DEADLOCK or attempt == 2:
                raise
    raise AssertionError("unreachable")


async def by_external_id(db, source: str, external_id: str) -> Booking | None:
    async with db.session() as s:
        query = select(Booking).where(Booking.external_source == source, Booking.external_id == external_id)
        return await s.scalar(query)


def unchanged(now: dict, body: BookingIn, times) -> bool:
    """Whether the booking as it is (`booking_json`) is what `body` asks for."""
    people = [{k: a[k] for k in ("name", "email", "phone", "role")} for a in now["attendees"]]
    wanted = [{k: getattr(a, k) for k in ("name", "email", "phone", "role")} for a in body.attendees]
    start, end = times[0]
    return (
        (now["room_id"], now["title"], now["notes"], now["services"], people)
        == (body.room_id, body.title.strip(), body.notes, body.services, wanted)
        and dt.datetime.fromisoformat(now["start"]) == start
        and dt.datetime.fromisoformat(now["end"]) == end
    )


async def create_external(request: Request, body: BookingIn, times, key: str, print_: str, tz) -> tuple[int, dict]:
    """A booking with an OA's id: new (201), or that booking changed (200) when the OA sends
    it again: room, title, times, attendees, notes and services as sent. A cancelled one is
    made anew. One booking per external id (no series)."""
    if body.rrule:
        raise Invalid(_("A booking with an external_id is one meeting: send each occurrence with its own id."),
                      {"field": "rrule"})  # fmt: skip
    body.external_source = (body.external_source or "oa").strip()
    for _attempt in range(2):
        found = await by_external_id(request.app.state.db, body.external_source, body.external_id)
        if found is not None and found.active:
            async with request.app.state.db.session() as s:
                now = booking_json(found, (await attendees_of(s, [found.id])).get(found.id))
            if unchanged(now, body, times):
                return 200, now
            patch = BookingPatch(
                room_id=body.room_id, title=body.title, start=body.start.isoformat(), end=body.end.isoformat(),
                attendees=body.attendees, notes=body.notes, services=body.services,
            )  # fmt: skip
            await update_booking(request, found.id, patch)
            async with request.app.state.db.session() as s:
                b = await get_booking(s, found.id)
                return 200, booking_json(b, (await attendees_of(s, [b.id])).get(b.id))
        if found is not None:  # cancelled or rejected: its id is free for a new one
            async with request.app.state.db.begin() as s:
                await s.execute(update(Booking).where(Booking.id == found.id).values(external_id=None))
        try:
            return await create_series(request, body, times, key, print_, tz)
        except IntegrityError:  # the same id sent twice at once: the other one won; change it
            continue
    raise Conflict(_("This external_id is being booked at this moment; please try again."))


async def create_series(request: Request, body: BookingIn, times, key: str, print_: str, tz) -> tuple[int, dict]:
    user, db = request.state.user, request.app.state.db
    try:
        async with db.begin() as s:
            if key:
                replayed = await replay(s, user.id, key, print_)
                if replayed is not None:
                    return replayed.status_code, replayed.body  # type: ignore[return-value]
                slot = IdempotencyKey(user_id=user.id, key=key, fingerprint=print_)
                s.add(slot)
                await s.flush()  # a concurrent retry with this key waits here, then fails
            room = await get_room(s, body.room_id)
            made, skipped = await insert_bookings(s, request, body, room, times, tz)
            answer = booking_json(made[0], [Attendee(**a.model_dump()) for a in body.attendees])
            if body.rrule:
                answer["occurrences"] = [
                    {"id": b.id, "start": b.start_at.isoformat(), "end": b.end_at.isoformat(), "status": b.status}
                    for b in made
                ]
                answer["skipped"] = [{"start": a.isoformat(), "end": b.isoformat()} for a, b in skipped]
            if key:
                slot.response, slot.status = answer, 201
            await changes.record(s, "booking.created", [b.id for b in made], request, reason=made[0].status)
    except IntegrityError:
        # PostgreSQL: a concurrent transaction won (exclusion constraint) or used the same key.
        async with db.session() as s:
            if key and (replayed := await replay(s, user.id, key, print_)) is not None:
                return replayed.status_code, replayed.body  # type: ignore[return-value]
            room = await get_room(s, body.room_id)
            clashes = await find_clashes(s, room, times)
            if not clashes:
                raise
            raise await rules.conflict_error(s, room, clashes, max(len(body.attendees), 1), tz) from None
    return 201, answer


async def create_one(request: Request, body: BookingIn, times, key: str, print_: str, tz) -> tuple[int, dict]:
    """A single booking through the fast write path (`booking_api.bookings.writer`)."""
    user = request.state.user
    wanted = writer.Wanted(
        user_id=user.id,
        user_email=user.email,
        user_role=user.role,
        client=request.client.host if request.client else "",
        room_id=body.room_id,
        title=body.title.strip(),
        start=times[0],
        end=times[1],
        attendees=[a.model_dump() for a in body.attendees],
        notes=body.notes,
        services=body.services,
        private=body.private,
        key=key,
        fingerprint=print_,
        tz=tz,
    )
    for _attempt in range(3):
        result = await request.app.state.booking_writer.create(wanted)
        if isinstance(result, writer.Replay):
            return result.status, result.body  # type: ignore[return-value]
        if result != writer.CONFLICT:
            return 201, result
        async with request.app.state.db.session() as s:  # the 409, with suggestions
            room = await get_room(s, body.room_id)
            clashes = await find_clashes(s, room, [times])
            if clashes:
                raise await rules.conflict_error(s, room, clashes, max(len(body.attendees), 1), tz)
        # the clashing booking was cancelled meanwhile: try again
    raise Conflict(_("The room is busy; please try again."))


async def get_booking(s, booking_id: int, lock: bool = False) -> Booking:
    b = await s.get(Booking, booking_id, with_for_update=lock)
    if b is None:
        raise NotFound(_("No such booking."))
    return b


async def may_change(s, user, b: Booking) -> bool:
    return user.role == "admin" or b.organizer_id == user.id or await may_manage(s, user, b.room_id)


async def scope_of(s, b: Booking, scope: str, detached: bool = False) -> list[Booking]:
    """The active bookings an edit or cancel of `b` applies to. Edits of the series or of this
    and following skip occurrences changed alone (they keep their changes); cancelling takes
    them too (`detached`): a series cancelled is gone, its exceptions with it."""
    if scope == "this" or b.series_id is None:
        return [b]
    query = select(Booking).where(Booking.series_id == b.series_id, Booking.status.in_(("pending", "confirmed")))
    if scope == "following":
        query = query.where(Booking.start_at >= b.start_at)
    found = (await s.scalars(query.order_by(Booking.start_at))).all()
    return [x for x in found if detached or not x.detached or x.id == b.id] or [b]


async def update_booking(
    request: Request, booking_id: int, patch: BookingPatch, expected: str | None = None
) -> list[Booking]:
    tz, user = site_tz(request), request.state.user
    if patch.attendees:
        await link_attendees(request, patch.attendees)
    db = request.app.state.db
    # What the 409 needs, as plain values: a failed flush rolls the session back, which
    # expires its objects, and they are detached once it closes (reading them then raises).
    room_id, ids, wanted = 0, [], []
    try:
        async with db.begin() as s:
            b = await get_booking(s, booking_id)
            if not await may_change(s, user, b):
                raise Forbidden(_("Only the organizer or the room's admins may change this booking."))
            if expected is not None:
                check_match(expected, booking_json(b, (await attendees_of(s, [b.id])).get(b.id)))
            if not b.active:
                raise Conflict(_("This booking was cancelled or rejected; it cannot be changed."))
            targets = await scope_of(s, b, patch.scope)
            room = await get_room(s, patch.room_id or b.room_id)
            shift = (patch.start.astimezone(dt.UTC) - b.start_at) if patch.start else dt.timedelta()
            length = ((patch.end or b.end_at) - (patch.start or b.start_at)) if (patch.start or patch.end) else None
            moves = []
            for t in targets:
                start = t.start_at + shift
                end = start + (length if length is not None else t.end_at - t.start_at)
                moves.append((t, start.astimezone(dt.UTC), end.astimezone(dt.UTC)))
            timing = patch.start or patch.end or (patch.room_id and patch.room_id != b.room_id)
            if timing:
                for t, start, end in moves:
                    rules.check_times(start, end)
                    if (start, end, room.id) != (t.start_at, t.end_at, t.room_id):
                        rules.check_rules(room, start, end, tz)
                clashes = await find_clashes(
                    s, room, [(st, en) for _t, st, en in moves], exclude=[t.id for t in targets]
                )
                if clashes:
                    raise await rules.conflict_error(s, room, clashes, 1, tz, exclude=[t.id for t in targets])
            room_id, ids, wanted = room.id, [t.id for t in targets], [(st, en) for _t, st, en in moves]
            left = sorted({t.room_id for t in targets} - {room.id})  # read before the move
            await apply_patch(s, request, patch, room, moves)
            reason, moved = f"{patch.scope}: {len(ids)}", {"moved_from": left} if left else None
            await changes.record(
                s, "booking.updated", ids, request, moved, reason=reason, target=f"booking:{booking_id}"
            )
    except IntegrityError as exc:
        # PostgreSQL: a concurrent transaction took one of the new times first.
        if not ids or getattr(exc.orig, "sqlstate", None) != EXCLUSION_VIOLATION:
            raise
        async with db.session() as s:
            room = await get_room(s, room_id)
            clashes = await find_clashes(s, room, wanted, exclude=ids)
            if not clashes:  # the booking that took the time has moved on meanwhile
                raise Conflict(_("The room is busy; please try again.")) from None
            raise await rules.conflict_error(s, room, clashes, 1, tz, exclude=ids) from None
    return targets


async def apply_patch(s, request: Request, patch: BookingPatch, room: Room, moves) -> None:
    user = request.state.user
    series = None
    if patch.scope == "following" and moves and moves[0][0].series_id is not None:
        first = moves[0][0]
        old = await s.get(Series, first.series_id)
        series = Series(rrule=old.rrule if old else "")
        s.add(series)
        await s.flush()
        # the split takes every occurrence from here on, those changed alone too (with their changes)
        await s.execute(
            update(Booking)
            .where(Booking.series_id == first.series_id, Booking.start_at >= first.start_at)
            .values(series_id=series.id)
            .execution_options(synchronize_session="fetch")
        )
    for t, start, end in moves:
        moved = (start, end, room.id) != (t.start_at, t.end_at, t.room_id)
        t.start_at, t.end_at, t.room_id = start, end, room.id
        t.blocked_until = rules.blocked_until(room, end)
        for field in ("title", "notes", "services", "private"):
            value = getattr(patch, field)
            if value is not None:
                setattr(t, field, value.strip() if isinstance(value, str) and field == "title" else value)
        if patch.scope == "this" and t.series_id is not None:
            t.detached = True
        if series is not None:
            t.series_id = series.id
        if moved and await changes.needs_approval(s, user, room):
            t.status = "pending"
        if patch.attendees is not None:
            await s.execute(delete(Attendee).where(Attendee.booking_id == t.id))
            s.add_all(Attendee(booking_id=t.id, **a.model_dump()) for a in patch.attendees)
    await s.flush()


async def cancel_booking(
    request: Request, booking_id: int, scope: str, reason: str = "", expected: str | None = None
) -> list[Booking]:
    user = request.state.user
    async with request.app.state.db.begin() as s:
        b = await get_booking(s, booking_id)
        if not await may_change(s, user, b):
            raise Forbidden(_("Only the organizer or the room's admins may cancel this booking."))
        if expected is not None:
            check_match(expected, booking_json(b, (await attendees_of(s, [b.id])).get(b.id)))
        if not b.active:
            raise Conflict(_("This booking is already cancelled or rejected."))
        targets = await scope_of(s, b, scope, detached=True)
        for t in targets:
            t.status, t.reason, t.cancelled_at = "cancelled", reason, clock.now()
        ids, reason = [t.id for t in targets], f"{scope}: {len(targets)}"
        await changes.record(s, "booking.cancelled", ids, request, reason=reason, target=f"booking:{booking_id}")
    return targets


async def attendees_of(s, ids) -> dict[int, list[Attendee]]:
    found: dict[int, list[Attendee]] = {}
    for a in (await s.scalars(select(Attendee).where(Attendee.booking_id.in_(list(ids))).order_by(Attendee.id))).all():
        found.setdefault(a.booking_id, []).append(a)
    return found


ATTENDEES = select(Attendee.__table__).where(Attendee.booking_id.in_(bindparam("ids", expanding=True))).order_by(Attendee.id)


async def attendees_read(db, ids) -> dict[int, list]:
    """`attendees_of` on the read path (`Database.read`): rows by booking id."""
    found: dict[int, list] = {}
    if ids:
        for a in await db.read(ATTENDEES, {"ids": list(ids)}):
            found.setdefault(a.booking_id, []).append(a)
    return found


# ---------------------------------------------------------------- API


async def api_create(request: Request) -> Response:
    raw = await request.body()
    key = request.headers.get("idempotency-key", "").strip()
    if len(key) > 200:
        raise Invalid(_("The Idempotency-Key is too long (at most 200 characters)."))
    try:
        body = parse(BookingIn, await json_body(request))
        status, answer = await create_booking(request, body, key, raw)
    except AppError as exc:
        await audit.record(request, "booking.create", "", result="failure", reason=exc.message)
        raise
    if isinstance(answer, bytes):  # a replayed answer, as stored
        headers = {"Idempotent-Replayed": "true"}
        if status == 201:
            headers["Location"] = f"/api/v1/bookings/{orjson.loads(answer)['id']}"
        return Response(answer, status_code=status, media_type="application/json", headers=headers)
    if status == 201:
        return created(answer, f"/api/v1/bookings/{answer['id']}")  # audited in its own transaction
    return JSONResponse(answer, status_code=status)


async def api_check(request: Request) -> Response:
    """Which occurrences of a wanted booking are free, without writing anything."""
    body = parse(BookingIn, await json_body(request))
    tz = site_tz(request)
    times = wanted_times(body, tz)
    async with request.app.state.db.session() as s:
        room = await get_room(s, body.room_id)
        out = []
        for start, end in times:
            try:
                rules.check_rules(room, start, end, tz)
                problem = ""
            except (Invalid, Conflict) as exc:  # a rule, or the room out of service
                problem = exc.message
            taken = await rules.conflicts(s, room.id, start, rules.blocked_until(room, end))
            out.append(
                {
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "free": not taken and not problem,
                    "problem": problem or (_("Booked") if taken else ""),
                }
            )
    return JSONResponse(
        {"occurrences": out, "free": sum(o["free"] for o in out), "conflicting": sum(not o["free"] for o in out)}
    )


BOOKING = select(Booking.__table__).where(Booking.id == bindparam("id"))


async def api_get(request: Request) -> Response:
    db = request.app.state.db
    b = await db.read_one(BOOKING, {"id": request.path_params["id"]})
    if b is None:
        raise NotFound(_("No such booking."))
    people = await attendees_read(db, [b.id])
    viewer = await Viewer.read(db, request.state.user)
    return tagged(request, viewer.shown(booking_json(b, people.get(b.id))))


def _param_time(request: Request, name: str) -> dt.datetime | None:
    """`from` or `to`: an ISO 8601 time with its offset, or a day (YYYY-MM-DD) of the site:
    `from` its start, `to` its end (so `from=D&to=D` is the whole of day D)."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    message = _("%(field)s must be a day (YYYY-MM-DD) or an ISO 8601 time with an offset.", field=name)
    wrong = Invalid(message, {"field": name})
    try:
        if len(raw) == 10:  # a day
            day = dt.date.fromisoformat(raw) + dt.timedelta(days=name == "to")
            value = dt.datetime.combine(day, dt.time(), ZoneInfo(request.app.state.settings.timezone))
        else:
            value = dt.datetime.fromisoformat(raw.replace(" ", "+"))
    except (ValueError, OverflowError):  # not a time, or the day after 9999-12-31
        raise wrong from None
    if value.tzinfo is None:
        raise wrong
    try:
        return reasonable_year(value).astimezone(dt.UTC)
    except ValueError:
        raise Invalid(_("%(field)s must be between the years 1900 and 9000.", field=name), {"field": name}) from None


PAGES = Keyset("bookings", Booking.id, Booking.start_at)
LIST_PARAMS = {"room_id", "from", "to", "status", "organizer_id", "attendee", "series_id", "q", "updated_since"}


async def api_list(request: Request) -> Response:
    """Bookings by start (then id), a page at a time: `limit` (500, at most 1,000), the next
    page's `cursor` in the `Link` header."""
    refuse_unknown(request, LIST_PARAMS | PAGING.keys())
    query = select(Booking.__table__)
    for name, column in (("room_id", Booking.room_id), ("organizer_id", Booking.organizer_id),
                         ("series_id", Booking.series_id)):  # fmt: skip
        if (value := int_param(request, name)) is not None:
            query = query.where(column == value)
    start, end = _param_time(request, "from"), _param_time(request, "to")
    if start:
        query = query.where(Booking.ends_after(start))
    if end:
        query = query.where(Booking.start_at < end)
    if since := _param_time(request, "updated_since"):
        query = query.where(Booking.updated_at >= since)
    status = request.query_params.get("status")
    if status:
        if status not in STATUSES:
            raise Invalid(_("status is one of: %(statuses)s.", statuses=", ".join(STATUSES)), {"field": "status"})
        query = query.where(Booking.status == status)
    if text := request.query_params.get("q", "").strip()[:200]:
        query = query.where(Booking.title.icontains(text, autoescape=True))
    if attendee := request.query_params.get("attendee", "").strip()[:254]:
        who = (
            Attendee.user_id == int(attendee)
            if attendee.isascii() and attendee.isdigit() and len(attendee) < 10
            else (func.lower(Attendee.email) == attendee.lower())
        )
        query = query.where(Booking.id.in_(select(Attendee.booking_id).where(who)))
    db = request.app.state.db
    found, headers = PAGES.page(request, await db.read(PAGES.query(request, query)))
    people = await attendees_read(db, [b.id for b in found])
    viewer = await Viewer.read(db, request.state.user)
    shown = [viewer.shown(booking_json(b, people.get(b.id))) for b in found]
    if attendee or text:  # outsiders learn neither who attends nor a private meeting's title from a filter
        shown = [b for b in shown if not b.get("limited") or (not attendee and not b["private"])]
    return JSONResponse(shown, headers=headers)


async def api_update(request: Request) -> Response:
    booking_id = request.path_params["id"]
    try:
        patch = parse(BookingPatch, await json_body(request))
        targets = await update_booking(request, booking_id, patch, if_match(request))
    except AppError as exc:
        await audit.record(request, "booking.update", f"booking:{booking_id}", result="failure", reason=exc.message)
        raise
    async with request.app.state.db.session() as s:
        b = await get_booking(s, booking_id)
        people = await attendees_of(s, [b.id])
    data = booking_json(b, people.get(b.id))
    return JSONResponse({**data, "changed": [t.id for t in targets]}, headers={"ETag": etag(data)})


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Literal["this", "following", "series"] = "this"
    reason: str = Field("", max_length=500, description="why (the organizer and attendees are told)")


async def api_cancel(request: Request) -> Response:
    """DELETE, kept for the clients of before: the same as POST …/cancel, from the query."""
    body = parse(CancelIn, {k: v for k, v in request.query_params.items() if k in ("scope", "reason")})
    return await cancelled(request, body)


async def api_cancel_post(request: Request) -> Response:
    raw = await request.body()
    return await cancelled(request, parse(CancelIn, await json_body(request)) if raw.strip() else CancelIn())


async def cancelled(request: Request, body: CancelIn) -> Response:
    booking_id, scope, reason = request.path_params["id"], body.scope, body.reason
    try:
        targets = await cancel_booking(request, booking_id, scope, reason, if_match(request))
    except AppError as exc:
        await audit.record(request, "booking.cancel", f"booking:{booking_id}", result="failure", reason=exc.message)
        raise
    return JSONResponse({"id": booking_id, "status": "cancelled", "cancelled": [t.id for t in targets]})


class Cancelled(BaseModel):
    id: int
    status: Literal["cancelled"]
    cancelled: list[int]


class CheckOut(BaseModel):
    occurrences: list[dict]
    free: int
    conflicting: int


IF_MATCH = {
    "If-Match": param(
        "the ETag of the booking as you read it: 412 with the current ETag if it changed meanwhile",
        type="string",
        minLength=1,
    )
}
openapi.add(
    "post",
    "/api/v1/bookings",
    "Book a room (409 with suggestions when taken)",
    body=BookingIn,
    response=BookingOut,
    status=201,
    tag="bookings",
    errors=(400, 401, 403, 404, 409),
    headers={
        "Idempotency-Key": param(
            "a retried POST with the same key and body returns the first answer and books nothing",
            type="string",
            maxLength=200,
        )
    },
)
openapi.add(
    "post",
    "/api/v1/bookings/check",
    "Which occurrences are free (writes nothing)",
    body=BookingIn,
    response=CheckOut,
    tag="bookings",
)
openapi.add(
    "get",
    "/api/v1/bookings",
    "List bookings",
    response=list[BookingOut],
    tag="bookings",
    query={
        "room_id": param("a room", **ID_PARAM),
        "from": param("ISO 8601 with offset, or a day YYYY-MM-DD of the site (from its start)", anyOf=[MOMENT, DAY, EMPTY]),
        "to": param("ISO 8601 with offset, or a day YYYY-MM-DD of the site (to its end)", anyOf=[MOMENT, DAY, EMPTY]),
        "status": param("no_show: released, nobody checked in", type="string", enum=list(STATUSES)),
        "organizer_id": param("the organizer (a user id)", **ID_PARAM),
        "attendee": "an attendee: an email (any case) or a user id",
        "series_id": param("the occurrences of one series", **ID_PARAM),
        "q": "text in the title",
        "updated_since": param("changed at or after this time (ISO 8601 with offset, or a day)", anyOf=[MOMENT, DAY, EMPTY]),
        **PAGING,
    },
)
openapi.add(
    "get",
    "/api/v1/bookings/{id}",
    "A booking (with its ETag; If-None-Match answers 304 while unchanged)",
    response=BookingOut,
    tag="bookings",
    headers={"If-None-Match": "an ETag you hold: 304 when the booking is still that"},
)
openapi.add(
    "patch",
    "/api/v1/bookings/{id}",
    "Change a booking, this and following, or the series",
    body=BookingPatch,
    response=BookingOut,
    tag="bookings",
    errors=(400, 401, 403, 404, 409, 412),
    headers=IF_MATCH,
)
openapi.add(
    "post",
    "/api/v1/bookings/{id}/cancel",
    "Cancel a booking: it stays, with status cancelled (read, listed and in the event log as such)",
    body=CancelIn,
    optional_body=True,
    response=Cancelled,
    tag="bookings",
    errors=(400, 401, 403, 404, 409, 412),
    headers=IF_MATCH,
)
openapi.add(
    "delete",
    "/api/v1/bookings/{id}",
    "Cancel a booking, as POST …/cancel does: the booking is not removed, its status is cancelled",
    deprecated=True,
    response=Cancelled,
    tag="bookings",
    query={
        "scope": param("this (default), following or series", type="string", enum=["this", "following", "series"]),
        "reason": param("why", type="string", maxLength=500),
    },
    errors=(400, 401, 403, 404, 409, 412),
    headers=IF_MATCH,
)

routes = [
    route("/api/v1/bookings", api_create, methods=["POST"], allow=SIGNED_IN, own_idempotency=True),
    route("/api/v1/bookings/check", api_check, methods=["POST"], allow=SIGNED_IN),
    route("/api/v1/bookings", api_list, allow=SIGNED_IN),
    route("/api/v1/bookings/{id:id}", api_get, allow=SIGNED_IN),
    route("/api/v1/bookings/{id:id}", api_update, methods=["PATCH"], allow=SIGNED_IN),
    route("/api/v1/bookings/{id:id}", api_cancel, methods=["DELETE"], allow=SIGNED_IN),
    route("/api/v1/bookings/{id:id}/cancel", api_cancel_post, methods=["POST"], allow=SIGNED_IN),
]
