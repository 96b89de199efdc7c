"""A user's own account (`/account`): their signed-in sessions and API tokens, ending
and revoking them, signing out everywhere, changing their password, and how notices reach
them (contacts, channels per kind, reminder minutes: signage/notify/preferences.py)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signage import audit, sessions
from signage.auth import SIGNED_IN, hash_password, hash_token, new_token, recent_users, route, verify_password
from signage.db import utcnow
from signage.errors import Invalid, NotFound
from signage.i18n import gettext as _
from signage.models import ApiToken, User
from signage.notify import preferences
from signage.templating import render

MAX_TOKEN_DAYS = 3650


async def account_page(request: Request, status_code: int = 200, error: Invalid | None = None, **extra) -> Response:
    user = request.state.user
    async with request.app.state.db.session() as s:
        tokens = (await s.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))).all()
    ctx = {
        "sessions": await sessions.of_user(request, user.id),
        "current_session": getattr(request.state, "session_id", None),
        "tokens": tokens,
        "now": utcnow(),
        "error": error,
        **await preferences.context(request, user.id),
        **extra,
    }
    return render(request, "users/account.html", ctx, status_code=status_code)


async def change_password(request: Request) -> Response:
    """A new password ends every session of the user; this browser gets a new one."""
    form = await request.form()
    user = request.state.user
    current, new = str(form.get("current", "")), str(form.get("password", ""))
    try:
        async with request.app.state.db.begin() as s:
            row = await s.get(User, user.id)
            if not verify_password(row.password_hash, current):
                raise Invalid(_("The current password is wrong."), {"field": "current"})
            if len(new) < 8:
                raise Invalid(_("The password needs at least 8 characters."), {"field": "password"})
            row.password_hash = hash_password(new)
            await sessions.end_all(request, user.id, session=s)
    except Invalid as exc:
        await audit.record(request, "user.password", f"user:{user.id}", result="failure", reason=exc.message)
        return await account_page(request, status_code=400, error=exc)
    await sessions.start(request, row)
    await audit.record(request, "user.password", f"user:{user.id}", user=row, reason="all sessions ended")
    return await account_page(request, message=_("Your password is changed. Your other sessions are signed out."))


def token_days(value: str) -> int | None:
    """ "" → None (never expires); "30" → 30; anything else is refused."""
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_TOKEN_DAYS:
        raise Invalid(_("A token lasts 1 to %(days)s days, or leave it empty.", days=MAX_TOKEN_DAYS), {"field": "days"})
    return int(value)


async def create_token(request: Request) -> Response:
    user = request.state.user
    form = await request.form()
    label = str(form.get("name", "")).strip()[:100] or "api"
    try:
        days = token_days(str(form.get("days", "")))
    except Invalid as exc:
        return await account_page(request, status_code=400, error=exc)
    expires = utcnow() + dt.timedelta(days=days) if days else None
    value = new_token()
    async with request.app.state.db.begin() as s:
        s.add(ApiToken(user_id=user.id, token_hash=hash_token(value), name=label, expires_at=expires))
    await audit.record(request, "token.create", f"user:{user.id}", reason=label)
    return await account_page(request, new_token=value)


async def revoke_token(request: Request) -> Response:
    user, token_id = request.state.user, request.path_params["id"]
    async with request.app.state.db.begin() as s:
        result = await s.execute(delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if not result.rowcount:
        raise NotFound(_("No such token."))
    recent_users(request).clear()
    await audit.record(request, "token.revoke", f"user:{user.id}", reason=f"token {token_id}")
    return RedirectResponse("/account", status_code=303)


async def end_session(request: Request) -> Response:
    user, session_id = request.state.user, request.path_params["id"]
    if not await sessions.end_one(request, user.id, session_id):
        raise NotFound(_("No such session."))
    await audit.record(request, "auth.session_end", f"user:{user.id}", reason=f"session {session_id}")
    if session_id == getattr(request.state, "session_id", None):
        request.session.clear()
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/account", status_code=303)


async def sign_out_everywhere(request: Request) -> Response:
    user = request.state.user
    count = await sessions.end_all(request, user.id)
    request.session.clear()
    await audit.record(request, "auth.sign_out_everywhere", f"user:{user.id}", reason=f"{count} sessions")
    return RedirectResponse("/login", status_code=303)


routes = [
    route("/account", account_page, allow=SIGNED_IN),
    route("/account/password", change_password, methods=["POST"], allow=SIGNED_IN),
    route("/account/tokens", create_token, methods=["POST"], allow=SIGNED_IN),
    route("/account/tokens/{id:id}/revoke", revoke_token, methods=["POST"], allow=SIGNED_IN),
    route("/account/sessions/{id:id}/end", end_session, methods=["POST"], allow=SIGNED_IN),
    route("/account/sessions/end", sign_out_everywhere, methods=["POST"], allow=SIGNED_IN),
]
