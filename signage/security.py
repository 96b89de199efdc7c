"""Headers every answer carries, and cross-origin requests (CORS) for allowed sites.

The Content-Security-Policy lets scripts come only from the site itself (no inline
script anywhere: pages carry data in `data-` attributes or JSON blocks, which are not
run), frames only from the hosts the web-page widget may show (SIGNAGE_WEBPAGE_HOSTS),
and no other site frame our pages. Styles may be inline: layouts place regions with
`style` attributes. With SIGNAGE_SECURE_COOKIES (the site is served over HTTPS)
answers also carry Strict-Transport-Security.

    security_headers(Settings(webpage_hosts=("example.com",)))
    → [(b"content-security-policy", b"default-src 'self'; ...; frame-src example.com; ..."), ...]
"""

from __future__ import annotations

from signage.settings import Settings

HSTS_SECONDS = 180 * 24 * 3600


def content_security_policy(settings: Settings) -> str:
    frames = " ".join(settings.webpage_hosts) or "'none'"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            f"frame-src {frames}",
            "frame-ancestors 'self'",
            "form-action 'self'",
            "base-uri 'self'",
            "object-src 'none'",
        ]
    )


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = {
        "content-security-policy": content_security_policy(settings),
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "x-frame-options": "SAMEORIGIN",
    }
    if settings.secure_cookies:
        headers["strict-transport-security"] = f"max-age={HSTS_SECONDS}; includeSubDomains"
    return [(k.encode(), v.encode("latin-1")) for k, v in headers.items()]


# ---------------------------------------------------------------- CORS and OPTIONS

CORS_HEADERS = "authorization, content-type, idempotency-key, if-match, if-none-match, accept-language"
CORS_EXPOSE = "etag, link, location, retry-after"
CORS_MAX_AGE = "600"


def allowed_methods(app, path: str) -> list[str]:
    """Every method some route answers at `path` (GET routes also answer HEAD), in the
    router's order: Starlette's 405 named only the methods of the one route it found."""
    from starlette.routing import Mount, Route

    methods: list[str] = []
    for route in app.router.routes:
        if isinstance(route, Route) and route.path_regex.match(path):
            methods += [m for m in route.methods or () if m not in methods]
        elif isinstance(route, Mount) and route.path_regex.match(path):
            methods += [m for m in ("GET", "HEAD") if m not in methods]
    return methods


def cors_origin(settings: Settings, origin: str | None) -> str | None:
    """The request's Origin if SIGNAGE_CORS_ORIGINS allows it, else None (the default:
    no other site may read answers)."""
    if origin and origin in settings.cors_origins:
        return origin
    return None


def options_answer(scope, settings: Settings, path: str) -> tuple[int, list[tuple[bytes, bytes]]] | None:
    """The answer to OPTIONS `path`: 204 with `Allow`, and for a preflight from an allowed
    origin the Access-Control-* headers; None when no route has the path (a 404)."""
    methods = allowed_methods(scope["app"], path)
    if not methods:
        return None
    methods = [*methods, "OPTIONS"]
    headers = [(b"allow", ", ".join(methods).encode())]
    request_headers = dict(scope["headers"])
    origin = cors_origin(settings, request_headers.get(b"origin", b"").decode("latin-1"))
    if origin:
        headers += [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", ", ".join(methods).encode()),
            (b"access-control-allow-headers", CORS_HEADERS.encode()),
            (b"access-control-max-age", CORS_MAX_AGE.encode()),
            (b"vary", b"Origin"),
        ]
    return 204, headers


def cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    """What an answer to an allowed origin carries (no credentials: OA front-ends call the
    API with Bearer tokens, never with the session cookie)."""
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-expose-headers", CORS_EXPOSE.encode()),
        (b"vary", b"Origin"),
    ]
