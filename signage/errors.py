"""The errors the app answers with, and the one handler that renders them.

    AppError (500)
     ├── Invalid (400)        bad input: malformed JSON, wrong types, failed validation
     ├── Unauthorized (401)   no valid login or token
     ├── Forbidden (403)      logged in, but the role may not do this; bad CSRF token
     ├── NotFound (404)       unknown id or path
     ├── Conflict (409)       the change clashes with the stored state
     ├── Gone (410)           a link to what is over: a meeting that ended or was cancelled
     ├── PreconditionFailed (412)  If-Match names a state that is no longer current
     ├── TooLarge (413)       request body over the limit
     └── TooMany (429)        too many tries (sign-ins, pairing codes); says when again
     └── Unavailable (503)    a part the answer needs is off or missing (the speech engine)

Under `/api/` (and for screens' `/player/api/`) the answer is JSON
`{"error": "invalid", "detail": ...}`; elsewhere the `error.html` page.
`message` is already translated text for the person who sent the request.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response

from signage.responses import JSONResponse

log = logging.getLogger("signage")


class AppError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str = "", detail: Any = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.headers = headers or {}


class Invalid(AppError):
    status = 400
    code = "invalid"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class PreconditionFailed(AppError):
    status = 412
    code = "precondition_failed"


class Conflict(AppError):
    status = 409
    code = "conflict"


class Gone(AppError):
    status = 410
    code = "gone"


class TooLarge(AppError):
    status = 413
    code = "too_large"


class TooMany(AppError):
    """Give `headers={"Retry-After": seconds}`."""

    status = 429
    code = "too_many"


class Unavailable(AppError):
    status = 503
    code = "unavailable"


def wants_json(request: Request) -> bool:
    path = request.url.path
    return "/api/" in path or path.startswith("/healthz") or path.startswith("/events")


def signin_path(request: Request) -> str:
    """Where a signed-out browser goes: a phone page opened inside DingTalk or WeCom signs in
    through the app (signage/signin/inapp.py, which sends on to /login when that is off)."""
    if request.url.path.startswith("/m/") or request.url.path == "/m":
        agent = request.headers.get("user-agent", "").lower()
        if "dingtalk" in agent:
            return "/signin/dingtalk"
        if "wxwork" in agent:
            return "/signin/wecom"
    return "/login"


def render_error(request: Request, status: int, code: str, message: str, detail: Any = None) -> Response:
    if wants_json(request):
        body = {"error": code, "message": message, "detail": detail}
        return JSONResponse(body, status_code=status)
    if status == 401:
        return RedirectResponse(f"{signin_path(request)}?next={request.url.path}", status_code=303)
    from signage.templating import render

    return render(
        request,
        "error.html",
        {"status": status, "code": code, "message": message, "detail": detail},
        status_code=status,
    )


async def handle_app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    response = render_error(request, exc.status, exc.code, exc.message or exc.code, exc.detail)
    response.headers.update(exc.headers)
    return response


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    from signage.i18n import gettext as _

    codes = {404: ("not_found", _("Not found")), 405: ("method_not_allowed", _("Method not allowed"))}
    code, message = codes.get(exc.status_code, ("error", str(exc.detail)))
    response = render_error(request, exc.status_code, code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:  # every method of the path, not only those of the one route Starlette found
        from signage.app import route_path
        from signage.security import allowed_methods

        response.headers["Allow"] = ", ".join([*allowed_methods(request.app, route_path(request.scope)), "OPTIONS"])
    return response


async def handle_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away while sending its body (a player reloading mid-request): no
    error of ours, and nobody is left to read the answer."""
    return Response(status_code=400)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    from signage.i18n import gettext as _

    return render_error(request, 500, "internal", _("Something went wrong on our side."))


handlers = {
    AppError: handle_app_error,
    ClientDisconnect: handle_disconnect,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
