"""`/admin/notifications/templates`: what notices say, per kind, channel (email, or the
short text of SMS, DingTalk, WeCom and WeChat) and language,
edited by IT admins with a live preview on a sample booking, and a reset to the default.

    GET  /admin/notifications/templates?kind=invitation&channel=email&locale=zh_CN
    POST /admin/notifications/templates            (CSRF) save: refused with a form error when
                                                   the template is not one (signage/notify/texts.py)
    POST /admin/notifications/templates/preview    (CSRF, htmx) the sample as it would be sent
    POST /admin/notifications/templates/reset      (CSRF) back to the default
"""

from __future__ import annotations

import datetime as dt
import types

from sqlalchemy import delete, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signage import audit, clock, i18n
from signage.auth import route
from signage.i18n import gettext as _
from signage.notify import texts
from signage.notify.models import LABELS, Template
from signage.templating import render

ADMINS = ("admin",)
SAMPLE = {  # the sample booking of the preview, in the language of the template
    "en": {"title": "Quarterly review", "room": "Orchid", "organizer": "Li Lei", "name": "Han Meimei"},
    "zh_CN": {"title": "季度评审会", "room": "兰花厅", "organizer": "李雷", "name": "韩梅梅"},
}


def chosen(params) -> tuple[str, str, str]:
    kind = params.get("kind") if params.get("kind") in texts.DEFAULTS else "invitation"
    channel = params.get("channel") if params.get("channel") in texts.CHANNELS else "email"
    locale = params.get("locale") if params.get("locale") in i18n.LOCALES else i18n.current_locale.get()
    return kind, channel, locale


def sample_variables(request: Request, kind: str, locale: str) -> dict:
    from signage.notify.invites import Notices, speaking

    settings = request.app.state.settings
    words = SAMPLE.get(locale, SAMPLE["en"])
    start = (clock.now() + dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    b = types.SimpleNamespace(
        title=words["title"],
        start_at=start,
        end_at=start + dt.timedelta(hours=1),
        notes="" if kind == "rejection" else _("Bring the budget figures."),
        reason=_("The room is kept for the board that day.") if kind in ("rejection", "cancellation") else "",
    )
    if kind == "approval":
        b.reason = _("Approved by the OA (request 4711).")
    with speaking(locale, settings.timezone):
        variables = Notices(settings).variables(
            b,
            types.SimpleNamespace(name=words["room"]),
            words["organizer"],
            False,
            {"name": words["name"], "email": ""},
        )
    variables["minutes"] = settings.reminder_minutes or 15
    return variables


def preview_of(request: Request, kind: str, locale: str, text: texts.Text, channel: str = "email") -> dict:
    """The sample mail (or short text), or the error that keeps the template from being one."""
    try:
        rendered = texts.render_text(text, sample_variables(request, kind, locale))
    except texts.TemplateError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # the sandbox's SecurityError, a TypeError of `title + 1`, …
        return {"error": _("The template does not render: %(error)s", error=str(exc) or type(exc).__name__)}
    if channel == "short":
        return {"subject": rendered.subject, "plain": rendered.body, "html": ""}
    base = (request.app.state.settings.public_url or str(request.base_url)).rstrip("/")
    links = {}
    if kind in ("invitation", "update"):
        links = {c: f"{base}/invitations/answer/SAMPLE?answer={c}" for c in ("accept", "decline")}
    token = i18n.current_locale.set(locale)
    try:
        subject, plain, html = texts.mail_parts(rendered, links, kind in ("invitation", "update", "cancellation"))
    finally:
        i18n.current_locale.reset(token)
    return {"subject": subject, "plain": plain, "html": html}


async def page(request: Request, form: dict | None = None, error: str = "", status_code: int = 200) -> Response:
    kind, channel, locale = chosen(form or request.query_params)
    async with request.app.state.db.session() as s:
        stored = {(t.kind, t.channel, t.locale): t for t in (await s.scalars(select(Template))).all()}
        current = await texts.current(s, kind, channel, locale)
    text = texts.Text(form["subject"], form["body"]) if form else current
    ctx = {
        "kinds": list(texts.DEFAULTS),
        "channels": texts.CHANNELS,
        "locales": i18n.LOCALES,
        "labels": LABELS,
        "stored": stored,
        "kind": kind,
        "channel": channel,
        "locale": locale,
        "text": text,
        "custom": stored.get((kind, channel, locale)),
        "variables": texts.VARIABLES,
        "error": error,
        "preview": preview_of(request, kind, locale, text, channel),
        "channel_labels": texts.CHANNEL_LABELS,
        "saved": request.query_params.get("saved"),
    }
    return render(request, "notify/templates.html", ctx, status_code=status_code)


async def templates_page(request: Request) -> Response:
    return await page(request)


async def form_of(request: Request) -> dict:
    form = await request.form()
    kind, channel, locale = chosen(form)
    subject = str(form.get("subject", "")).replace("\r\n", "\n")
    body = str(form.get("body", "")).replace("\r\n", "\n")
    return {"kind": kind, "channel": channel, "locale": locale, "subject": subject, "body": body}


async def preview(request: Request) -> Response:
    f = await form_of(request)
    ctx = {"preview": preview_of(request, f["kind"], f["locale"], texts.Text(f["subject"], f["body"]), f["channel"])}
    return render(request, "notify/templates.html", ctx, block="preview")


async def save(request: Request) -> Response:
    f = await form_of(request)
    where = f"template:{f['kind']}/{f['channel']}/{f['locale']}"
    shown = preview_of(request, f["kind"], f["locale"], texts.Text(f["subject"], f["body"]), f["channel"])
    error = shown.get("error") or ("" if f["body"].strip() else _("The text may not be empty."))
    if error:
        await audit.record(request, "notification_template.update", where, result="failure", reason=error)
        return await page(request, f, error, 400)
    async with request.app.state.db.begin() as s:
        row = await s.get(Template, (f["kind"], f["channel"], f["locale"]))
        if row is None:
            row = Template(kind=f["kind"], channel=f["channel"], locale=f["locale"])
            s.add(row)
        row.subject, row.body, row.updated_by = f["subject"], f["body"], request.state.user.email
        s.add(audit.entry(request, "notification_template.update", where))
    return RedirectResponse(address(f, saved="1"), status_code=303)


async def reset(request: Request) -> Response:
    f = await form_of(request)
    async with request.app.state.db.begin() as s:
        await s.execute(
            delete(Template).where(
                Template.kind == f["kind"], Template.channel == f["channel"], Template.locale == f["locale"]
            )
        )
        s.add(audit.entry(request, "notification_template.reset", f"template:{f['kind']}/{f['channel']}/{f['locale']}"))
    return RedirectResponse(address(f, saved="reset"), status_code=303)


def address(f: dict, **extra) -> str:
    from urllib.parse import urlencode

    query = {"kind": f["kind"], "channel": f["channel"], "locale": f["locale"], **extra}
    return f"/admin/notifications/templates?{urlencode(query)}"


routes = [
    route("/admin/notifications/templates", templates_page, allow=ADMINS),
    route("/admin/notifications/templates", save, methods=["POST"], allow=ADMINS),
    route("/admin/notifications/templates/preview", preview, methods=["POST"], allow=ADMINS),
    route("/admin/notifications/templates/reset", reset, methods=["POST"], allow=ADMINS),
]
