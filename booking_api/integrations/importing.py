"""An import run: an OA's rows → bookings, through the normal booking paths.

    run = await run_import(app, source_id, dry_run=False)

Each row is mapped by the source's `mapping` (our field → their key or column; a dotted
key reads into nested JSON): `external_id`, `room` (a room's name or id), `title`, `start`,
`end` (ISO 8601 text, a database datetime, or Unix seconds; without an offset: the site's
time zone), optional `attendees` (emails, a list or comma-separated), `notes`, and
`status` (cancelled, canceled, deleted, 0 or false cancel the booking). Then, by external
id (unique per source): a new one is booked (`create_booking`: the room's rules and
approval apply, events and audit are written, attendees are invited), a changed one is
changed, a cancelled one cancelled, an unchanged one left alone, so a second run of the
same rows changes nothing. The bookings are the source's user's (`organizer_id`).

A dry run reads and maps the same way and says what it would do (`plan`), writing no
booking. Every run is recorded (`ImportRun`) with its counts and each row it could not
map or book (`errors`), never dropping one silently.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from starlette.requests import Request

from booking_api.bookings.bookings import (
    AttendeeIn,
    BookingIn,
    attendees_of,
    by_external_id,
    cancel_booking,
    create_booking,
    unchanged,
    wanted_times,
)
from booking_api.integrations import readers
from booking_api.integrations.models import ImportRun, ImportSource
from booking_api.models import Room, booking_json
from signage import clock
from signage.db import utcnow
from signage.errors import AppError
from signage.models import User
from signage.periodic import Periodic

log = logging.getLogger("signage.imports")

CANCELLED = {"cancelled", "canceled", "cancel", "deleted", "0", "false", "no"}
PLAN_ROWS = 500
CHECK_SECONDS = 30.0


class Unmappable(Exception):
    """A row that cannot become a booking: the message says which field and why."""


def pick(row, key: str):
    for part in key.split("."):
        if isinstance(row, dict) and part in row:
            row = row[part]
        else:
            return None
    return row


def to_time(value, tz: ZoneInfo, field: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        t = dt.datetime.fromtimestamp(value, dt.UTC)
    elif isinstance(value, str) and value.strip():
        try:
            t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise Unmappable(f"{field}: {value!r} is not a time (ISO 8601, e.g. 2026-12-03 09:00)") from None
    else:
        raise Unmappable(f"{field}: missing")
    return t.replace(tzinfo=tz) if t.tzinfo is None else t


def emails(value) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    return [str(e).strip() for e in items if str(e).strip()]


def map_row(row: dict, source: ImportSource, rooms: dict[str, int], tz: ZoneInfo) -> tuple[BookingIn, bool]:
    """(the booking asked for, whether it is cancelled); Unmappable says what is wrong."""
    if not isinstance(row, dict):
        raise Unmappable("the row is not an object")
    m = source.mapping
    got = {field: pick(row, key) for field, key in m.items() if key}
    external_id = str(got.get("external_id") or "").strip()
    if not external_id:
        raise Unmappable(f"external_id: missing ({m.get('external_id')!r})")
    room = str(got.get("room") or "").strip()
    room_id = rooms.get(room.lower())
    if room_id is None:
        raise Unmappable(f"room: no room is called {room!r}")
    status = str(got.get("status") if got.get("status") is not None else "").strip().lower()
    try:
        body = BookingIn(
            room_id=room_id,
            title=str(got.get("title") or "").strip() or "—",
            start=to_time(got.get("start"), tz, "start").isoformat(),
            end=to_time(got.get("end"), tz, "end").isoformat(),
            attendees=[AttendeeIn(name=e.split("@")[0], email=e) for e in emails(got.get("attendees"))],
            notes=str(got.get("notes") or "")[:5000],
            external_id=external_id[:200],
            external_source=source.name,
        )
    except ValueError as exc:  # pydantic's: a field too long, an end before the start …
        raise Unmappable(str(exc).splitlines()[0] if str(exc) else "not valid") from None
    return body, status in CANCELLED


def acting(app, user: User) -> Request:
    """A request of the source's user, for the booking paths (they read user, app, client)."""
    request = Request({"type": "http", "app": app, "method": "POST", "path": "/import", "headers": [],
                       "query_string": b"", "client": ("importer", 0), "state": {}})  # fmt: skip
    request.state.user = user
    return request


async def room_names(db) -> dict[str, int]:
    async with db.session() as s:
        found = (await s.execute(select(Room.id, Room.name))).all()
    return {**{name.lower(): rid for rid, name in found}, **{str(rid): rid for rid, _name in found}}


async def apply(request: Request, body: BookingIn, cancelled: bool, dry_run: bool, tz) -> str:
    """What was (or would be) done: created, changed, cancelled or unchanged."""
    db = request.app.state.db
    found = await by_external_id(db, body.external_source, body.external_id)
    active = found is not None and found.active
    if cancelled:
        if not active:
            return "unchanged"
        if not dry_run:
            await cancel_booking(request, found.id, "this", "cancelled in the OA")
        return "cancelled"
    if active:
        async with db.session() as s:
            now = booking_json(found, (await attendees_of(s, [found.id])).get(found.id))
        if unchanged(now, body, wanted_times(body, tz)):
            return "unchanged"
    if not dry_run:
        await create_booking(request, body)
    return "changed" if active else "created"


async def run_import(app, source_id: int, dry_run: bool = False) -> ImportRun:
    db, settings = app.state.db, app.state.settings
    tz = ZoneInfo(settings.timezone)
    async with db.session() as s:
        source = await s.get(ImportSource, source_id)
        user = await s.get(User, source.organizer_id) if source else None
    run = ImportRun(source_id=source_id, dry_run=dry_run, started_at=utcnow(), errors=[], plan=[], failure="",
                    rows=0, created=0, changed=0, cancelled=0, unchanged=0)  # fmt: skip
    newest = None
    try:
        if source.kind == "http":
            rows = await readers.read_http(source, settings.webhook_allow_private)
        else:
            rows = await readers.read_database(source, settings.webhook_allow_private)
    except readers.SourceError as exc:
        rows, run.failure = [], str(exc)
    rooms = await room_names(db) if rows else {}
    request = acting(app, user) if user is not None else None
    if rows and (request is None or not user.is_active):
        rows, run.failure = [], "the source's user is gone or deactivated"
    for n, row in enumerate(rows, 1):
        if source.updated_column and isinstance(row, dict) and row.get(source.updated_column) is not None:
            newest = row[source.updated_column]
        external_id = str(pick(row, source.mapping.get("external_id", "")) or "") if isinstance(row, dict) else ""
        try:
            body, cancelled = map_row(row, source, rooms, tz)
            action = await apply(request, body, cancelled, dry_run, tz)
        except (Unmappable, AppError) as exc:
            message = exc.message if isinstance(exc, AppError) else str(exc)
            run.errors.append({"row": n, "external_id": external_id, "error": message})
            continue
        setattr(run, action, getattr(run, action) + 1)
        if dry_run and action != "unchanged" and len(run.plan) < PLAN_ROWS:
            run.plan.append({"action": action, "external_id": body.external_id, "title": body.title})
    run.rows, run.finished_at = len(rows), utcnow()
    async with db.begin() as s:
        s.add(run)
        if not dry_run:
            values: dict = {"next_run_at": clock.now() + dt.timedelta(minutes=source.every_minutes)}
            if newest is not None:
                values["cursor"] = newest.isoformat() if isinstance(newest, dt.datetime) else str(newest)
            await s.execute(update(ImportSource).where(ImportSource.id == source_id).values(**values))
    return run


class Imports(Periodic):
    """Runs each source every `every_minutes`, in every process: a run is claimed by moving
    the source's `next_run_at` on (one UPDATE, so two processes never take the same run).
    Due sources are looked for every `every` seconds, and at once when `wake()` is called
    (a source added or changed in this process). Times are `signage.clock`'s, so the test
    clock moves the schedule too."""

    name, every = "imports", CHECK_SECONDS

    async def due(self) -> None:
        db, now = self.app.state.db, clock.now()
        async with db.session() as s:
            found = (
                await s.execute(
                    select(ImportSource.id, ImportSource.every_minutes, ImportSource.next_run_at).where(
                        ImportSource.every_minutes > 0
                    )
                )
            ).all()
        for source_id, every, next_at in found:
            if next_at is not None and next_at > now:
                continue
            if await self.claim(ImportSource.id == source_id, ImportSource.next_run_at, next_at, now, every):
                await run_import(self.app, source_id)
