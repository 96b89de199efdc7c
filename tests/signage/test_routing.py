"""The router's index (signage.app.IndexedRouter, RouteIndex) must pick exactly the
route Starlette's own first-match loop picks, for every route and method."""

import re

from starlette.routing import Match, Mount, Route, Router

from signage.app import IndexedRouter, create_app


def scan(routes, scope):
    """Starlette's order: the first full match, else the first partial one (405)."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial


SAMPLES = {"id": "7", "int": "7", "float": "1.5", "uuid": "0b7e7a04-6e2f-4a62-9b53-8f1c1a3e2d10", "path": "a/b.js"}


def sample(path: str) -> str:
    """A path the route matches: each parameter given a value of its convertor."""
    return re.sub(r"\{[^}:]+(?::([a-z]+))?\}", lambda m: SAMPLES.get(m.group(1) or "", "x"), path)


def picked(router, scope):
    """What IndexedRouter.app takes: the first full match among the index's candidates,
    else the first partial one; None: left to Starlette's loop."""
    partial = None
    for route in router._index().candidates(scope["path"]):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial


def test_index_picks_what_starlette_picks(make_settings):
    app = create_app(make_settings())
    router = app.router
    paths = [sample(r.path) for r in router.routes if hasattr(r, "path")]
    paths += [p + "/" for p in paths] + ["/static/signage/app.css", "/static/signage", "/", "/nothing/here/7"]
    assert len(paths) > 400
    checked = 0
    for path in paths:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
            scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
            assert picked(router, scope) is scan(router.routes, scope), (method, path)
            checked += 1
    assert checked > 2400
    # few candidates are tried: a room's path meets a handful of routes, not every one
    assert len(router._index().candidates("/api/v1/rooms/7")) < 10 < len(router.routes) // 10


def test_a_path_behind_an_earlier_pattern_keeps_starlettes_order(make_settings):
    app = create_app(make_settings())
    router = app.router

    async def first(request):  # pragma: no cover - never called
        raise AssertionError

    router.routes.insert(0, Route("/api/v1/{anything}", first))
    router.routes.insert(1, Mount("/static-first", routes=[]))
    router.routes.insert(2, Route("/{anything:path}", first, methods=["PATCH"]))
    scope = {"type": "http", "method": "GET", "path": "/api/v1/bookings", "root_path": "", "headers": []}
    assert picked(router, scope).path == "/api/v1/{anything}"  # rebuilt: the route count changed
    scope = {"type": "http", "method": "GET", "path": "/login", "root_path": "", "headers": []}
    assert picked(router, scope).path == "/login"
    scope["method"] = "PATCH"
    assert picked(router, scope).path == "/{anything:path}"


REQUESTS = [
    ("PUT", "/api/v1/bookings"),  # 405
    ("GET", "/login/"),  # redirect_slashes
    ("GET", "/login"),
    ("DELETE", "/healthz"),
    ("GET", "/api/v1/nothing-here"),
    ("GET", "/static/signage/live.js"),
    ("POST", "/api/v1/bookings"),
]


def test_answers_equal_starlettes_own_router(client):
    def answers():
        return [
            (r.status_code, r.headers.get("location"))
            for r in (client.request(m, p, follow_redirects=False) for m, p in REQUESTS)
        ]

    assert client.app.router.middleware_stack.__func__ is IndexedRouter.app  # really in the path
    fast = answers()
    client.app.router.__class__ = Router
    client.app.router.middleware_stack = client.app.router.app
    assert answers() == fast
    assert [s for s, _ in fast][:2] == [405, 307]
