"""The organisation for IT admins: the department tree and its people, found as one types;
a person or department edited; sources configured, tested, dry-run and run; the runs.

    GET  /admin/directory?q=&department_id=         the tree and the people (htmx: the list alone)
    GET  /admin/directory/people/{id}               a person; POST saves
    POST /admin/directory/departments               a new department (name, parent)
    GET  /admin/directory/departments/{id}          a department; POST saves (name, parent, manager, active)
    GET  /admin/directory/sources                   the upload, each source's settings, the runs
    POST /admin/directory/upload                    a CSV/XLSX file: action=preview (dry run) or apply
    POST /admin/directory/sources/{name}            save a source's settings
    POST /admin/directory/sources/{name}/{action}   test, preview (dry run) or run now
"""

from __future__ import annotations

import json
from urllib.parse import quote

from sqlalchemy import delete, func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signage import audit
from signage.api import int_param
from signage.auth import route
from signage.directory import api, runner, sync
from signage.directory.models import Department, Membership, Source, SyncRun
from signage.directory.search import matches
from signage.directory.sources import SOURCES
from signage.errors import AppError, Invalid, NotFound
from signage.i18n import gettext as _
from signage.models import User
from signage.responses import is_htmx
from signage.templating import render
from signage.users.people import EMAIL, refuse_taken

ADMINS = ("admin",)
SHOWN = 200


def tree_rows(depts: dict, counts: dict) -> list[dict]:
    """The active departments in tree order, each with its depth, path and people."""
    children: dict = {}
    for d, (_name, parent, active) in sorted(depts.items(), key=lambda kv: (kv[1][0], kv[0])):
        if active:
            children.setdefault(parent if parent in depts and depts[parent][2] else None, []).append(d)
    out, todo = [], [(d, 0) for d in reversed(children.get(None, []))]
    while todo:
        d, depth = todo.pop()
        out.append({"id": d, "name": depts[d][0], "depth": depth, "path": api.path_of(depts, d),
                    "people": counts.get(d, 0)})  # fmt: skip
        todo += [(c, depth + 1) for c in reversed(children.get(d, []))]
    return out


async def page(request: Request) -> Response:
    params = request.query_params
    dept_id = int_param(request, "department_id")
    q = api.q_of(request)
    async with request.app.state.db.reads() as s:
        depts = await api.tree(s)
        counts = await api.people_counts(s, list(depts))
        query = select(User).order_by(User.name, User.id)
        if (cond := matches(User.search, q)) is not None:
            query = query.where(cond)
        if dept_id is not None:
            ids = api.below(depts, dept_id)
            query = query.where(User.id.in_(select(Membership.user_id).where(Membership.department_id.in_(ids))))
        total = await s.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        people = (await s.scalars(query.limit(SHOWN))).all()
        member_of = await memberships(s, [u.id for u in people])
    ctx = {
        "tree": tree_rows(depts, counts), "people": people, "total": total, "shown": SHOWN, "q": q,
        "department_id": dept_id, "member_of": member_of, "depts": depts, "path_of": api.path_of,
        "placeholder": sync.is_placeholder, "error": params.get("error", "")[:200],
    }  # fmt: skip
    if is_htmx(request):
        return render(request, "directory/directory.html", ctx, block="people")
    return render(request, "directory/directory.html", ctx)


async def memberships(s, user_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    if user_ids:
        rows = await s.execute(
            select(Membership.user_id, Membership.department_id).where(Membership.user_id.in_(user_ids))
        )
        for u, d in rows:
            found.setdefault(u, []).append(d)
    return found


# a person


async def person_page(request: Request, error: AppError | None = None, status_code: int = 200, form=None) -> Response:
    async with request.app.state.db.reads() as s:
        person = await s.get(User, request.path_params["id"])
        if person is None:
            raise NotFound(_("No such person."))
        depts = await api.tree(s)
        mine = set((await memberships(s, [person.id])).get(person.id, []))
    choices = [d for d in tree_rows(depts, {})]
    ctx = {"person": person, "choices": choices, "mine": mine, "error": error, "form": form or {},
           "placeholder": sync.is_placeholder(person.email)}  # fmt: skip
    return render(request, "directory/person.html", ctx, status_code=status_code)


async def save_person(request: Request) -> Response:
    form = await request.form()
    person_id = request.path_params["id"]
    try:
        name = str(form.get("name", "")).strip()
        email = str(form.get("email", "")).strip().lower()
        if not name or len(name) > 200:
            raise Invalid(_("A name has 1 to 200 characters."), {"field": "name"})
        if not EMAIL.match(email) or len(email) > 254:
            raise Invalid(_("Enter a valid email address."), {"field": "email"})
        values = {"name": name, "email": email}
        for key, most in (("mobile", 30), ("title", 200), ("employee_no", 64)):
            values[key] = str(form.get(key, "")).strip()
            if len(values[key]) > most:
                raise Invalid(_("%(field)s is too long.", field=key), {"field": key})
        values["employee_no"] = values["employee_no"] or None
        wanted = set()
        for raw in form.getlist("department_id"):
            if not (isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 10):
                raise Invalid(_("Choose departments from the list."), {"field": "department_id"})
            wanted.add(int(raw))
        async with request.app.state.db.begin() as s:
            person = await s.get(User, person_id)
            if person is None:
                raise NotFound(_("No such person."))
            other = await s.scalar(select(User.id).where(func.lower(User.email) == email, User.id != person_id))
            if other is not None:
                raise Invalid(_("Another user has this email."), {"field": "email"})
            await refuse_taken(s, values["employee_no"], person_id)
            known = (
                set((await s.scalars(select(Department.id).where(Department.id.in_(wanted)))).all())
                if wanted
                else set()
            )
            if known != wanted:
                raise Invalid(_("Choose departments from the list."), {"field": "department_id"})
            for k, v in values.items():
                setattr(person, k, v)
            active = form.get("active") == "on"
            if person.id == request.state.user.id and not active:
                raise Invalid(_("You cannot deactivate yourself."), {"field": "active"})
            person.is_active = active
            await s.execute(delete(Membership).where(Membership.user_id == person_id))
            s.add_all(Membership(user_id=person_id, department_id=d) for d in sorted(wanted))
            s.add(audit.entry(request, "person.update", f"user:{person_id}", reason=", ".join(sorted(values))))
        request.state.audited = True
        runner.forget_users(request.app)
    except Invalid as exc:
        return await person_page(request, exc, 400, form)
    return RedirectResponse(f"/admin/directory/people/{person_id}?saved=1", status_code=303)


# departments


def parent_of_form(form, depts: dict, dept_id: int | None = None) -> int | None:
    raw = str(form.get("parent_id", "")).strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or int(raw) not in depts:
        raise Invalid(_("Choose the parent from the list."), {"field": "parent_id"})
    parent = int(raw)
    if dept_id is not None and parent in api.below(depts, dept_id):
        raise Invalid(_("A department cannot be under itself."), {"field": "parent_id"})
    return parent


def name_of_form(form) -> str:
    name = str(form.get("name", "")).strip()
    if not name or len(name) > 200 or "/" in name:
        raise Invalid(_("A department's name has 1 to 200 characters and no /."), {"field": "name"})
    return name


async def add_department(request: Request) -> Response:
    form = await request.form()
    try:
        name = name_of_form(form)
        async with request.app.state.db.begin() as s:
            parent = parent_of_form(form, await api.tree(s))
            d = Department(name=name, parent_id=parent)
            s.add(d)
            await s.flush()
            s.add(audit.entry(request, "department.create", f"department:{d.id}", reason=name))
        request.state.audited = True
    except Invalid as exc:
        return RedirectResponse(f"/admin/directory?error={quote(exc.message)}", status_code=303)
    return RedirectResponse(f"/admin/directory?department_id={d.id}", status_code=303)


async def department_page(request: Request, error: AppError | None = None, status_code: int = 200) -> Response:
    dept_id = request.path_params["id"]
    async with request.app.state.db.reads() as s:
        d = await s.get(Department, dept_id)
        if d is None:
            raise NotFound(_("No such department."))
        depts = await api.tree(s)
        manager = await s.get(User, d.manager_id) if d.manager_id else None
    below = api.below(depts, dept_id)
    choices = [c for c in tree_rows(depts, {}) if c["id"] not in below]
    ctx = {"d": d, "path": api.path_of(depts, dept_id), "choices": choices, "manager": manager, "error": error}
    return render(request, "directory/department.html", ctx, status_code=status_code)


async def save_department(request: Request) -> Response:
    dept_id = request.path_params["id"]
    form = await request.form()
    try:
        name = name_of_form(form)
        manager_email = str(form.get("manager", "")).strip().lower()
        async with request.app.state.db.begin() as s:
            d = await s.get(Department, dept_id)
            if d is None:
                raise NotFound(_("No such department."))
            parent = parent_of_form(form, await api.tree(s), dept_id)
            manager = None
            if manager_email:
                manager = await s.scalar(select(User.id).where(func.lower(User.email) == manager_email))
                if manager is None:
                    raise Invalid(_("No user has this email."), {"field": "manager"})
            d.name, d.parent_id, d.manager_id, d.is_active = name, parent, manager, form.get("active") == "on"
            s.add(audit.entry(request, "department.update", f"department:{dept_id}", reason=name))
        request.state.audited = True
    except Invalid as exc:
        return await department_page(request, exc, 400)
    return RedirectResponse(f"/admin/directory?department_id={dept_id}", status_code=303)


# sources


async def sources_page(request: Request, status_code: int = 200, **extra) -> Response:
    async with request.app.state.db.reads() as s:
        rows = {r.name: r for r in (await s.scalars(select(Source))).all()}
        runs = (await s.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(20))).all()
    sources = []
    for name, module in configurable().items():
        row = rows.get(name)
        conf = runner.conf_of(row, name)
        example = {"ldap": "ldap://ldap.example.com:389", "oidc": "https://id.example.com/realms/company"}
        sources.append({"name": name, "label": _(module.label), "row": row, "conf": conf, "fields": module.fields,
                        "default_url": module.base_url or example.get(name, ""), "syncs": name in SOURCES})  # fmt: skip
    ctx = {"sources": sources, "runs": runs, "loads": json.loads, **extra}
    return render(request, "directory/sources.html", ctx, status_code=status_code)


async def upload_file(request: Request) -> Response:
    try:
        data, filename, fields = await api.read_upload(request)
        dry_run = fields.get("action") != "apply"
        result = await api.import_file(request, data, filename, dry_run)
    except Invalid as exc:
        return await sources_page(request, 400, upload_error=exc.message)
    return await sources_page(request, upload=result)


def configurable() -> dict:
    """The sources, and OpenID Connect (sign-in only), each configured on the sources page."""
    from signage.signin import oidc

    return {**SOURCES, oidc.name: oidc}


def known_source(request: Request) -> str:
    name = request.path_params["name"]
    if name not in configurable():
        raise NotFound(_("No such source."))
    return name


async def save_source(request: Request) -> Response:
    name = known_source(request)
    module = configurable()[name]
    form = await request.form()
    try:
        base_url = str(form.get("base_url", "")).strip()
        if len(base_url) > 300:
            raise Invalid(_("The URL is too long."), {"field": "base_url"})
        every = str(form.get("every_minutes", "0")).strip() or "0"
        if not (every.isascii() and every.isdigit() and int(every) <= 7 * 24 * 60):
            raise Invalid(_("Run every: a whole number of minutes from 0 to 10080."), {"field": "every_minutes"})
        async with request.app.state.db.begin() as s:
            row = await s.get(Source, name)
            if row is None:
                row = Source(name=name)
                s.add(row)
            values = json.loads(row.config or "{}")
            for f in module.fields:
                given = str(form.get(f.name, "")).strip()
                if len(given) > 500:
                    raise Invalid(_("%(field)s is too long.", field=_(f.label)), {"field": f.name})
                if f.secret and not given:
                    continue  # a secret left empty is kept
                values[f.name] = given
            row.config, row.base_url = json.dumps(values, ensure_ascii=False), base_url
            row.enabled, row.signin = form.get("enabled") == "on", form.get("signin") == "on"
            row.every_minutes, row.next_run_at = int(every), None
            row.updated_by = request.state.user.email
            s.add(audit.entry(request, "directory.source", f"source:{name}", reason="saved"))
        request.state.audited = True
        request.app.state.directory.wake()
    except Invalid as exc:
        return await sources_page(request, 400, source_error={name: exc.message})
    return RedirectResponse(f"/admin/directory/sources?saved={name}#source-{name}", status_code=303)


async def source_action(request: Request) -> Response:
    name = known_source(request)
    action = request.path_params["action"]
    if action not in ("test", "preview", "run") or (action != "test" and name not in SOURCES):
        raise NotFound(_("No such action."))
    if action == "test":
        _row, conf = await runner.load(request.app.state.db, name)
        try:
            import httpx

            async with httpx.AsyncClient(timeout=15.0) as http:
                said = await configurable()[name].check(http, conf)
            return await sources_page(request, tested={name: (True, said)})
        except Exception as exc:  # what the server said, shown
            return await sources_page(request, tested={name: (False, f"{type(exc).__name__}: {exc}"[:500])})
    out, run_id, error = await runner.run_source(request.app, name, action == "preview", request.state.user.email)
    if error:
        return await sources_page(request, source_error={name: error})
    result = {**out.counts(), "error_list": out.errors[:200], "dry_run": action == "preview", "run_id": run_id,
              "preview": out.preview()}  # fmt: skip
    if action == "run":
        await audit.record(request, "directory.sync", f"source:{name}", reason=api.summary(out.counts()))
        request.state.audited = True
    return await sources_page(request, ran={name: result})


routes = [
    route("/admin/directory", page, allow=ADMINS),
    route("/admin/directory/people/{id:id}", person_page, allow=ADMINS),
    route("/admin/directory/people/{id:id}", save_person, methods=["POST"], allow=ADMINS),
    route("/admin/directory/departments", add_department, methods=["POST"], allow=ADMINS),
    route("/admin/directory/departments/{id:id}", department_page, allow=ADMINS),
    route("/admin/directory/departments/{id:id}", save_department, methods=["POST"], allow=ADMINS),
    route("/admin/directory/sources", sources_page, allow=ADMINS),
    route("/admin/directory/upload", upload_file, methods=["POST"], allow=ADMINS),
    route("/admin/directory/sources/{name:str}", save_source, methods=["POST"], allow=ADMINS),
    route("/admin/directory/sources/{name:str}/{action:str}", source_action, methods=["POST"], allow=ADMINS),
]
