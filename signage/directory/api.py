"""The organisation through the API, for attendee pickers and for an OA that uploads people.

    GET  /api/v1/departments?q=&include_inactive=1        → {"items": [{"id", "name", "path", "parent_id",
                                                             "manager_id", "source", "external_id", "active", "people"}]}
    GET  /api/v1/people?q=&department_id=&subtree=1       → {"items": [{"id", "name", "email", "title",
                                                             "employee_no", "department_ids", "active"}]}
    POST /api/v1/directory/csv  (multipart "file"; dry_run=1 answers the difference without applying it)
                                → {"created", "changed", "deactivated", "errors", "departments", "error_list",
                                   "dry_run", "run_id", "preview"}
    GET  /api/v1/directory/template.csv | template.xlsx   the upload's template

Lists page by id (`limit`, `cursor`, the next page in the `Link` header). `q` matches a
name in Chinese, its pinyin or pinyin initials, an email or an employee number. Everyone
signed in may look people up (to invite them); a person's mobile only admins see.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from signage import audit, openapi
from signage.api import ID_PARAM, PAGING, Keyset, int_param, param, refuse_unknown
from signage.auth import SIGNED_IN, recent_users, route
from signage.directory import sync
from signage.directory.models import Department, Membership
from signage.directory.search import matches
from signage.directory.sources import upload
from signage.errors import Invalid
from signage.i18n import gettext as _
from signage.models import User
from signage.responses import JSONResponse

ADMINS = ("admin",)
MAX_FILE = 20 * 1024 * 1024
PEOPLE = Keyset("people", User.id)
DEPARTMENTS = Keyset("departments", Department.id)
YES = {"1", "true", "yes"}


MAX_Q = 100


def q_of(request: Request) -> str:
    q = request.query_params.get("q", "")
    if len(q) > MAX_Q:
        raise Invalid(_("q has at most %(n)s characters.", n=MAX_Q), {"field": "q"})
    return q


def flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "")
    if raw.lower() not in YES | {"", "0", "false", "no"}:
        raise Invalid(_("%(name)s is true or false.", name=name), {"field": name})
    return raw.lower() in YES


async def tree(s) -> dict[int, tuple[str, int | None, bool]]:
    """Every department: id → (name, parent id, active)."""
    rows = await s.execute(select(Department.id, Department.name, Department.parent_id, Department.is_active))
    return {r.id: (r.name, r.parent_id, r.is_active) for r in rows}


def path_of(depts: dict, dept_id: int) -> str:
    names, at, seen = [], dept_id, set()
    while at is not None and at in depts and at not in seen:
        seen.add(at)
        names.append(depts[at][0])
        at = depts[at][1]
    return "/".join(reversed(names))


def below(depts: dict, dept_id: int) -> set[int]:
    """The department and every one under it."""
    children: dict[int | None, list[int]] = {}
    for d, (_n, parent, _a) in depts.items():
        children.setdefault(parent, []).append(d)
    found, todo = set(), [dept_id]
    while todo:
        at = todo.pop()
        if at not in found:
            found.add(at)
            todo += children.get(at, [])
    return found


def person_json(u, department_ids: list[int], admin: bool) -> dict:
    out = {
        "id": u.id,
        "name": u.name,
        "email": "" if sync.is_placeholder(u.email) else u.email,
        "title": u.title,
        "employee_no": u.employee_no,
        "department_ids": department_ids,
        "active": u.is_active,
    }
    if admin:
        out.update(mobile=u.mobile, source=u.directory_source, role=u.role)
    return out


async def find_people(s, request: Request, params, admin: bool) -> tuple[list, dict]:
    query = select(User)
    subtree, inactive = flag(request, "subtree"), flag(request, "include_inactive")
    if not (admin and inactive):
        query = query.where(User.is_active.is_(True))
    if (cond := matches(User.search, q_of(request))) is not None:
        query = query.where(cond)
    dept_id = int_param(request, "department_id")
    if dept_id is not None:
        ids = below(await tree(s), dept_id) if subtree else {dept_id}
        query = query.where(User.id.in_(select(Membership.user_id).where(Membership.department_id.in_(ids))))
    people, headers = PEOPLE.page(request, (await s.scalars(PEOPLE.query(request, query))).all())
    member_of: dict[int, list[int]] = {}
    if people:
        found = await s.execute(
            select(Membership.user_id, Membership.department_id)
            .where(Membership.user_id.in_([u.id for u in people]))
            .order_by(Membership.department_id)
        )
        for user_id, d in found:
            member_of.setdefault(user_id, []).append(d)
    return [person_json(u, member_of.get(u.id, []), admin) for u in people], headers


async def api_people(request: Request) -> Response:
    refuse_unknown(request, {"q", "department_id", "subtree", "include_inactive", *PAGING})
    admin = request.state.user.role == "admin"
    async with request.app.state.db.reads() as s:
        items, headers = await find_people(s, request, request.query_params, admin)
    return JSONResponse({"items": items}, headers=headers)


async def api_departments(request: Request) -> Response:
    refuse_unknown(request, {"q", "include_inactive", *PAGING})
    query = select(Department)
    if not flag(request, "include_inactive"):
        query = query.where(Department.is_active.is_(True))
    if (cond := matches(Department.search, q_of(request))) is not None:
        query = query.where(cond)
    async with request.app.state.db.reads() as s:
        found, headers = DEPARTMENTS.page(request, (await s.scalars(DEPARTMENTS.query(request, query))).all())
        depts = await tree(s)
        counts = await people_counts(s, [d.id for d in found])
    items = [
        {
            "id": d.id,
            "name": d.name,
            "path": path_of(depts, d.id),
            "parent_id": d.parent_id,
            "manager_id": d.manager_id,
            "source": d.source,
            "external_id": d.external_id,
            "active": d.is_active,
            "people": counts.get(d.id, 0),
        }
        for d in found
    ]
    return JSONResponse({"items": items}, headers=headers)


async def people_counts(s, dept_ids: list[int]) -> dict[int, int]:
    from sqlalchemy import func

    if not dept_ids:
        return {}
    rows = await s.execute(
        select(Membership.department_id, func.count())
        .join(User, User.id == Membership.user_id)
        .where(Membership.department_id.in_(dept_ids), User.is_active.is_(True))
        .group_by(Membership.department_id)
    )
    return dict(rows.all())


async def read_upload(request: Request) -> tuple[bytes, str, dict]:
    """The uploaded file's bytes and name, and the form's other fields."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Invalid(_('Send the file as multipart/form-data in the field "file".'), {"field": "file"})
    form = await request.form(max_files=1, max_fields=10)
    f = form.get("file")
    if not isinstance(f, UploadFile):
        raise Invalid(_("Choose a CSV or XLSX file."), {"field": "file"})
    data = await f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise Invalid(_("The file is larger than 20 MB."), {"field": "file"})
    return data, f.filename or "", {k: v for k, v in form.items() if isinstance(v, str)}


async def import_file(request: Request, data: bytes, filename: str, dry_run: bool) -> dict:
    """Read the file, plan or apply it (retried once when another sync wrote the same people
    meanwhile), audit it; the answer of the API and the admin page."""
    try:
        snapshot = upload.snapshot(data, filename)
    except upload.Unreadable as exc:
        raise Invalid(_("The file cannot be read: %(why)s.", why=str(exc)), {"field": "file"}) from None
    user = request.state.user
    for attempt in range(3):
        try:
            out, run_id = await sync.run(request.app.state.db, "csv", snapshot, dry_run=dry_run, by=user.email)
            break
        except IntegrityError:
            if attempt == 2:
                raise
    counts = out.counts()
    if not dry_run and out.deactivate:
        recent_users(request).clear()  # who left is signed out now, not in a few seconds
    if not dry_run:
        await audit.record(request, "directory.sync", "source:csv", reason=summary(counts))
        request.state.audited = True
    return {**counts, "error_list": out.errors[:200], "dry_run": dry_run, "run_id": run_id, "preview": out.preview()}


def summary(counts: dict) -> str:
    d = counts["departments"]
    return (
        f"people: {counts['created']} created, {counts['changed']} changed, {counts['deactivated']} deactivated; "
        f"departments: {d['created']} created, {d['changed']} changed, {d['deactivated']} deactivated; "
        f"{counts['errors']} errors"
    )


async def api_csv(request: Request) -> Response:
    refuse_unknown(request, {"dry_run"})
    data, filename, fields = await read_upload(request)
    dry_run = flag(request, "dry_run") or fields.get("dry_run", "").lower() in YES
    return JSONResponse(await import_file(request, data, filename, dry_run))


async def template_xlsx(request: Request) -> Response:
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(upload.template_xlsx(), media_type=media,
                    headers={"Content-Disposition": 'attachment; filename="people.xlsx"'})  # fmt: skip


async def template_csv(request: Request) -> Response:
    return Response(upload.template_csv(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="people.csv"'})  # fmt: skip


Q = param(
    "words that a name (Chinese, pinyin or its initials), an email or an employee number holds",
    type="string",
    maxLength=MAX_Q,
)
INACTIVE = param("true: deactivated ones too (admins)", type="boolean")
openapi.add("get", "/api/v1/people", "People of the organisation, found as one types", tag="directory",
            query={"q": Q, "department_id": param("in this department", **ID_PARAM),
                   "subtree": param("true: and in the departments under it", type="boolean"),
                   "include_inactive": INACTIVE, **PAGING}, errors=(400, 401))  # fmt: skip
openapi.add("get", "/api/v1/departments", "Departments, as a tree (each names its parent and path)",
            tag="directory", query={"q": Q, "include_inactive": INACTIVE, **PAGING}, errors=(400, 401))  # fmt: skip
openapi.add("post", "/api/v1/directory/csv", "Upload the organisation as CSV or XLSX (dry_run=1: the difference only)",
            tag="directory", query={"dry_run": param("true: answer the difference, change nothing", type="boolean")},
            form={"file": "the file, with the header employee_no,name,email,mobile,department_path,title"},
            errors=(400, 401, 403, 413))  # fmt: skip
openapi.add("get", "/api/v1/directory/template.csv", "The upload's template as CSV", tag="directory",
            errors=(401, 403))  # fmt: skip
openapi.add("get", "/api/v1/directory/template.xlsx", "The upload's template as XLSX", tag="directory",
            errors=(401, 403))  # fmt: skip

routes = [
    route("/api/v1/people", api_people, allow=SIGNED_IN),
    route("/api/v1/departments", api_departments, allow=SIGNED_IN),
    route("/api/v1/directory/csv", api_csv, methods=["POST"], allow=ADMINS),
    route("/api/v1/directory/template.csv", template_csv, allow=ADMINS),
    route("/api/v1/directory/template.xlsx", template_xlsx, allow=ADMINS),
]
