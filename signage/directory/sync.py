"""A source's snapshot of the organisation against the database: the difference (a `Plan`,
what a dry run shows), then the same plan applied in one transaction.

A source gives every department and every person it has (`Snapshot`), each by its own id.
Against what this source linked before:

- a department or person it has not linked is created; a person is first looked for by
  employee number, then by email, among the people no source keeps yet (an account made
  by hand becomes the directory's), never by name;
- one whose fields differ is changed (a field the source leaves empty is kept: WeCom apps
  made after 2022 get no mobile or email);
- one it linked before and no longer gives is deactivated, never deleted: their bookings
  and statistics stay, they cannot sign in, and their future bookings are listed for an
  admin (booking_api/bookings/leavers.py); an IT admin is left active (an error says so);
- a person's departments from this source become the ones it gives (departments made by
  hand or by another source are left alone).

Running the same snapshot again plans nothing. Counts are of people; departments have
their own (`Plan.counts()`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

from sqlalchemy import bindparam, delete, insert, select, update

from signage.db import utcnow
from signage.directory.models import Department, Membership, SyncRun
from signage.directory.search import search_text
from signage.models import User, UserSession

PERSON_FIELDS = ("name", "email", "mobile", "employee_no", "title", "dingtalk_id", "wecom_id")


@dataclasses.dataclass
class Dept:
    id: str  # the source's id
    name: str
    parent: str | None = None  # the source's id of the parent; None: at the top
    sort: int = 0
    manager: str | None = None  # the source's id of a person


@dataclasses.dataclass
class Person:
    id: str  # the source's id
    name: str
    email: str = ""
    mobile: str = ""
    employee_no: str = ""
    title: str = ""
    dingtalk_id: str = ""
    wecom_id: str = ""
    departments: tuple[str, ...] = ()  # the source's ids


@dataclasses.dataclass
class Snapshot:
    departments: list[Dept] = dataclasses.field(default_factory=list)
    people: list[Person] = dataclasses.field(default_factory=list)
    errors: list[dict] = dataclasses.field(default_factory=list)  # rows the source could not read


@dataclasses.dataclass
class Plan:
    source: str
    snapshot: Snapshot
    dept_create: list[Dept] = dataclasses.field(default_factory=list)
    dept_change: list[tuple[int, Dept]] = dataclasses.field(default_factory=list)
    dept_deactivate: list[int] = dataclasses.field(default_factory=list)
    create: list[Person] = dataclasses.field(default_factory=list)
    change: list[tuple[int, Person, dict]] = dataclasses.field(default_factory=list)  # (user, person, fields)
    deactivate: list[int] = dataclasses.field(default_factory=list)
    joins: list[tuple[int | str, str]] = dataclasses.field(default_factory=list)  # (user id or person id, dept id)
    leaves: list[tuple[int, int]] = dataclasses.field(default_factory=list)  # (user id, department id)
    dept_ids: dict[str, int] = dataclasses.field(default_factory=dict)  # the source's id → ours (known ones)
    errors: list[dict] = dataclasses.field(default_factory=list)

    def counts(self) -> dict:
        return {
            "created": len(self.create),
            "changed": len(self.change),
            "deactivated": len(self.deactivate),
            "errors": len(self.errors),
            "departments": {
                "created": len(self.dept_create),
                "changed": len(self.dept_change),
                "deactivated": len(self.dept_deactivate),
            },
        }

    def preview(self, limit: int = 50) -> dict:
        """What the dry run shows: the first `limit` of each list, by name."""
        return {
            "create": [p.name for p in self.create[:limit]],
            "change": [f"{p.name}: {', '.join(sorted(fields))}" for _, p, fields in self.change[:limit]],
            "deactivate": self.deactivate[:limit],
            "departments_create": [d.name for d in self.dept_create[:limit]],
            "departments_change": [d.name for _, d in self.dept_change[:limit]],
        }


def placeholder_email(source: str, person_id: str) -> str:
    """An address for a person the source gives none (never mailed: `.invalid` is reserved)."""
    return f"{source}-{hashlib.sha1(person_id.encode()).hexdigest()[:12]}@people.invalid"


def is_placeholder(email: str) -> bool:
    return email.endswith("@people.invalid")


def clean(snapshot: Snapshot) -> Snapshot:
    """Duplicate ids, parents that are not there or go round in a circle: the first wins,
    the parent is dropped, and each is an error."""
    errors = list(snapshot.errors)
    depts: dict[str, Dept] = {}
    for d in snapshot.departments:
        if d.id in depts:
            errors.append({"id": d.id, "message": f"department {d.id} is given twice"})
            continue
        depts[d.id] = d
    for d in depts.values():
        if d.parent is not None and d.parent not in depts:
            errors.append({"id": d.id, "message": f"department {d.name}: its parent {d.parent} is not given"})
            d.parent = None
    for d in depts.values():
        seen, at = {d.id}, d.parent
        while at is not None:
            if at in seen:
                errors.append({"id": d.id, "message": f"department {d.name} is its own ancestor"})
                d.parent = None
                break
            seen.add(at)
            at = depts[at].parent
    people: dict[str, Person] = {}
    for p in snapshot.people:
        if p.id in people:
            errors.append({"id": p.id, "message": f"person {p.id} is given twice"})
            continue
        unknown = [x for x in p.departments if x not in depts]
        if unknown:
            errors.append({"id": p.id, "message": f"{p.name}: department {unknown[0]} is not given"})
            p.departments = tuple(x for x in p.departments if x in depts)
        people[p.id] = p
    return Snapshot(list(depts.values()), list(people.values()), errors)


async def plan(s, source: str, snapshot: Snapshot) -> Plan:
    """The difference between `snapshot` and what `source` linked before (reads only)."""
    snapshot = clean(snapshot)
    out = Plan(source, snapshot, errors=list(snapshot.errors))
    rows = (
        await s.execute(
            select(
                Department.id,
                Department.external_id,
                Department.name,
                Department.parent_id,
                Department.sort,
                Department.is_active,
                Department.manager_id,
            ).where(Department.source == source)
        )
    ).all()
    ext_of = {r.id: r.external_id for r in rows}
    known = {r.external_id: r for r in rows}
    out.dept_ids = {r.external_id: r.id for r in rows}
    users = (
        await s.execute(
            select(
                User.id,
                User.name,
                User.email,
                User.mobile,
                User.employee_no,
                User.title,
                User.dingtalk_id,
                User.wecom_id,
                User.is_active,
                User.directory_source,
                User.directory_id,
                User.role,
            )
        )
    ).all()
    linked = {u.directory_id: u for u in users if u.directory_source == source}
    person_of_user = {u.id: u.directory_id for u in users if u.directory_source == source}
    free_by_no = {u.employee_no: u for u in users if not u.directory_source and u.employee_no}
    free_by_email = {u.email.lower(): u for u in users if not u.directory_source}
    email_owner = {u.email.lower(): u.id for u in users}
    no_owner = {u.employee_no: u.id for u in users if u.employee_no}
    given = {p.id for p in snapshot.people}

    for d in snapshot.departments:
        row = known.get(d.id)
        if row is None:
            out.dept_create.append(d)
            continue
        manager = person_of_user.get(row.manager_id) if row.manager_id else None
        if (row.name, ext_of.get(row.parent_id), row.sort, row.is_active, manager) != (
            d.name,
            d.parent,
            d.sort,
            True,
            d.manager if d.manager in given else None,
        ):
            out.dept_change.append((row.id, d))
    wanted = {d.id for d in snapshot.departments}
    out.dept_deactivate = [r.id for r in rows if r.external_id not in wanted and r.is_active]

    members: dict[int, set[int]] = {}
    if rows:
        found = await s.execute(
            select(Membership.user_id, Membership.department_id)
            .join(Department, Department.id == Membership.department_id)
            .where(Department.source == source)
        )
        for user_id, dept_id in found:
            members.setdefault(user_id, set()).add(dept_id)

    claimed: set[int] = set()
    for p in snapshot.people:
        p.email = p.email.strip().lower()
        user = linked.get(p.id)
        if user is None:
            user = (free_by_no.get(p.employee_no) if p.employee_no else None) or (
                free_by_email.get(p.email) if p.email else None
            )
            if user is not None and user.id in claimed:
                user = None
        if user is None:
            problem = taken(p, None, email_owner, no_owner)
            if problem:
                out.errors.append({"id": p.id, "message": problem})
                continue
            out.create.append(p)
            email_owner[p.email or placeholder_email(source, p.id)] = -1
            if p.employee_no:
                no_owner[p.employee_no] = -1
            out.joins += [(p.id, x) for x in p.departments]
            continue
        claimed.add(user.id)
        problem = taken(p, user.id, email_owner, no_owner)
        if problem:
            out.errors.append({"id": p.id, "message": problem})
            continue
        fields = {f: getattr(p, f) for f in PERSON_FIELDS if getattr(p, f) and getattr(p, f) != getattr(user, f)}
        if fields.get("email") and fields["email"] == user.email.lower():
            del fields["email"]
        if user.directory_source != source:
            fields["directory"] = p.id
        if not user.is_active:
            fields["is_active"] = True
        now_in = members.get(user.id, set())
        want = {x for x in p.departments}
        joins = [x for x in want if out.dept_ids.get(x) not in now_in]
        leaves = [d for d in now_in if ext_of.get(d) not in want]
        if joins or leaves:
            fields["departments"] = True
            out.joins += [(user.id, x) for x in joins]
            out.leaves += [(user.id, d) for d in leaves]
        if fields:
            out.change.append((user.id, p, fields))
    for u in linked.values():
        if u.directory_id in given or not u.is_active:
            continue
        if u.role == "admin":  # a site never loses its admins to a directory
            out.errors.append({"id": u.directory_id, "message": f"{u.name}: an IT admin, left active (not given)"})
            continue
        out.deactivate.append(u.id)
    return out


def taken(p: Person, user_id: int | None, email_owner: dict, no_owner: dict) -> str:
    """Why `p` cannot have its email or employee number: another account has it."""
    if p.email and email_owner.get(p.email, user_id) != user_id:
        return f"{p.name}: the email {p.email} belongs to another account"
    if p.employee_no and no_owner.get(p.employee_no, user_id) != user_id:
        return f"{p.name}: the employee number {p.employee_no} belongs to another account"
    return ""


async def apply(s, out: Plan) -> None:
    """Carry out `out` in the session's transaction (the caller commits)."""
    source = out.source
    ids = dict(out.dept_ids)
    if out.dept_create:
        made = await s.execute(
            insert(Department).returning(Department.id, Department.external_id),
            [
                {
                    "name": d.name,
                    "source": source,
                    "external_id": d.id,
                    "sort": d.sort,
                    "is_active": True,
                    "search": search_text(d.name),
                }
                for d in out.dept_create
            ],
        )
        ids.update({ext: pk for pk, ext in made.all()})
    person_ids = {}
    if out.create:
        made = await s.execute(
            insert(User).returning(User.id, User.directory_id),
            [
                {
                    "email": p.email or placeholder_email(source, p.id),
                    "name": p.name[:200],
                    "password_hash": "",
                    "role": "member",
                    "is_active": True,
                    "mobile": p.mobile,
                    "employee_no": p.employee_no or None,
                    "title": p.title,
                    "dingtalk_id": p.dingtalk_id,
                    "wecom_id": p.wecom_id,
                    "directory_source": source,
                    "directory_id": p.id,
                    "billing_tag": "",
                    "wechat_openid": "",
                    "created_at": utcnow(),
                    "search": search_text(p.name, p.email or "", p.employee_no),
                }
                for p in out.create
            ],
        )
        person_ids.update({ext: pk for pk, ext in made.all()})
    for user_id, p, fields in out.change:
        values = {f: getattr(p, f) for f in PERSON_FIELDS if f in fields}
        if "employee_no" in values:
            values["employee_no"] = values["employee_no"] or None
        if "directory" in fields:
            values.update(directory_source=source, directory_id=p.id)
        if "is_active" in fields:
            values["is_active"] = True
        if len(values):
            row = await s.get(User, user_id)
            for k, v in values.items():
                setattr(row, k, v)
        person_ids[p.id] = user_id
    await s.flush()
    # departments' parents and managers once every one has its id
    everyone = {p.id: person_ids.get(p.id) for p in out.snapshot.people}
    if out.dept_create or out.dept_change:
        linked = dict(
            (await s.execute(select(User.directory_id, User.id).where(User.directory_source == source))).all()
        )
        everyone = {k: v or linked.get(k) for k, v in everyone.items()}
        table = Department.__table__
        await s.execute(
            update(table)
            .where(table.c.id == bindparam("did"))
            .values(
                name=bindparam("n"),
                parent_id=bindparam("p"),
                sort=bindparam("o"),
                is_active=True,
                manager_id=bindparam("m"),
                search=bindparam("q"),
            ),
            [
                {
                    "did": ids[d.id],
                    "n": d.name,
                    "p": ids.get(d.parent) if d.parent else None,
                    "o": d.sort,
                    "m": everyone.get(d.manager) if d.manager else None,
                    "q": search_text(d.name),
                }
                for d in [*out.dept_create, *(d for _, d in out.dept_change)]
            ],
        )
    if out.dept_deactivate:
        await s.execute(update(Department).where(Department.id.in_(out.dept_deactivate)).values(is_active=False))
        await s.execute(delete(Membership).where(Membership.department_id.in_(out.dept_deactivate)))
    if out.leaves:
        table = Membership.__table__
        await s.execute(
            delete(table).where(table.c.user_id == bindparam("u"), table.c.department_id == bindparam("d")),
            [{"u": u, "d": d} for u, d in out.leaves],
        )
    if out.joins:
        rows = {
            (user if isinstance(user, int) else person_ids[user], ids[dept])
            for user, dept in out.joins
            if dept in ids and (isinstance(user, int) or user in person_ids)
        }
        await s.execute(insert(Membership), [{"user_id": u, "department_id": d} for u, d in sorted(rows)])
    if out.deactivate:
        await s.execute(update(User).where(User.id.in_(out.deactivate)).values(is_active=False))
        await s.execute(delete(UserSession).where(UserSession.user_id.in_(out.deactivate)))


async def run(db, source: str, snapshot: Snapshot, dry_run: bool = False, by: str = "") -> tuple[Plan, int]:
    """Plan `snapshot` and, unless `dry_run`, apply it; either way the run is recorded.
    (The plan is made again inside the writing transaction, so what is applied is what
    the database holds then.)"""
    started = utcnow()
    if dry_run:
        async with db.session() as s:
            out = await plan(s, source, snapshot)
    else:
        async with db.begin() as s:
            out = await plan(s, source, snapshot)
            await apply(s, out)
    async with db.begin() as s:
        record = SyncRun(
            source=source,
            dry_run=dry_run,
            started_at=started,
            finished_at=utcnow(),
            status="done",
            counts=json.dumps(out.counts()),
            errors=json.dumps(out.errors[:500], ensure_ascii=False),
            by=by,
        )
        s.add(record)
        await s.flush()
        return out, record.id


async def record_failure(db, source: str, message: str, dry_run: bool, by: str, started: dt.datetime) -> int:
    async with db.begin() as s:
        record = SyncRun(
            source=source,
            dry_run=dry_run,
            started_at=started,
            finished_at=utcnow(),
            status="failed",
            errors=json.dumps([{"message": message[:500]}], ensure_ascii=False),
            by=by,
        )
        s.add(record)
        await s.flush()
        return record.id
