"""Users and roles for the IT admin: list, add, change role, deactivate, issue API tokens.

An admin cannot demote or deactivate themself, so a site always keeps one admin.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signage import audit
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
    return render(request, "users.html", ctx, status_code=status_code)


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
        async with request.app.state.db.begin() as s:
            if await s.scalar(select(User.id).where(func.lower(User.email) == email)):
                raise Invalid(_("A user with this email exists already."), {"field": "email"})
            user = User(email=email, name=name or email.split("@")[0], role=role, password_hash=hash_password(password))
            s.add(user)
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
        async with request.app.state.db.begin() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise NotFound(_("No such user."))
            user.role, user.is_active = role, active
    except Invalid as exc:
        await audit.record(request, "user.update", f"user:{user_id}", result="failure", reason=exc.message)
        return await users_page(request, status_code=400, error=exc)
    recent_users(request).entries.clear()
    await audit.record(request, "user.update", f"user:{user_id}", reason=f"role {role}, active {active}")
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
    recent_users(request).entries.clear()
    await audit.record(request, "token.revoke", f"user:{user_id}", reason=f"{len(tokens)} tokens")
    return RedirectResponse("/admin/users", status_code=303)


routes = [
    route("/admin/users", users_page, allow=ADMINS),
    route("/admin/users", add_user, methods=["POST"], allow=ADMINS),
    route("/admin/users/{id:id}", change_user, methods=["POST"], allow=ADMINS),
    route("/admin/users/{id:id}/tokens", issue_token, methods=["POST"], allow=ADMINS),
    route("/admin/users/{id:id}/tokens/revoke", revoke_tokens, methods=["POST"], allow=ADMINS),
]
