"""The router's index of plain paths (signage.app.IndexedRouter) must pick exactly the
route Starlette's own first-match loop picks, for every route and method."""

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


def test_index_picks_what_starlette_picks(make_settings):
    app = create_app(make_settings())
    router = app.router
    index = router._index()
    assert len(index) > 30  # most API and page paths are plain
    plain = [r for r in router.routes if isinstance(r, Route) and "{" not in r.path]
    for route in plain:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
            scope = {"type": "http", "method": method, "path": route.path, "root_path": "", "headers": []}
            expected = scan(router.routes, scope)
            fast = next((r for r in index.get(route.path, ()) if r.matches(scope)[0] is Match.FULL), None)
            if fast is not None:
                assert fast is expected, (method, route.path)


def test_a_plain_path_behind_an_earlier_pattern_is_left_to_starlette(make_settings):
    app = create_app(make_settings())
    router = app.router

    async def first(request):  # pragma: no cover - never called
        raise AssertionError

    router.routes.insert(0, Route("/api/v1/{anything}", first))
    router.routes.insert(1, Mount("/static-first", routes=[]))
    index = router._index()  # rebuilt: the route count changed
    assert "/api/v1/bookings" not in index
    assert "/login" in index


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
