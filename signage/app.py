"""The application: settings, database and event bus made in the lifespan; every
folder's `routes` mounted; one error handler; sessions, language and body limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import Session, SessionMiddleware
from starlette.requests import cookie_parser
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import signage.eventlog.api
from signage import audit, errors, health, i18n, live, openapi, security
from signage.db import Database
from signage.eventlog.dispatch import Dispatcher
from signage.events import EventBus
from signage.folders import asset_dirs
from signage.notify import admin as notify_admin
from signage.notify import answers as notify_answers
from signage.notify import channels_admin as notify_channels
from signage.notify import editor as notify_editor
from signage.notify import inbox as notify_inbox
from signage.notify import invites
from signage.notify import preferences as notify_preferences
from signage.notify.outbox import Outbox
from signage.settings import Settings, current_settings
from signage.users import account, accounts, people
from signage.webhooks import admin as webhooks_admin
from signage.webhooks import deliveries as webhook_deliveries
from signage.webhooks import subscriptions as webhook_subscriptions

log = logging.getLogger("signage")


class Front:
    """What every request needs before its route, in one layer (each layer costs every
    request a frame, and every response message a wrapped `send`):

    - its language (the `lang` cookie, else Accept-Language; the signed-in user's own
      choice is applied by `signage.auth` once the user is known), the site's time zone
      and settings;
    - the body limit: 413 for a body announced or streamed over `max_upload_bytes` (a
      body with a Content-Length is never longer: the HTTP parser stops there);
    - the signed-cookie session (Starlette's), passed by for machine clients: a request
      with a Bearer token or a screen key (header, or `?key=` on the player's API) and
      no cookie has no session to read or keep (it gets an empty one), so it skips the
      cookie parsing and the wrapped `send` (a screen stream sends for hours);
    - the security headers of every other answer (`signage.security`): pages, static
      files, and API answers to browsers; CORS headers for the allowed origins
      (SIGNAGE_CORS_ORIGINS), and OPTIONS answered for every path (`Allow`, preflights).
    """

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app, self.settings, self.max_bytes = app, settings, settings.max_upload_bytes
        self.headers = security.security_headers(settings)
        self.sessions = SessionMiddleware(
            app,
            secret_key=settings.secret_key,
            session_cookie="signage_session",
            max_age=14 * 24 * 3600,
            same_site="lax",
            https_only=settings.secure_cookies,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.sessions(scope, receive, send)
        headers = dict(scope["headers"])
        cookie_header = headers.get(b"cookie")
        cookie = cookie_parser(cookie_header.decode("latin-1")).get("lang") if cookie_header else None
        accept = headers.get(b"accept-language", b"").decode("latin-1")
        scope["signage.lang_cookie"] = cookie
        i18n.current_locale.set(i18n.pick_locale(cookie, None, accept, self.settings.default_locale))
        i18n.site_timezone.set(self.settings.timezone)
        current_settings.set(self.settings)
        length = headers.get(b"content-length")
        if length is not None:
            if length.isdigit() and int(length) > self.max_bytes:
                return await self._refuse(scope, receive, send)
        elif scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            receive = self._limited(receive)
        if scope["method"] == "OPTIONS":
            answer = security.options_answer(scope, self.settings, route_path(scope))
            if answer is not None:
                status, extra = answer
                await send({"type": "http.response.start", "status": status, "headers": [*extra, *self.headers]})
                return await send({"type": "http.response.body", "body": b""})
        if self.settings.cors_origins and b"origin" in headers:
            origin = security.cors_origin(self.settings, headers[b"origin"].decode("latin-1"))
            if origin is not None:
                send = self._with(send, security.cors_headers(origin))
        if cookie_header is None and (
            b"authorization" in headers
            or b"x-screen-key" in headers
            or (scope["path"].startswith("/player/api/") and b"key=" in scope.get("query_string", b""))
        ):
            scope["session"] = Session()
            return await self.app(scope, receive, send)
        await self.sessions(scope, receive, self._with(send, self.headers))

    def _with(self, send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":  # a header the answer set itself stays as it is
                headers = list(message.get("headers", ()))
                present = {name for name, _value in headers}
                message["headers"] = headers + [h for h in extra if h[0] not in present]
            await send(message)

        return with_headers

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise errors.TooLarge(_too_large(self.max_bytes))
            return message

        return limited

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.requests import Request

        response = errors.render_error(Request(scope, receive), 413, "too_large", _too_large(self.max_bytes))
        await response(scope, receive, self._with(send, self.headers))


def _too_large(max_bytes: int) -> str:
    return i18n.gettext("The upload is larger than %(mb)s MB.", mb=max_bytes // (1024 * 1024))


def route_path(scope: Scope) -> str:
    """The path the router matches: `path` without the `root_path` it is mounted at."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("/", ""):
        return path[len(root) :]
    return path


class RouteIndex:
    """The routes a path can match, found by its segments instead of trying each route.

    Every `Route` whose path has no `{...:path}` parameter is filed in a tree by its
    path's segments (a segment with a parameter is a wildcard: no other convertor spans a
    `/`); a `Mount` with a plain path is filed at its prefix. A request's path walks the
    tree; the routes found, with those not filed (anything else), are the only ones that
    can match it, and are tried in the router's own order, so the first match stays the
    one Starlette's loop gives.
    """

    ANY, HERE, UNDER = object(), object(), object()  # node keys: wildcard; routes ending here; mounts

    def __init__(self, routes: list[BaseRoute]):
        self.count = len(routes)
        self.root: dict = {}
        self.always: list[tuple[int, BaseRoute]] = []
        for order, r in enumerate(routes):
            path = getattr(r, "path", None)
            if isinstance(r, Route) and ":path}" not in path:
                where = self.HERE
            elif isinstance(r, Mount) and path and "{" not in path:
                where = self.UNDER
            else:
                self.always.append((order, r))
                continue
            node = self.root
            for segment in path.split("/"):
                node = node.setdefault(self.ANY if "{" in segment else segment, {})
            node.setdefault(where, []).append((order, r))

    def candidates(self, path: str) -> list[BaseRoute]:
        found = list(self.always)
        nodes = [self.root]
        for segment in path.split("/"):
            nodes = [child for node in nodes for child in (node.get(segment), node.get(self.ANY)) if child is not None]
            if not nodes:
                break
            for node in nodes:
                found += node.get(self.UNDER, ())
        for node in nodes:
            found += node.get(self.HERE, ())
        found.sort(key=lambda hit: hit[0])
        return [r for _order, r in found]


class IndexedRouter(Router):
    """Starlette's router, trying only the routes a path can match (`RouteIndex`).

    Starlette tries the ~250 routes one by one, with a regular expression each (a fifth of
    a primary-key read's time). The first full match, else the first partial one (405),
    is taken exactly as Starlette's loop takes it; a path nothing matches goes through
    Starlette's own loop (its redirect of a trailing slash, then 404).
    """

    _indexed: RouteIndex | None = None

    def _index(self) -> RouteIndex:
        index = self._indexed
        if index is None or index.count != len(self.routes):
            index = self._indexed = RouteIndex(self.routes)
        return index

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            partial = None
            for r in self._index().candidates(route_path(scope)):
                match, child_scope = r.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = r
                    scope.update(child_scope)
                    await r.handle(scope, receive, send)
                    return
                if match is Match.PARTIAL and partial is None:
                    partial = r, child_scope
            if partial is not None:
                scope.setdefault("router", self)
                scope["route"] = partial[0]
                scope.update(partial[1])
                await partial[0].handle(scope, receive, send)
                return
        await super().app(scope, receive, send)


def all_routes() -> list:
    import booking_api.routes
    import media.api
    import media.library
    import media.serving
    import player.plays
    import player.routes
    import player.screens
    import playlists.editor
    import playlists.emergency
    import playlists.layouts
    import playlists.playlists
    import playlists.schedules
    import signage.directory.admin
    import signage.directory.api
    import signage.signin.inapp
    import signage.signin.oidc
    import widgets.preview

    return [
        *accounts.routes,
        *account.routes,
        *health.routes,
        *openapi.routes,
        *audit.routes,
        *people.routes,
        *signage.directory.api.routes,
        *signage.directory.admin.routes,
        *signage.signin.inapp.routes,
        *signage.signin.oidc.routes,
        *notify_admin.routes,
        *webhook_subscriptions.routes,
        *webhooks_admin.routes,
        *notify_answers.routes,
        *notify_editor.routes,
        *notify_channels.routes,
        *notify_preferences.routes,
        *notify_inbox.routes,
        *signage.eventlog.api.routes,
        *live.routes,
        *media.library.routes,
        *media.api.routes,
        *media.serving.routes,
        *playlists.layouts.routes,
        *playlists.editor.routes,
        *playlists.playlists.routes,
        *playlists.schedules.routes,
        *playlists.emergency.routes,
        *widgets.preview.routes,
        *player.plays.routes,
        *player.screens.routes,
        *player.routes.routes,
        *booking_api.routes.routes,
        # the deepest package first: /static/signage/directory/… is signage/directory's, not signage's
        *(
            Mount(f"/static/{package}", StaticFiles(directory=folder))
            for package, folder in sorted(asset_dirs("static"), key=lambda found: -found[0].count("/"))
        ),
    ]


STOP_SECONDS = 15.0  # each part's stop, at most: a stop never hangs the server's shutdown


async def stopped(name: str, stop) -> None:
    """Await a part's stop; one that takes longer than STOP_SECONDS is given up (cancelled)
    with a warning naming it, so that the rest still stops."""
    try:
        await asyncio.wait_for(stop(), STOP_SECONDS)
    except TimeoutError:
        logging.getLogger("signage.app").warning("stopping: %s did not stop within %s s", name, STOP_SECONDS)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        # Thousands of long-lived screen streams are millions of objects: with the default
        # thresholds full collections stall the loop for seconds (bench/fleet.py).
        gc.set_threshold(20_000, 20, 50)
        settings.media_dir.mkdir(parents=True, exist_ok=True)
        app.state.db = Database(settings.db_url)
        app.state.bus = EventBus.for_url(settings.redis_url, settings.redis_prefix)
        await app.state.bus.start()
        from booking_api.billing import charges
        from booking_api.bookings.approvals import Deadlines
        from booking_api.bookings.writer import Writer
        from booking_api.desk import follow as desk_follow
        from booking_api.desk.escalate import Escalator
        from booking_api.doors.roomstate import RoomTimer
        from booking_api.integrations import access
        from booking_api.integrations.importing import Imports
        from media.jobs import Worker
        from player.seen import ScreenReports
        from signage import clock
        from signage.directory.runner import Schedule

        clock.reset()  # a shifted clock (SIGNAGE_TEST_CLOCK) never outlives its app
        from media.decoder import Decoder

        app.state.decoder = Decoder()
        app.state.media_worker = Worker(app.state.db, app.state.bus, settings.media_dir)
        app.state.media_worker.start()
        app.state.booking_writer = Writer(app.state.db, app.state.bus)
        app.state.screen_reports = ScreenReports(app.state.db, app.state.bus)
        app.state.room_timer = RoomTimer(app)
        await app.state.room_timer.start()
        app.state.dispatcher = Dispatcher(app.state.db, settings.events_retention_days)
        app.state.dispatcher.follow("live", signage.eventlog.api.publish_live(app.state.bus), writes=False)
        app.state.outbox = Outbox(app.state.db, settings)
        app.state.approval_deadlines = Deadlines(app)
        await app.state.approval_deadlines.start()
        app.state.imports = Imports(app)
        await app.state.imports.start()
        app.state.directory = Schedule(app)
        await app.state.directory.start()
        app.state.webhooks = webhook_deliveries.Sender(app.state.db, settings)
        app.state.dispatcher.follow("webhooks", webhook_deliveries.consumer(app.state.webhooks.wake))
        app.state.dispatcher.follow("doors", access.consumer(app), types=access.FOLLOWS)
        app.state.dispatcher.follow("billing", charges.consumer(settings), types=charges.FOLLOWS)
        app.state.dispatcher.follow("notify", invites.consumer(settings, app.state.outbox.wake, app.state.bus))
        app.state.dispatcher.follow(
            "desk", desk_follow.consumer(app.state.bus, settings, app.state.outbox.wake), types=desk_follow.FOLLOWS
        )
        await app.state.dispatcher.start()
        await app.state.outbox.start()
        app.state.escalator = Escalator(app)
        await app.state.escalator.start()
        await app.state.webhooks.start()
        try:
            yield
        finally:
            state = app.state
            for name, stop in (
                ("escalator", state.escalator.stop),
                ("dispatcher", state.dispatcher.stop),
                ("outbox", state.outbox.stop),
                ("webhooks", state.webhooks.stop),
                ("approval deadlines", state.approval_deadlines.stop),
                ("imports", state.imports.stop),
                ("directory", state.directory.stop),
                ("room timer", state.room_timer.stop),
                ("media worker", state.media_worker.stop),
                ("decoder", state.decoder.close),
                ("booking writer", state.booking_writer.close),
                ("screen reports", state.screen_reports.close),
                ("event bus", state.bus.stop),
                ("database", state.db.close),
            ):
                await stopped(name, stop)

    app = Starlette(middleware=[Middleware(Front, settings=settings)], exception_handlers=errors.handlers)
    app.router = IndexedRouter(routes=all_routes(), lifespan=lifespan)
    app.state.settings = settings
    return app
