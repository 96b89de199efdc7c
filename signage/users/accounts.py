"""Signing in and out, the home page, the language switch, who am I."""

from __future__ import annotations

from urllib.parse import urlparse

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signage import audit, sessions, throttle
from signage.auth import PUBLIC, SIGNED_IN, csrf_token, recent_users, route, verify_password
from signage.i18n import LOCALES, ngettext
from signage.i18n import gettext as _
from signage.models import User
from signage.responses import JSONResponse
from signage.signin import passwords
from signage.templating import render


def safe_next(target: str | None) -> str:
    """Only same-site paths: `/layouts` yes, `//evil.example` or `https://…` no."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def login_context(request: Request, **extra) -> dict:
    """What the login page offers, as the site enables it."""
    from signage.signin import inapp, oidc

    db = request.app.state.db
    ways = await inapp.choices(db)
    if (company := await oidc.choice(db)) is not None:
        ways.insert(0, company)
    return {"ldap": await passwords.ldap_on(db), "inapp": ways, **extra}


async def login_page(request: Request) -> Response:
    csrf_token(request)
    ctx = await login_context(request, next=safe_next(request.query_params.get("next")), email="")
    return render(request, "users/login.html", ctx)


async def login(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email", "")).strip().lower()
    password = str(form.get("password", ""))
    next_url = safe_next(str(form.get("next", "/")))
    async with request.app.state.db.session() as s:
        user = await s.scalar(select(User).where(func.lower(User.email) == email))
    seconds = await throttle.wait(request, email, user)
    if seconds:
        await audit.record(request, "auth.login", email[:200], result="failure", reason=throttle.THROTTLED)
        minutes = (seconds + 59) // 60
        error = ngettext(
            "Too many failed sign-ins. Try again in %(num)d minute.",
            "Too many failed sign-ins. Try again in %(num)d minutes.",
            minutes,
        )
        ctx = await login_context(request, next=next_url, email=email, error=error)
        response = render(request, "users/login.html", ctx, status_code=429)
        response.headers["Retry-After"] = str(seconds)
        return response
    if user is not None and user.password_hash and verify_password(user.password_hash, password):
        pass  # a local password (admins, accounts made here) works as before
    elif user is None or not user.password_hash or user.directory_source == "ldap":
        user = await passwords.ldap_user(request.app.state.db, email, password)  # the directory's password
    else:
        user = None
    if user is None or not user.is_active:
        await audit.record(request, "auth.login", email[:200], result="failure", reason=throttle.BAD_PASSWORD)
        ctx = await login_context(request, next=next_url, email=email, error=_("The email or password is wrong."))
        return render(request, "users/login.html", ctx, status_code=400)
    await sessions.start(request, user)
    await audit.record(request, "auth.login", f"user:{user.id}", user=user)
    response = RedirectResponse(next_url, status_code=303)
    throttle.remember_device(request, response, user)
    return response


async def logout(request: Request) -> Response:
    await sessions.end(request)
    await audit.record(request, "auth.logout", f"user:{request.state.user.id}")
    return RedirectResponse("/login", status_code=303)


async def home(request: Request) -> Response:
    return render(request, "users/home.html")


async def switch_language(request: Request) -> Response:
    """`/lang/en?next=/media`: remember the choice in a cookie (and on the user)."""
    code = request.path_params["code"]
    if code not in LOCALES:
        code = LOCALES[0]
    user = request.state.user
    if user is not None:
        async with request.app.state.db.begin() as s:
            row = await s.get(User, user.id)
            row.locale = code
        recent_users(request).clear()
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="lax")
    return response


async def me(request: Request) -> Response:
    u = request.state.user
    return JSONResponse({"id": u.id, "email": u.email, "name": u.name, "role": u.role, "locale": u.locale})


routes = [
    route("/", home, allow=SIGNED_IN),
    route("/login", login_page, allow=PUBLIC),
    route("/login", login, methods=["POST"], allow=PUBLIC),
    route("/logout", logout, methods=["POST"], allow=SIGNED_IN),
    route("/lang/{code}", switch_language, allow=PUBLIC),
    route("/api/v1/me", me, allow=SIGNED_IN),
]
