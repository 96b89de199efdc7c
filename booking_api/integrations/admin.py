"""`/admin/imports` and `/api/v1/imports`: importers for IT admins.

    POST /api/v1/imports {"name", "kind": "http"|"database", "url", "auth_header", "list_path",
                          "query", "updated_column", "mapping": {"external_id": "id", ...},
                          "every_minutes", "organizer_id"}                      → 201
    GET  /api/v1/imports, GET|DELETE /api/v1/imports/{id}
    POST /api/v1/imports/{id}/preview   → the first rows as read, and as they map
    POST /api/v1/imports/{id}/run {"dry_run": true}  → the run (counts, errors, plan)
    GET  /api/v1/imports/{id}/runs

The page does the same: add a source, preview, dry run, run now, and its runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking_api.integrations import importing, readers
from booking_api.integrations.models import FIELDS, ImportRun, ImportSource
from signage import audit, openapi, outbound
from signage.api import Id, json_body, parse
from signage.auth import route
from signage.errors import AppError, Conflict, Invalid, NotFound
from signage.i18n import gettext as _
from signage.models import User
from signage.responses import JSONResponse, created
from signage.templating import render

ADMINS = ("admin",)
NEEDED = ("external_id", "room", "title", "start", "end")
PREVIEW_ROWS = 5


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=60, description="the bookings' external_source")
    kind: Literal["http", "database"]
    url: str = Field(min_length=1, max_length=2000, description="http(s) URL, or a SQLAlchemy database URL")
    auth_header: str = Field("", max_length=2000, description='http: sent with each request, "Authorization: Bearer …"')
    list_path: str = Field("", max_length=200, description='http: where the list is in the answer, "data.items"')
    query: str = Field("", max_length=10000, description="database: one SELECT")
    updated_column: str = Field("", max_length=100, description="database: read only rows newer than last time")
    mapping: dict[str, str] = Field(description=f"our field → theirs; ours: {', '.join(FIELDS)}")
    every_minutes: int = Field(0, ge=0, le=10080, description="0: on demand only")
    organizer_id: Id | None = Field(None, description="whose bookings they become (default: you)")


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dry_run: bool = False


class ImportOut(BaseModel):
    id: int
    name: str
    kind: str
    url: str = Field(description="with any password hidden")
    list_path: str
    query: str
    updated_column: str
    cursor: str
    mapping: dict[str, str]
    every_minutes: int
    organizer_id: int


class RunOut(BaseModel):
    id: int
    dry_run: bool
    started_at: str
    finished_at: str | None
    rows: int
    created: int
    changed: int
    cancelled: int
    unchanged: int
    errors: list[dict] = Field(description='rows not imported: [{"row", "external_id", "error"}]')
    plan: list[dict] = Field(description='dry run: [{"action", "external_id", "title"}]')
    failure: str = Field(description="why the source could not be read, or empty")


class PreviewOut(BaseModel):
    rows: list[dict]
    mapped: list[dict]
    failure: str


def hidden_url(source: ImportSource) -> str:
    if source.kind == "database":
        try:
            return make_url(source.url).render_as_string(hide_password=True)
        except Exception:
            return ""
    return source.url


def source_json(source: ImportSource) -> dict:
    return {
        "id": source.id,
        "name": source.name,
        "kind": source.kind,
        "url": hidden_url(source),
        "list_path": source.list_path,
        "query": source.query,
        "updated_column": source.updated_column,
        "cursor": source.cursor,
        "mapping": source.mapping,
        "every_minutes": source.every_minutes,
        "organizer_id": source.organizer_id,
    }


def run_json(run: ImportRun) -> dict:
    return {
        "id": run.id,
        "dry_run": run.dry_run,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        **{k: getattr(run, k) for k in ("rows", "created", "changed", "cancelled", "unchanged")},
        "errors": run.errors,
        "plan": run.plan,
        "failure": run.failure,
    }


async def checked(request: Request, body: ImportIn) -> ImportIn:
    allow = request.app.state.settings.webhook_allow_private
    unknown = sorted(set(body.mapping) - set(FIELDS))
    if unknown:
        raise Invalid(_("%(field)s is not a field of ours to map onto.", field=unknown[0]), {"field": "mapping"})
    missing = [f for f in NEEDED if not body.mapping.get(f, "").strip()]
    if missing:
        raise Invalid(_("Map %(field)s to one of the OA's fields.", field=missing[0]), {"field": "mapping"})
    if body.kind == "http":
        body.url = await outbound.checked_url(body.url, allow)
    else:
        try:
            readers.engine_url(body.url)
            body.query = readers.check_select(body.query)
        except ValueError as exc:
            field = "query" if isinstance(exc, readers.QueryRefused) else "url"
            raise Invalid(_("The database source is not valid: %(why)s", why=str(exc)), {"field": field}) from None
        if body.updated_column and not readers.IDENTIFIER.fullmatch(body.updated_column):
            raise Invalid(_("The updated-at column must be a plain column name."), {"field": "updated_column"})
    return body


async def create(request: Request, body: ImportIn) -> ImportSource:
    body = await checked(request, body)
    organizer_id = body.organizer_id or request.state.user.id
    try:
        async with request.app.state.db.begin() as s:
            if await s.get(User, organizer_id) is None:
                raise Invalid(_("No user has this id."), {"field": "organizer_id"})
            source = ImportSource(**body.model_dump(exclude={"organizer_id"}), organizer_id=organizer_id)
            s.add(source)
            await s.flush()
    except IntegrityError:
        raise Conflict(_("An import with this name exists already."), {"field": "name"}) from None
    await audit.record(request, "import.create", f"import:{source.id}", reason=source.name)
    if source.every_minutes and getattr(request.app.state, "imports", None) is not None:
        request.app.state.imports.wake()  # its first run now, not at the next look
    return source


async def get_source(db, source_id: int) -> ImportSource:
    async with db.session() as s:
        source = await s.get(ImportSource, source_id)
    if source is None:
        raise NotFound(_("No such import."))
    return source


async def preview(request: Request, source: ImportSource) -> dict:
    settings = request.app.state.settings
    try:
        if source.kind == "http":
            rows = await readers.read_http(source, settings.webhook_allow_private)
        else:
            rows = await readers.read_database(source, settings.webhook_allow_private)
    except readers.SourceError as exc:
        return {"rows": [], "mapped": [], "failure": str(exc)}
    rooms, tz = await importing.room_names(request.app.state.db), ZoneInfo(settings.timezone)
    mapped = []
    for row in rows[:PREVIEW_ROWS]:
        try:
            body, cancelled = importing.map_row(row, source, rooms, tz)
            out = body.model_dump(mode="json", include={"external_id", "room_id", "title", "start", "end", "notes"})
            mapped.append({**out, "cancelled": cancelled})
        except importing.Unmappable as exc:
            mapped.append({"error": str(exc)})
    plain = [{k: (v.isoformat() if isinstance(v, dt.datetime | dt.date) else v) for k, v in r.items()}
             if isinstance(r, dict) else r for r in rows[:PREVIEW_ROWS]]  # fmt: skip
    return {"rows": plain, "mapped": mapped, "failure": ""}


async def runs_of(db, source_id: int, limit: int = 50) -> list[ImportRun]:
    async with db.session() as s:
        query = select(ImportRun).where(ImportRun.source_id == source_id).order_by(ImportRun.id.desc()).limit(limit)
        return list((await s.scalars(query)).all())


async def run_now(request: Request, source_id: int, dry_run: bool) -> ImportRun:
    await get_source(request.app.state.db, source_id)
    run = await importing.run_import(request.app, source_id, dry_run)
    what = "import.dry_run" if dry_run else "import.run"
    reason = f"{run.created} created, {run.changed} changed, {run.cancelled} cancelled, {len(run.errors)} errors"
    await audit.record(request, what, f"import:{source_id}", result="failure" if run.failure else "success",
                       reason=run.failure or reason)  # fmt: skip
    return run


# ------------------------------------------------------------------ the API


async def api_create(request: Request) -> Response:
    source = await create(request, parse(ImportIn, await json_body(request)))
    return created(source_json(source), f"/api/v1/imports/{source.id}")


async def api_list(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        found = (await s.scalars(select(ImportSource).order_by(ImportSource.id))).all()
    return JSONResponse([source_json(x) for x in found])


async def api_get(request: Request) -> Response:
    return JSONResponse(source_json(await get_source(request.app.state.db, request.path_params["id"])))


async def api_delete(request: Request) -> Response:
    source = await get_source(request.app.state.db, request.path_params["id"])
    async with request.app.state.db.begin() as s:
        await s.delete(await s.get(ImportSource, source.id))
    await audit.record(request, "import.delete", f"import:{source.id}", reason=source.name)
    return Response(status_code=204)


async def api_preview(request: Request) -> Response:
    return JSONResponse(await preview(request, await get_source(request.app.state.db, request.path_params["id"])))


async def api_run(request: Request) -> Response:
    raw = await request.body()
    body = parse(RunIn, await json_body(request)) if raw.strip() else RunIn()
    return JSONResponse(run_json(await run_now(request, request.path_params["id"], body.dry_run)))


async def api_runs(request: Request) -> Response:
    source = await get_source(request.app.state.db, request.path_params["id"])
    return JSONResponse([run_json(r) for r in await runs_of(request.app.state.db, source.id)])


# ------------------------------------------------------------------ the pages


def form_to_import(form) -> dict:
    data = {k: str(form.get(k, "")).strip() for k in ("name", "kind", "url", "auth_header", "list_path",
                                                       "query", "updated_column")}  # fmt: skip
    raw = str(form.get("every_minutes", "") or "0").strip()
    data["every_minutes"] = int(raw) if raw.isascii() and raw.isdigit() else raw
    data["mapping"] = {
        f: str(form.get(f"map_{f}", "")).strip() for f in FIELDS if str(form.get(f"map_{f}", "")).strip()
    }
    return data


async def list_page(request: Request, error: AppError | None = None, status_code: int = 200, form=None) -> Response:
    async with request.app.state.db.session() as s:
        sources = (await s.scalars(select(ImportSource).order_by(ImportSource.id))).all()
    ctx = {"sources": sources, "error": error, "form": form or {}, "fields": FIELDS, "needed": NEEDED}
    return render(request, "integrations/imports.html", ctx, status_code=status_code)


async def detail_page(request: Request, source_id: int | None = None, shown=None, status_code: int = 200) -> Response:
    db = request.app.state.db
    source = await get_source(db, source_id or request.path_params["id"])
    ctx = {"source": source, "url": hidden_url(source), "runs": await runs_of(db, source.id), "shown": shown or {}}
    return render(request, "integrations/import.html", ctx, status_code=status_code)


async def create_submit(request: Request) -> Response:
    form = await request.form()
    data = form_to_import(form)
    try:
        source = await create(request, parse(ImportIn, data, strict=False))
    except AppError as exc:
        await audit.record(request, "import.create", "", result="failure", reason=exc.message)
        return await list_page(request, exc, exc.status, data)
    return RedirectResponse(f"/admin/imports/{source.id}", status_code=303)


async def preview_submit(request: Request) -> Response:
    source = await get_source(request.app.state.db, request.path_params["id"])
    return await detail_page(request, source.id, {"preview": await preview(request, source)})


async def run_submit(request: Request) -> Response:
    form = await request.form()
    run = await run_now(request, request.path_params["id"], form.get("dry_run") is not None)
    return await detail_page(request, run.source_id, {"run": run})


async def delete_submit(request: Request) -> Response:
    await api_delete(request)
    return RedirectResponse("/admin/imports", status_code=303)


TAG = "imports"
openapi.add("post", "/api/v1/imports", "Add an importer of an OA's meetings (HTTP API or database)", body=ImportIn,
            response=ImportOut, status=201, tag=TAG, errors=(400, 401, 403, 409))  # fmt: skip
openapi.add("get", "/api/v1/imports", "List importers", response=list[ImportOut], tag=TAG)
openapi.add("get", "/api/v1/imports/{id}", "An importer", response=ImportOut, tag=TAG)
openapi.add("delete", "/api/v1/imports/{id}", "Delete an importer (its bookings stay)", status=204, tag=TAG)
openapi.add("post", "/api/v1/imports/{id}/preview", "The first rows as the source gives them, and as they map",
            response=PreviewOut, tag=TAG)  # fmt: skip
openapi.add("post", "/api/v1/imports/{id}/run", "Run it now (a dry run says what it would do)", body=RunIn,
            optional_body=True, response=RunOut, tag=TAG)  # fmt: skip
openapi.add("get", "/api/v1/imports/{id}/runs", "Its latest runs, newest first", response=list[RunOut], tag=TAG)

routes = [
    route("/api/v1/imports", api_create, methods=["POST"], allow=ADMINS),
    route("/api/v1/imports", api_list, allow=ADMINS),
    route("/api/v1/imports/{id:id}", api_get, allow=ADMINS),
    route("/api/v1/imports/{id:id}", api_delete, methods=["DELETE"], allow=ADMINS),
    route("/api/v1/imports/{id:id}/preview", api_preview, methods=["POST"], allow=ADMINS),
    route("/api/v1/imports/{id:id}/run", api_run, methods=["POST"], allow=ADMINS),
    route("/api/v1/imports/{id:id}/runs", api_runs, allow=ADMINS),
    route("/admin/imports", list_page, allow=ADMINS),
    route("/admin/imports", create_submit, methods=["POST"], allow=ADMINS),
    route("/admin/imports/{id:id}", detail_page, allow=ADMINS),
    route("/admin/imports/{id:id}/preview", preview_submit, methods=["POST"], allow=ADMINS),
    route("/admin/imports/{id:id}/run", run_submit, methods=["POST"], allow=ADMINS),
    route("/admin/imports/{id:id}/delete", delete_submit, methods=["POST"], allow=ADMINS),
]
