"""Signing in inside DingTalk and WeCom, without a password (the seed's 免登):

    GET  /signin/dingtalk?next=/m/book      a page whose script asks the DingTalk JS API for an
                                            auth code (dd.runtime.permission.requestAuthCode)
    POST /signin/dingtalk                   code → /topapi/v2/user/getuserinfo → the person → a session
    GET  /signin/wecom?next=/m/book         → WeCom's OAuth page (scope snsapi_base), which comes back to
    GET  /signin/wecom/callback?code&state  code → /cgi-bin/auth/getuserinfo → the person → a session

Each works once its source (signage/directory/sources) is on with "people sign in with
it". The person is the account that source synced with that userid; else the one account
whose DingTalk or WeCom user id (set on the Users page) is it. Phone pages under /m
opened inside DingTalk or WeCom come here by themselves (signage/errors.py).
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

import httpx
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signage import audit, sessions
from signage.auth import PUBLIC, csrf_token, route
from signage.directory import runner
from signage.directory.sources import dingtalk, wecom
from signage.i18n import gettext as _
from signage.models import User
from signage.templating import render
from signage.users.accounts import safe_next

DINGTALK_JSAPI = "https://g.alicdn.com/dingding/dingtalk-jsapi/3.0.25/dingtalk.open.js"


async def enabled(request: Request, name: str):
    """The source's settings when people sign in with it, else None."""
    row, conf = await runner.load(request.app.state.db, name)
    return conf if row is not None and row.enabled and row.signin else None


async def person(request: Request, source: str, column, userid: str) -> User | None:
    async with request.app.state.db.session() as s:
        user = await s.scalar(select(User).where(User.directory_source == source, User.directory_id == userid))
        if user is None:
            found = (await s.scalars(select(User).where(column == userid).limit(2))).all()
            user = found[0] if len(found) == 1 else None
    return user if user is not None and user.is_active else None


async def finish(request: Request, user: User | None, via: str, next_url: str) -> Response:
    if user is None:
        await audit.record(request, "auth.login", via, result="failure", reason="no active account for this person")
        ctx = {"error": _("You have no account here yet. Ask your IT admin to sync the directory."), "next": next_url}
        return render(request, "signin/failed.html", ctx, status_code=403)
    await sessions.start(request, user)
    await audit.record(request, "auth.login", f"user:{user.id}", user=user, reason=via)
    return RedirectResponse(next_url, status_code=303)


async def dingtalk_page(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    conf = await enabled(request, dingtalk.name)
    if conf is None:
        return RedirectResponse(f"/login?next={quote(next_url)}", status_code=303)
    csrf_token(request)
    response = render(request, "signin/dingtalk.html", {"corp_id": conf["corp_id"], "next": next_url,
                                                         "jsapi": DINGTALK_JSAPI})  # fmt: skip
    from signage.security import content_security_policy

    policy = content_security_policy(request.app.state.settings)  # DingTalk's own script, on this page only
    response.headers["content-security-policy"] = policy.replace(
        "script-src 'self'", "script-src 'self' https://g.alicdn.com"
    )
    return response


async def dingtalk_code(request: Request) -> Response:
    form = await request.form()
    next_url = safe_next(str(form.get("next", "/")))
    code = str(form.get("code", "")).strip()[:200]
    conf = await enabled(request, dingtalk.name)
    if conf is None or not code:
        return RedirectResponse(f"/login?next={quote(next_url)}", status_code=303)
    async with httpx.AsyncClient(timeout=15.0) as http:
        try:
            userid = await dingtalk.user_of_code(http, conf, code)
        except (httpx.HTTPError, dingtalk.Refused, Exception) as exc:  # DingTalk away: said, never a 500
            await audit.record(request, "auth.login", "dingtalk", result="failure", reason=str(exc)[:200])
            return render(request, "signin/failed.html", {"error": _("DingTalk did not answer. Try again."),
                                                          "next": next_url}, status_code=502)  # fmt: skip
    user = await person(request, dingtalk.name, User.dingtalk_id, userid) if userid else None
    return await finish(request, user, "dingtalk", next_url)


async def wecom_start(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    conf = await enabled(request, wecom.name)
    if conf is None:
        return RedirectResponse(f"/login?next={quote(next_url)}", status_code=303)
    state = secrets.token_urlsafe(16)
    request.session["wecom_state"], request.session["signin_next"] = state, next_url
    base = request.app.state.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return RedirectResponse(wecom.authorize_url(conf, f"{base}/signin/wecom/callback", state), status_code=303)


async def wecom_callback(request: Request) -> Response:
    state = request.session.pop("wecom_state", None)
    next_url = safe_next(request.session.pop("signin_next", "/"))
    code = request.query_params.get("code", "")[:200]
    conf = await enabled(request, wecom.name)
    if (
        conf is None
        or not state
        or not secrets.compare_digest(state, request.query_params.get("state", ""))
        or not code
    ):
        await audit.record(request, "auth.login", "wecom", result="failure", reason="state or code wrong")
        return render(request, "signin/failed.html", {"error": _("The sign-in has expired. Try again."),
                                                      "next": next_url}, status_code=400)  # fmt: skip
    async with httpx.AsyncClient(timeout=15.0) as http:
        try:
            userid = await wecom.user_of_code(http, conf, code)
        except Exception as exc:  # WeCom away: said, never a 500
            await audit.record(request, "auth.login", "wecom", result="failure", reason=str(exc)[:200])
            return render(request, "signin/failed.html", {"error": _("WeCom did not answer. Try again."),
                                                          "next": next_url}, status_code=502)  # fmt: skip
    user = await person(request, wecom.name, User.wecom_id, userid) if userid else None
    return await finish(request, user, "wecom", next_url)


async def choices(db) -> list[tuple[str, str]]:
    """(path, label) of the in-app ways the login page offers."""
    out = []
    for module, path, text in ((dingtalk, "/signin/dingtalk", _("Sign in with DingTalk")),
                               (wecom, "/signin/wecom", _("Sign in with WeCom"))):  # fmt: skip
        row, _conf = await runner.load(db, module.name)
        if row is not None and row.enabled and row.signin:
            out.append((path, text))
    return out


routes = [
    route("/signin/dingtalk", dingtalk_page, allow=PUBLIC),
    route("/signin/dingtalk", dingtalk_code, methods=["POST"], allow=PUBLIC),
    route("/signin/wecom", wecom_start, allow=PUBLIC),
    route("/signin/wecom/callback", wecom_callback, allow=PUBLIC),
]
