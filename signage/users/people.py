"""Users and roles for the IT admin: list, add, change role, deactivate, issue API tokens,
set where notices reach them (contacts: signage/notify/preferences.py).

An admin cannot demote or deactivate themself, so a site always keeps one admin.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signage import audit, sessions
from signage.auth import hash_password, hash_token, new_token, recent_users, route
from signage.errors import Invalid, NotFound
from signage.i18n import gettext as _
from signage.models import ApiToken, User
from signage.settings import ROLES
from signage.templating import render

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ADMINS = ("admin",)


async def users_page(request: Request, status_code: int = 200, error: Invalid | None = None, **extra) -> Response:
    async with request.app.state.db.session() as s:
        users = (await s.scalars(select(User).order_by(User.email))).all()
        counts = dict((await s.execute(select(ApiToken.user_id, func.count()).group_by(ApiToken.user_id))).all())
    ctx = {"users": users, "roles": ROLES, "tokens": counts, "error": error, **extra}
    return render(request, "users/users.html", ctx, status_code=status_code)


def employee_no_of(form) -> str | None:
    """The form's employee number: None when empty (several users may have none)."""
    value = str(form.get("employee_no", "")).strip()
    if len(value) > 64:
        raise Invalid(_("An employee number has at most 64 characters."), {"field": "employee_no"})
    return value or None


def billing_tag_of(form) -> str | None:
    """The billing tag a rate card's rules match (booking_api/billing); None: not in the form."""
    if "billing_tag" not in form:
        return None
    value = str(form.get("billing_tag", "")).strip()
    if len(value) > 60:
        raise Invalid(_("A billing tag has at most 60 characters."), {"field": "billing_tag"})
    return value


async def refuse_taken(s, employee_no: str | None, user_id: int | None = None) -> None:
    if employee_no is None:
        return
    other = await s.scalar(select(User.id).where(User.employee_no == employee_no))
    if other is not None and other != user_id:
        raise Invalid(_("Another user has this employee number."), {"field": "employee_no"})


def check_role(role: str) -> str:
    if role not in ROLES:
        raise Invalid(_("Unknown role."), {"field": "role"})
    return role


async def add_user(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email", "")).strip().lower()
    name = str(form.get("name", "")).strip()[:200]
    password = str(form.get("password", ""))
    try:
        if not EMAIL.match(email) or len(email) > 254:
            raise Invalid(_("Enter a valid email address."), {"field": "email"})
        if len(password) < 8:
            raise Invalid(_("The password needs at least 8 characters."), {"field": "password"})
        role = check_role(str(form.get("role", "")))
        employee_no = employee_no_of(form)
        async with request.app.state.db.begin() as s:
            if await s.scalar(select(User.id).where(func.lower(User.email) == email)):
                raise Invalid(_("A user with this email exists already."), {"field": "email"})
            await refuse_taken(s, employee_no)
            user = User(email=email, name=name or email.split("@")[0], role=role, password_hash=hash_password(password),
                        employee_no=employee_no)  # fmt: skip
            s.add(user)
    except IntegrityError:  # the same number given at the same moment
        exc = Invalid(_("Another user has this employee number."), {"field": "employee_no"})
        await audit.record(request, "user.create", email[:200], result="failure", reason=exc.message)
        return await users_page(request, status_code=400, error=exc)
    except Invalid as exc:
        await audit.record(request, "user.create", email[:200], result="failure", reason=exc.message)
        return await users_page(request, status_code=400, error=exc)
    await audit.record(request, "user.create", f"user:{user.id}", reason=f"role {role}")
    return RedirectResponse("/admin/users", status_code=303)


async def change_user(request: Request) -> Response:
    form = await request.form()
    user_id = request.path_params["id"]
    try:
        role = check_role(str(form.get("role", "")))
        active = form.get("active") is not None
        if user_id == request.state.user.id and (role != "admin" or not active):
            raise Invalid(_("You cannot remove your own admin role or deactivate yourself."))
        given = "employee_no" in form  # a form without the field leaves the number as it is
        employee_no = employee_no_of(form) if given else None
        tag = billing_tag_of(form)
        async with request.app.state.db.begin() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise NotFound(_("No such user."))
            if given:
                await refuse_taken(s, employee_no, user.id)
                user.employee_no = employee_no
            if tag is not None:
                user.billing_tag = tag
            changed = (user.role, user.is_active) != (role, active)
            user.role, user.is_active = role, active
            if changed:  # what a session was let do has changed: every session of the user ends
                await sessions.end_all(request, user_id, session=s)
    except IntegrityError:
        exc = Invalid(_("Another user has this employee number."), {"field": "employee_no"})
        await audit.record(request, "user.update", f"user:{user_id}", result="failure", reason=exc.message)
        return await users_page(request, status_code=400, error=exc)
    except Invalid as exc:
        await audit.record(request, "user.update", f"user:{user_id}", result="failure", reason=exc.message)
        return await users_page(request, status_code=400, error=exc)
    recent_users(request).clear()
    number = f", employee number {employee_no or '-'}" if given else ""
    number += f", billing tag {tag or '-'}" if tag is not None else ""
    await audit.record(request, "user.update", f"user:{user_id}", reason=f"role {role}, active {active}{number}")
    return RedirectResponse("/admin/users", status_code=303)


async def change_contacts(request: Request) -> Response:
    """Where notices reach a user (their mobile, DingTalk, WeCom, WeChat ids), set by an admin."""
    from signage.notify.preferences import check_contacts

    form = await request.form()
    user_id = request.path_params["id"]
    try:
        contacts = check_contacts(form)
        async with request.app.state.db.begin() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise NotFound(_("No such user."))
            for name, value in contacts.items():
                setattr(user, name, value)
            s.add(audit.entry(request, "user.contacts", f"user:{user_id}"))
    except Invalid as exc:
        await audit.record(request, "user.contacts", f"user:{user_id}", result="failure", reason=exc.message)
        return await users_page(request, status_code=400, error=exc)
    return RedirectResponse("/admin/users", status_code=303)


async def sign_out_user(request: Request) -> Response:
    """An admin's "sign out everywhere" for a user: every session of theirs ends."""
    user_id = request.path_params["id"]
    async with request.app.state.db.session() as s:
        if await s.get(User, user_id) is None:
            raise NotFound(_("No such user."))
    count = await sessions.end_all(request, user_id)
    await audit.record(request, "auth.sign_out_everywhere", f"user:{user_id}", reason=f"{count} sessions")
    if user_id == request.state.user.id:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/admin/users", status_code=303)


async def issue_token(request: Request) -> Response:
    """A new API token for the user, shown once."""
    user_id = request.path_params["id"]
    form = await request.form()
    label = str(form.get("name", "")).strip()[:100] or "api"
    value = new_token()
    async with request.app.state.db.begin() as s:
        user = await s.get(User, user_id)
        if user is None:
            raise NotFound(_("No such user."))
        s.add(ApiToken(user_id=user.id, token_hash=hash_token(value), name=label))
    await audit.record(request, "token.create", f"user:{user_id}", reason=label)
    return await users_page(request, new_token=value, token_user=user.email)


async def revoke_tokens(request: Request) -> Response:
    user_id = request.path_params["id"]
    async with request.app.state.db.begin() as s:
        tokens = (await s.scalars(select(ApiToken).where(ApiToken.user_id == user_id))).all()
        for token in tokens:
            await s.delete(token)
    recent_users(request).clear()
    await audit.record(request, "token.revoke", f"user:{user_id}", reason=f"{len(tokens)} tokens")
    return RedirectResponse("/admin/users", status_code=303)


routes = [
    route("/admin/users", users_page, allow=ADMINS),
    route("/admin/users", add_user, methods=["POST"], allow=ADMINS),
    route("/admin/users/{id:id}", change_user, methods=["POST"], allow=ADMINS),
    route("/admin/users/{id:id}/contacts", change_contacts, methods=["POST"], allow=ADMINS),
    route("/admin/users/{id:id}/sessions/end", sign_out_user, methods=["POST"], allow=ADMINS),
    route("/admin/users/{id:id}/tokens", issue_token, methods=["POST"], allow=ADMINS),
    route("/admin/users/{id:id}/tokens/revoke", revoke_tokens, methods=["POST"], allow=ADMINS),
]
