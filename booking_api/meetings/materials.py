"""A meeting's files: materials before it, minutes and resolutions after it (SPEC B7).

    POST   /api/v1/bookings/{id}/materials             multipart "files" (one or more), "kind" = before | minutes
                                                       [, "scope" = this | series] → 201 {"items": [...]}
    GET    /api/v1/bookings/{id}/materials             → {"items": [...]}, the occurrence's and its series'
    DELETE /api/v1/bookings/{id}/materials/{file_id}   → 204
    GET    /bookings/{id}/materials/{file_id}          the file, as an attachment
    GET    /bookings/{id}/materials/{file_id}/preview  its first page (PDF) or the image, WebP

Only those concerned with the meeting (`Viewer.concerned`) reach any of these; anyone
else gets 404, as if the meeting had no files. Materials may be added by the
organizer, the attendees and the room's admins; minutes by the organizer and the
room's admins (admins always may). A file may be removed by whoever added it, the
organizer and the room's admins. Downloads carry `Content-Disposition: attachment`,
a sandbox CSP and `nosniff`, and are not cached by shared caches.
"""

from __future__ import annotations

import dataclasses

from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from booking_api.bookings.bookings import attendees_of
from booking_api.bookings.visibility import Viewer
from booking_api.meetings import store
from booking_api.meetings.models import KINDS, Material, MaterialFile
from booking_api.models import Booking, booking_json
from media.uploads import clean_name
from signage import audit, openapi, topics
from signage.auth import SIGNED_IN, route
from signage.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from signage.eventlog import log as eventlog
from signage.eventlog.log import actor_of
from signage.i18n import gettext as _
from signage.responses import JSONResponse, created

MAX_FILES = 20
EVENTS = {"before": "booking.materials_added", "minutes": "booking.minutes_added"}
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-cache",
}


@dataclasses.dataclass
class Meeting:
    """A booking as one concerned with it sees it, and what this user may do with its files."""

    b: Booking
    people: list
    user: object
    manages: bool  # admin, or an admin of its room

    @property
    def organizes(self) -> bool:
        return self.manages or self.b.organizer_id == self.user.id

    @property
    def attends(self) -> bool:
        email = (self.user.email or "").lower()
        return any(a.user_id == self.user.id or (email and a.email.lower() == email) for a in self.people)

    def may_add(self, kind: str) -> bool:
        return self.organizes if kind == "minutes" else self.organizes or self.attends

    def may_remove(self, m: Material) -> bool:
        return self.organizes or m.uploaded_by == self.user.id

    def owns(self, m: Material) -> bool:
        return m.booking_id == self.b.id or (m.series_id is not None and m.series_id == self.b.series_id)


def no_files() -> NotFound:
    return NotFound(_("This meeting has no such files."))


async def meeting_of(s, request: Request, booking_id: int) -> Meeting:
    """The meeting, or 404 for anyone not concerned with it (as if it had no files)."""
    b = await s.get(Booking, booking_id)
    if b is None:
        raise no_files()
    people = (await attendees_of(s, [b.id])).get(b.id, [])
    user = request.state.user
    viewer = await Viewer.of(s, user)
    if not viewer.concerned(booking_json(b, people)):
        raise no_files()
    return Meeting(b, people, user, user.role == "admin" or b.room_id in viewer.managed)


def files_of(b: Booking):
    """The materials of an occurrence: its own, and its series' (newest last)."""
    owner = Material.booking_id == b.id
    if b.series_id is not None:
        owner = or_(owner, Material.series_id == b.series_id)
    return (
        select(Material, MaterialFile)
        .join(MaterialFile, MaterialFile.id == Material.file_id)
        .where(owner)
        .order_by(Material.created_at, Material.id)
    )


def material_json(booking_id: int, m: Material, f: MaterialFile, **extra) -> dict:
    url = f"/bookings/{booking_id}/materials/{m.id}"
    return {
        "id": m.id,
        "name": m.name,
        "size": f.size,
        "kind": m.kind,
        "type": f.type,
        "scope": "series" if m.series_id is not None else "this",
        "url": url,
        "preview_url": url + "/preview" if f.has_preview else None,
        "uploaded_by": m.uploaded_by,
        "created_at": m.created_at.isoformat() if m.created_at else None,
        **extra,
    }


async def add_files(request: Request, booking_id: int, files: list[UploadFile], kind: str, scope: str) -> list[dict]:
    """Store and attach each file; Invalid (or TooLarge) naming the refused ones, the others kept."""
    db, settings = request.app.state.db, request.app.state.settings
    async with db.session() as s:
        meeting = await meeting_of(s, request, booking_id)
    if kind not in KINDS:
        raise Invalid(_('kind must be "before" (materials) or "minutes".'), {"field": "kind"})
    if scope not in ("this", "series"):
        raise Invalid(_('scope must be "this" (this meeting) or "series" (every meeting of the series).'))
    if scope == "series" and kind == "minutes":
        raise Invalid(_("Minutes belong to one meeting, not to the whole series."), {"field": "scope"})
    if scope == "series" and meeting.b.series_id is None:
        raise Invalid(_("This meeting is not part of a series."), {"field": "scope"})
    if meeting.b.status in ("cancelled", "rejected"):
        raise Conflict(_("This meeting was cancelled or rejected: it takes no more files."))
    if not meeting.may_add(kind):
        message = _("Only the organizer and the room's admins add minutes.")
        raise Forbidden(message if kind == "minutes" else _("Only the organizer and the attendees add materials."))
    if not files:
        raise Invalid(_("Choose at least one file."), {"field": "files"})
    kept, refused, first_error = [], [], None
    for upload in files:
        try:
            kept.append((upload, (await store.take_in(db, settings, upload))[0]))
        except AppError as exc:
            first_error = first_error or exc
            refused.append({"file": upload.filename, "error": exc.code, "message": exc.message})
            await audit.record(
                request, "meeting.file.add", f"booking:{booking_id}", result="failure", reason=exc.message
            )
    stored = await attach(request, meeting, kept, kind, scope) if kept else []
    if stored:
        b = meeting.b
        await request.app.state.bus.notify_many(
            topics.meeting_changed(kind, b.id, b.series_id if scope == "series" else None)
        )
    if first_error:
        message = first_error.message if len(files) == 1 else f"{refused[0]['file']}: {first_error.message}"
        raise type(first_error)(message, {"refused": refused, "items": stored})
    return stored


async def attach(request: Request, meeting: Meeting, kept: list, kind: str, scope: str) -> list[dict]:
    """The stored files attached to the meeting in one transaction, with their event
    (`booking.minutes_added`, `booking.materials_added`: attendees are told, in their bell
    and for minutes by mail too, signage.notify.invites)."""
    db, settings, b = request.app.state.db, request.app.state.settings, meeting.b
    owner = {"series_id": b.series_id} if scope == "series" else {"booking_id": b.id}
    for attempt in range(2):
        added = [
            Material(file_id=f.id, name=clean_name(u.filename), kind=kind, uploaded_by=meeting.user.id, **owner)
            for u, f in kept
        ]
        try:
            async with db.begin() as s:
                s.add_all(added)
                await s.flush()
                data = {**booking_json(b, meeting.people), "files": [m.name for m in added], "scope": scope}
                await eventlog.record(s, EVENTS[kind], f"booking:{b.id}", data, actor_of(request))
            break
        except IntegrityError:  # a file was swept at that moment (no meeting used it): store them again
            if attempt:
                raise
            for u, _f in kept:
                await u.seek(0)
            kept = [(u, (await store.take_in(db, settings, u))[0]) for u, _f in kept]
    names = ", ".join(m.name for m in added)
    await audit.record(request, "meeting.file.add", f"booking:{b.id}", reason=f"{kind}: {names}"[:500])
    return [material_json(b.id, m, f) for m, (_u, f) in zip(added, kept, strict=True)]


async def remove_file(request: Request, booking_id: int, file_id: int) -> None:
    db = request.app.state.db
    async with db.begin() as s:
        meeting = await meeting_of(s, request, booking_id)
        m = await s.get(Material, file_id)
        if m is None or not meeting.owns(m):
            raise no_files()
        if not meeting.may_remove(m):
            raise Forbidden(_("Only whoever added a file, the organizer and the room's admins remove it."))
        why, series = m.kind, m.series_id
        await s.delete(m)
    await store.sweep(db, request.app.state.settings)
    await audit.record(request, "meeting.file.remove", f"booking:{booking_id}", reason=str(file_id))
    await request.app.state.bus.notify_many(topics.meeting_changed(why, booking_id, series))


async def one_file(request: Request) -> tuple[Material, MaterialFile]:
    async with request.app.state.db.session() as s:
        meeting = await meeting_of(s, request, request.path_params["id"])
        m = await s.get(Material, request.path_params["file_id"])
        if m is None or not meeting.owns(m):
            raise no_files()
        return m, await s.get(MaterialFile, m.file_id)


async def download(request: Request) -> Response:
    m, f = await one_file(request)
    path = store.file_path(request.app.state.settings, f.file_name)
    if not path.is_file():
        raise no_files()
    return FileResponse(
        path, media_type=f.mime, filename=m.name, headers=SAFE_HEADERS, content_disposition_type="attachment"
    )


async def preview(request: Request) -> Response:
    _m, f = await one_file(request)
    path = store.file_path(request.app.state.settings, f.preview_name)
    if not f.has_preview or not path.is_file():
        raise NotFound(_("This file has no preview."))
    return FileResponse(path, media_type="image/webp", headers=SAFE_HEADERS)


# ---------------------------------------------------------------- API


async def api_add(request: Request) -> Response:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Invalid(_('Send the files as multipart/form-data in the field "files".'))
    async with request.app.state.db.session() as s:  # outsiders are turned away before the body is read
        await meeting_of(s, request, request.path_params["id"])
    form = await request.form(max_files=MAX_FILES)
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    kind, scope = str(form.get("kind") or ""), str(form.get("scope") or "this")
    items = await add_files(request, request.path_params["id"], files, kind, scope)
    return created({"items": items}, f"/api/v1/bookings/{request.path_params['id']}/materials")  # the meeting's files


async def api_list(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        meeting = await meeting_of(s, request, request.path_params["id"])
        rows = (await s.execute(files_of(meeting.b))).all()
    return JSONResponse({"items": [material_json(meeting.b.id, m, f) for m, f in rows]})


async def api_remove(request: Request) -> Response:
    await remove_file(request, request.path_params["id"], request.path_params["file_id"])
    return Response(status_code=204)


routes = [
    route("/api/v1/bookings/{id:id}/materials", api_add, methods=["POST"], allow=SIGNED_IN),
    route("/api/v1/bookings/{id:id}/materials", api_list, allow=SIGNED_IN),
    route("/api/v1/bookings/{id:id}/materials/{file_id:id}", api_remove, methods=["DELETE"], allow=SIGNED_IN),
    route("/bookings/{id:id}/materials/{file_id:id}", download, allow=SIGNED_IN),
    route("/bookings/{id:id}/materials/{file_id:id}/preview", preview, allow=SIGNED_IN),
]


class MaterialOut(BaseModel):
    id: int = Field(description="the file's id on this meeting (for DELETE)")
    name: str
    size: int = Field(description="bytes")
    kind: str = Field(description="before (materials) or minutes (minutes and resolutions)")
    type: str = Field(description="pdf, docx, xlsx, pptx, image or text (told by the content)")
    scope: str = Field(description="this (this meeting) or series (every meeting of its series)")
    url: str = Field(description="the download (Content-Disposition: attachment)")
    preview_url: str | None = Field(description="a WebP of the first page, for PDFs and images")
    uploaded_by: int | None
    created_at: str | None


class MaterialList(BaseModel):
    items: list[MaterialOut]


TAG = "meetings"
openapi.add(
    "post",
    "/api/v1/bookings/{id}/materials",
    "Add materials (before) or minutes to a meeting: PDF, docx, xlsx, pptx, images or text, checked by content",
    form={
        "files": "the files (up to 20)",
        "kind": "before (materials: organizer, attendees) or minutes (organizer, room admins)",
        "scope": "this (default) or series: materials for every meeting of the series (minutes: this only)",
    },
    response=MaterialList,
    status=201,
    tag=TAG,
    errors=(400, 401, 403, 404, 409, 413),
)
openapi.add(
    "get",
    "/api/v1/bookings/{id}/materials",
    "A meeting's materials and minutes (404 for those not concerned with it)",
    response=MaterialList,
    tag=TAG,
)
openapi.add(
    "delete",
    "/api/v1/bookings/{id}/materials/{file_id}",
    "Remove a file from a meeting (whoever added it, the organizer, room admins); unused files are deleted",
    status=204,
    tag=TAG,
    errors=(401, 403, 404),
)
