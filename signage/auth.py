"""Who is asking, and may they: passwords, sessions, API tokens, roles, CSRF.

Every route is made with `route(path, endpoint, allow=...)`: `allow` is PUBLIC,
SIGNED_IN, SCREEN (a player with its key), or a tuple of roles (admin may always). The wrapper finds the user
(Bearer token, else session cookie), checks the role, and checks the CSRF token
of every unsafe request that rides on the session cookie (form field
`csrf_token` or header `X-CSRF-Token`). Bearer requests carry no cookie, so
they need no CSRF token. Routes that authenticate otherwise (screens with their
own key, or before any session exists) say `csrf=False`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from signage import idempotency, sessions
from signage.batching import BatchLoader, TimedCache
from signage.db import utcnow
from signage.errors import AppError, Forbidden, Unauthorized
from signage.i18n import LOCALES, current_locale
from signage.i18n import gettext as _
from signage.models import ApiToken, User
from signage.settings import ROLES

MAX_ID = 2**31 - 1  # the largest id a database row has (PostgreSQL's INTEGER)


class IdConvertor(Convertor):
    """`{name:id}` in a route's path: a row's id, 1 to MAX_ID. Anything else is no such
    path (404), where `{name:int}` let 20 digits through to the database."""

    regex = (
        "[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}|2147[0-3][0-9]{5}"
        "|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}|21474836[0-3][0-9]|214748364[0-7]"
    )

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())

PUBLIC = "public"
SIGNED_IN = "signed_in"
SCREEN = "screen"  # a paired player, by its own key; no user, no cookie, no CSRF
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str = "sgn") -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


RECENT_SECONDS = 5.0  # a deactivated user or a role change takes effect within this on every process


def recent_users(request: Request) -> TimedCache:
    """Who a token or session belonged to a moment ago (skips a query per request), by
    ("token", hash) or ("session", hash) (then (user, session id)); kept `RECENT_SECONDS`, so no invalidation needs to
    reach other processes. Requests that miss together share one query."""
    state = request.app.state
    if not hasattr(state, "recent_users"):
        state.recent_users = TimedCache(RECENT_SECONDS, size=10_000)
    return state.recent_users


async def user_from_token(request: Request, token: str) -> User | None:
    key = ("token", hash_token(token))
    return await recent_users(request).get(key, lambda: _user_from_token(request, key[1]))


async def _user_from_token(request: Request, token_hash: str) -> User | None:
    """The token's user, if the token is known, not expired, and its user active. Its
    `last_used_at` is written at most once a minute (this runs once per `RECENT_SECONDS`)."""
    db = request.app.state.db
    now = utcnow()
    async with db.session() as s:
        row = (
            await s.execute(
                select(User, ApiToken.id, ApiToken.expires_at, ApiToken.last_used_at)
                .join(ApiToken, ApiToken.user_id == User.id)
                .where(ApiToken.token_hash == token_hash)
            )
        ).first()
    if row is None or not row[0].is_active or (row[2] is not None and row[2] <= now):
        return None
    if row[3] is None or row[3] < now - dt.timedelta(minutes=1):
        async with db.begin() as s:
            await s.execute(update(ApiToken).where(ApiToken.id == row[1]).values(last_used_at=now))
    return row[0]


async def user_from_session(request: Request) -> User | None:
    """The user of the session the cookie names (`signage.sessions`); a cookie whose
    session has ended is emptied."""
    key = request.session.get("sid")
    if not isinstance(key, str) or not key:
        if "user_id" in request.session:  # a cookie from before sessions were rows
            request.session.clear()
        return None
    key_hash = hash_token(key)
    found = await recent_users(request).get(("session", key_hash), lambda: sessions.lookup(request, key_hash))
    if found is None:
        request.session.clear()
        return None
    request.state.session_id = found[1]
    return found[0]


async def authenticate(request: Request) -> None:
    """Set `request.state.user` and `request.state.via` ("token", "session" or None)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = await user_from_token(request, header[7:].strip())
        if user is None:
            raise Unauthorized(_("The API token is not valid."))
        request.state.user, request.state.via = user, "token"
        return
    user = await user_from_session(request)
    request.state.user, request.state.via = user, ("session" if user else None)


async def authenticate_screen(request: Request):
    """The screen whose key the request carries (header `X-Screen-Key`, or `?key=`
    where a browser cannot set headers, as for EventSource)."""
    from player.models import Screen

    key = request.headers.get("x-screen-key") or request.query_params.get("key") or ""
    if not key:
        raise Unauthorized(_("This screen has no key."))
    state = request.app.state
    if not hasattr(state, "screen_keys"):

        async def fetch(hashes: list[str]) -> dict:
            async with state.db.session() as s:
                found = (await s.scalars(select(Screen).where(Screen.key_hash.in_(hashes)))).all()
            return {screen.key_hash: screen for screen in found}

        state.screen_keys = BatchLoader(fetch)
    screen = await state.screen_keys.load(hash_token(key))
    if screen is None:
        raise Unauthorized(_("This screen is not known; pair it again."))
    return screen


async def check_csrf(request: Request) -> None:
    expected = request.session.get("csrf")
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        given = form.get("csrf_token")
    if not expected or not isinstance(given, str) or not secrets.compare_digest(expected, given):
        raise Forbidden(_("The form has expired. Reload the page and try again."))


async def audit_refusal(request: Request, path: str, exc: AppError) -> None:
    """Every refused change by a known user is in the audit log, even where the
    handler did not log it itself (then its action is the method and route)."""
    if request.method in SAFE_METHODS or request.state.user is None or getattr(request.state, "audited", False):
        return
    from signage import audit

    route_path = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)  # "/api/v1/layouts/{id}/publish"
    await audit.record(
        request, f"{request.method} {route_path}", request.url.path, result="failure", reason=exc.message
    )


def allowed(user: User | None, allow: str | tuple[str, ...]) -> bool:
    if allow == PUBLIC:
        return True
    if user is None:
        return False
    return allow == SIGNED_IN or user.role == "admin" or user.role in allow


def route(
    path: str,
    endpoint: Callable[[Request], Awaitable[Response]],
    methods: Iterable[str] = ("GET",),
    allow: str | tuple[str, ...] = SIGNED_IN,
    csrf: bool = True,
    name: str | None = None,
    own_idempotency: bool = False,
) -> Route:
    """A route that lets in only whom `allow` names (and checks CSRF on cookie writes).
    API writes with an `Idempotency-Key` are answered once (`signage.idempotency`),
    unless the endpoint handles its keys itself (`own_idempotency`)."""
    if isinstance(allow, tuple):
        unknown = set(allow) - set(ROLES)
        assert not unknown, f"unknown roles {unknown} on {path}"

    if allow == SCREEN:
        csrf = False
    keyed = not own_idempotency

    async def guarded(request: Request) -> Response:
        if allow == SCREEN:
            request.state.screen = await authenticate_screen(request)
            request.state.user = request.state.via = None
            return await endpoint(request)
        await authenticate(request)
        user = request.state.user
        if user is not None and user.locale in LOCALES and not request.scope.get("signage.lang_cookie"):
            current_locale.set(user.locale)
        try:
            if not allowed(user, allow):
                if user is None:
                    raise Unauthorized(_("Please sign in."))
                raise Forbidden(_("Your role may not do this."))
            if csrf and request.method not in SAFE_METHODS and request.state.via != "token":
                await check_csrf(request)
            if keyed and idempotency.applies(request):
                return await idempotency.answer(request, endpoint)
            return await endpoint(request)
        except AppError as exc:
            await audit_refusal(request, path, exc)
            raise

    r = GuardedRoute(path, Guarded(guarded), methods=list(methods), name=name or endpoint.__name__)
    r.allow = allow  # read by tests/signage/test_roles.py
    return r


class Guarded:
    """A guarded endpoint as a plain ASGI app: Starlette's `request_response` without its
    second exception layer (the app's ExceptionMiddleware answers errors with the same
    handlers). A `Route` whose endpoint is not a function calls it as ASGI."""

    def __init__(self, guarded: Callable[[Request], Awaitable[Response]]):
        self.guarded = guarded

    async def __call__(self, scope, receive, send) -> None:
        response = await self.guarded(Request(scope, receive, send))
        await response(scope, receive, send)


class GuardedRoute(Route):
    allow: str | tuple[str, ...]
