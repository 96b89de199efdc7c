"""The application: settings, database and event bus made in the lifespan; every
folder's `routes` mounted; one error handler; sessions, language and body limits.
"""

from __future__ import annotations

import contextlib
import gc
import logging

from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import Session, SessionMiddleware
from starlette.requests import cookie_parser
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signage import accounts, audit, errors, health, i18n, live, openapi, people
from signage.db import Database
from signage.events import EventBus
from signage.settings import Settings, current_settings

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
      cookie parsing and the wrapped `send` (a screen stream sends for hours).
    """

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app, self.settings, self.max_bytes = app, settings, settings.max_upload_bytes
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
        if cookie_header is None and (
            b"authorization" in headers
            or b"x-screen-key" in headers
            or (scope["path"].startswith("/player/api/") and b"key=" in scope.get("query_string", b""))
        ):
            scope["session"] = Session()
            return await self.app(scope, receive, send)
        await self.sessions(scope, receive, send)

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
        await response(scope, receive, send)


def _too_large(max_bytes: int) -> str:
    return i18n.gettext("The upload is larger than %(mb)s MB.", mb=max_bytes // (1024 * 1024))


class IndexedRouter(Router):
    """Starlette's router with a dictionary in front for plain paths (no parameters).

    Starlette tries the ~200 routes one by one, with a regular expression each; a
    request for a plain path now finds its routes at once. A plain path is indexed
    only when no route before it could match it too, so the first match stays the
    one Starlette's order gives; everything else (parameters, 405, redirects) goes
    through Starlette's own loop.
    """

    _indexed: tuple[int, dict[str, list[BaseRoute]]] = (-1, {})

    def _index(self) -> dict[str, list[BaseRoute]]:
        count, index = self._indexed
        if count != len(self.routes):
            index, before = {}, []
            for route in self.routes:
                path = getattr(route, "path", None)
                if isinstance(route, Route) and "{" not in path:
                    if not any(r.path_regex.match(path) for r in before if hasattr(r, "path_regex")):
                        index.setdefault(path, []).append(route)
                    else:
                        before.append(route)
                else:
                    before.append(route)
            self._indexed = (len(self.routes), index)
        return index

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self._index().get(get_route_path(scope), ()):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
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
    import widgets.preview

    static = StaticFiles(
        packages=[
            ("signage", "static"),
            ("widgets", "static"),
            ("player", "static"),
            ("playlists", "static"),
            ("media", "static"),
            ("booking_api", "static"),
        ]
    )
    return [
        *accounts.routes,
        *health.routes,
        *openapi.routes,
        *audit.routes,
        *people.routes,
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
        Mount("/static", static, name="static"),
    ]


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
        from booking_api.roomstate import RoomTimer
        from booking_api.writer import Writer
        from media.jobs import Worker
        from player.seen import ScreenReports
        from signage import clock

        clock.reset()  # a shifted clock (SIGNAGE_TEST_CLOCK) never outlives its app
        app.state.media_worker = Worker(app.state.db, app.state.bus, settings.media_dir)
        app.state.media_worker.start()
        app.state.booking_writer = Writer(app.state.db, app.state.bus)
        app.state.screen_reports = ScreenReports(app.state.db, app.state.bus)
        app.state.room_timer = RoomTimer(app)
        await app.state.room_timer.start()
        try:
            yield
        finally:
            await app.state.room_timer.stop()
            await app.state.media_worker.stop()
            await app.state.booking_writer.close()
            await app.state.screen_reports.close()
            await app.state.bus.stop()
            await app.state.db.close()

    app = Starlette(
        routes=all_routes(),
        middleware=[Middleware(Front, settings=settings)],
        exception_handlers=errors.handlers,
        lifespan=lifespan,
    )
    assert app.router.middleware_stack == app.router.app  # no router-level middleware to keep
    app.router.__class__ = IndexedRouter
    app.router.middleware_stack = app.router.app  # Router.__init__ bound Router.app
    app.state.settings = settings
    return app
