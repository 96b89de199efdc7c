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

import asyncio
import hashlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

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


class RecentUsers:
    """Who a token or session belonged to a moment ago: skips a query per request.

    Entries live `ttl` seconds, so a deactivated user or a role change takes
    effect within that time on every process (no invalidation to coordinate).
    Requests that miss together share one query (50 clients arriving at once, or
    all of them when an entry expires, would otherwise each ask).
    """

    def __init__(self, ttl: float = 5.0, size: int = 10_000):
        self.ttl, self.size = ttl, size
        self.entries: dict[object, tuple[float, User | None]] = {}
        self.asking: dict[object, asyncio.Future] = {}

    def get(self, key: object) -> tuple[bool, User | None]:
        hit = self.entries.get(key)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, key: object, user: User | None) -> None:
        if len(self.entries) >= self.size:
            self.entries.clear()
        self.entries[key] = (time.monotonic() + self.ttl, user)

    async def lookup(self, key: object, fetch: Callable[[], Awaitable[User | None]]) -> User | None:
        found, user = self.get(key)
        if found:
            return user
        if key in self.asking:
            return await asyncio.shield(self.asking[key])
        future = self.asking[key] = asyncio.get_running_loop().create_future()
        try:
            user = await fetch()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no warning when nobody else was waiting
            raise
        else:
            self.put(key, user)
            future.set_result(user)
            return user
        finally:
            del self.asking[key]


class BatchLoader:
    """Loads by key, many keys in one query: the keys asked for while a query runs wait
    for it and then go together in the next one (a heartbeat from each of 10,000
    screens: a few hundred queries a minute instead of 10,000)."""

    def __init__(self, fetch: Callable[[list], Awaitable[dict]], limit: int = 500):
        self.fetch, self.limit = fetch, limit
        self.waiting: dict[object, list[asyncio.Future]] = {}
        self.task: asyncio.Task | None = None

    async def load(self, key: object):
        done = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(key, []).append(done)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run())
        return await done

    async def _run(self) -> None:
        while self.waiting:
            keys = list(self.waiting)[: self.limit]
            futures = {k: self.waiting.pop(k) for k in keys}
            try:
                found = await self.fetch(keys)
            except Exception as exc:
                for waiters in futures.values():
                    for w in waiters:
                        if not w.done():
                            w.set_exception(exc)
                continue
            for k, waiters in futures.items():
                for w in waiters:
                    if not w.done():
                        w.set_result(found.get(k))


def recent_users(request: Request) -> RecentUsers:
    state = request.app.state
    if not hasattr(state, "recent_users"):
        state.recent_users = RecentUsers()
    return state.recent_users


async def user_from_token(request: Request, token: str) -> User | None:
    key = ("token", hash_token(token))
    return await recent_users(request).lookup(key, lambda: _user_from_token(request, key[1]))


async def _user_from_token(request: Request, token_hash: str) -> User | None:
    db = request.app.state.db
    async with db.session() as s:
        row = (
            await s.execute(
                select(User, ApiToken.id)
                .join(ApiToken, ApiToken.user_id == User.id)
                .where(ApiToken.token_hash == token_hash)
            )
        ).first()
    if row is None or not row[0].is_active:
        return None
    return row[0]


async def _user_by_id(request: Request, user_id: int) -> User | None:
    async with request.app.state.db.session() as s:
        return await s.get(User, user_id)


async def user_from_session(request: Request) -> User | None:
    user_id = request.session.get("user_id")
    if not user_id:
        return None
    user = await recent_users(request).lookup(("user", user_id), lambda: _user_by_id(request, user_id))
    if user is None or not user.is_active:
        request.session.clear()
        return None
    return user


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
) -> Route:
    if isinstance(allow, tuple):
        unknown = set(allow) - set(ROLES)
        assert not unknown, f"unknown roles {unknown} on {path}"

    if allow == SCREEN:
        csrf = False

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
            return await endpoint(request)
        except AppError as exc:
            await audit_refusal(request, path, exc)
            raise

    async def app(scope, receive, send) -> None:
        # Starlette's `request_response`, without its second exception layer: the
        # app's ExceptionMiddleware answers errors with the same handlers.
        response = await guarded(Request(scope, receive, send))
        await response(scope, receive, send)

    r = Route(path, guarded, methods=list(methods), name=name or endpoint.__name__)
    r.app = app
    r.allow = allow  # type: ignore[attr-defined]  # read by tests/test_roles.py
    return r
