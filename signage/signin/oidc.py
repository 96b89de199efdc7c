"""OpenID Connect: sign in with the company's own identity provider (Keycloak, Authing,
Azure AD …), the authorization code flow with PKCE (S256), through Authlib.

    GET /signin/oidc?next=/rooms        → the provider's authorize endpoint (state, nonce, code_challenge)
    GET /signin/oidc/callback           → code + code_verifier exchanged for tokens; the ID token's
                                          signature (the provider's JWKS), issuer, audience, nonce checked

Configured on the directory's sources page (`/admin/directory/sources`, row "oidc"): the
issuer (its `/.well-known/openid-configuration` is read), client id and secret, scopes,
and which claim names the account: `email` (only when the provider does not say it is
unverified) or an employee-number claim. A person signs in to the one active account
with that email or employee number, never to another with the same name.
"""

from __future__ import annotations

import hashlib
import json

from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signage.auth import PUBLIC, route
from signage.directory import runner
from signage.i18n import gettext as _
from signage.i18n import lazy
from signage.models import User
from signage.notify.channels.base import Conf, Field
from signage.signin.inapp import finish
from signage.templating import render
from signage.users.accounts import safe_next

name = "oidc"
label = lazy("OpenID Connect (company sign-in)")
base_url = ""  # the issuer, e.g. https://id.example.com/realms/company
fields = (
    Field("client_id", lazy("Client id")),
    Field("client_secret", lazy("Client secret"), secret=True),
    Field("scope", lazy("Scopes"), required=False, hint="openid email profile"),
    Field("claim", lazy("Claim that names the account"), required=False, hint="email"),
    Field("match", lazy("Account field it matches (email or employee_no)"), required=False, hint="email"),
    Field("button", lazy("Button text"), required=False, hint="Company account"),
)
_clients: dict[str, object] = {}


async def settings_of(request: Request) -> Conf | None:
    row, _conf = await runner.load(request.app.state.db, name)
    if row is None or not row.enabled or not row.base_url:
        return None
    return Conf(row.base_url, json.loads(row.config or "{}"))


def client(conf: Conf):
    """One Authlib client per configuration (its provider metadata and keys are kept)."""
    key = hashlib.sha256(json.dumps([conf.base_url, conf.values], sort_keys=True).encode()).hexdigest()
    if key not in _clients:
        oauth = OAuth()
        oauth.register(
            "company",
            client_id=conf["client_id"],
            client_secret=conf["client_secret"],
            server_metadata_url=conf.base_url.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": conf["scope"] or "openid email profile",
                "code_challenge_method": "S256",
                "timeout": 15.0,
            },  # fmt: skip
        )
        _clients.clear()  # only the newest configuration is kept
        _clients[key] = oauth.company
    return _clients[key]


def callback_url(request: Request) -> str:
    base = request.app.state.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/signin/oidc/callback"


def failed(request: Request, message: str, next_url: str, status: int) -> Response:
    return render(request, "signin/failed.html", {"error": message, "next": next_url}, status_code=status)


async def start(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    conf = await settings_of(request)
    if conf is None:
        return RedirectResponse(f"/login?next={next_url}", status_code=303)
    request.session["signin_next"] = next_url
    try:
        return await client(conf).authorize_redirect(request, callback_url(request))
    except Exception:  # the provider's metadata cannot be read
        return failed(request, _("The company sign-in does not answer. Try again, or sign in with a password."),
                      next_url, 502)  # fmt: skip


async def callback(request: Request) -> Response:
    next_url = safe_next(request.session.pop("signin_next", "/"))
    conf = await settings_of(request)
    if conf is None:
        return RedirectResponse("/login", status_code=303)
    try:
        token = await client(conf).authorize_access_token(request)
    except OAuthError as exc:
        from signage import audit

        await audit.record(request, "auth.login", "oidc", result="failure", reason=str(exc)[:200])
        return failed(request, _("The sign-in has expired. Try again."), next_url, 400)
    except Exception as exc:  # a forged token, a provider away: said, never a 500
        from signage import audit

        await audit.record(request, "auth.login", "oidc", result="failure", reason=f"{type(exc).__name__}"[:200])
        return failed(request, _("The company sign-in could not be checked. Try again."), next_url, 400)
    claims = dict(token.get("userinfo") or {})
    user = await account_of(request, conf, claims)
    return await finish(request, user, "oidc", next_url)


async def account_of(request: Request, conf: Conf, claims: dict) -> User | None:
    claim = conf["claim"] or "email"
    value = str(claims.get(claim) or "").strip()
    if not value:
        return None
    match = conf["match"] or "email"
    async with request.app.state.db.session() as s:
        if match == "employee_no":
            found = (await s.scalars(select(User).where(User.employee_no == value).limit(2))).all()
        else:
            if claim == "email" and claims.get("email_verified") is False:
                return None
            found = (await s.scalars(select(User).where(func.lower(User.email) == value.lower()).limit(2))).all()
    user = found[0] if len(found) == 1 else None
    return user if user is not None and user.is_active else None


async def check(http, conf: Conf) -> str:
    """ "Test connection": the provider's metadata read."""
    r = await http.get(conf.base_url.rstrip("/") + "/.well-known/openid-configuration")
    r.raise_for_status()
    meta = r.json()
    return f"issuer {meta.get('issuer')}, authorize at {meta.get('authorization_endpoint')}"


async def choice(db) -> tuple[str, str] | None:
    row, conf = await runner.load(db, name)
    if row is None or not row.enabled or not row.base_url:
        return None
    return "/signin/oidc", conf["button"] or _("Company account")


routes = [
    route("/signin/oidc", start, allow=PUBLIC),
    route("/signin/oidc/callback", callback, allow=PUBLIC),
]
