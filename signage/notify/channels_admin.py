"""`/admin/notifications/channels`: each way out configured by IT admins: on or off, its
provider's base URL (empty: the provider's own), its credentials (secrets are never shown
again: leave the field empty to keep them), the kinds of notice it carries by default (the
site's defaults, for users who chose nothing), the channel that takes over when a message
fails on it for good; and a "send test" button.

    GET  /admin/notifications/channels
    POST /admin/notifications/channels/{name}         (CSRF) save; 400 with the form's error
    POST /admin/notifications/channels/{name}/test    (CSRF) send a test message now, to `to`
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import httpx
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signage import audit, outbound
from signage.auth import route
from signage.db import utcnow
from signage.errors import Invalid, NotFound
from signage.i18n import gettext as _
from signage.i18n import lazy
from signage.notify import mail, routing
from signage.notify.channels import ADAPTERS, Outgoing
from signage.notify.channels.base import TIMEOUT
from signage.notify.models import KINDS, LABELS, Channel
from signage.templating import render

ADMINS = ("admin",)
CONTACT_LABELS = {  # English; translated where shown
    "email": lazy("Email"),
    "mobile": lazy("Mobile"),
    "dingtalk_id": lazy("DingTalk user id"),
    "wecom_id": lazy("WeCom user id"),
    "wechat_openid": lazy("WeChat openid"),
}


def label(name: str) -> str:
    return _("Email") if name == routing.EMAIL else _(ADAPTERS[name].label)


def known(request: Request) -> str:
    name = request.path_params["name"]
    if name not in routing.NAMES:
        raise NotFound(_("No such channel."))
    return name


async def page(request: Request, status_code: int = 200, **extra) -> Response:
    settings = request.app.state.settings
    async with request.app.state.db.session() as s:
        site = await routing.load(s, settings)
    channels = []
    for name in routing.NAMES:
        row = site.rows.get(name)
        adapter = ADAPTERS.get(name)
        values = json.loads(row.config or "{}") if row else {}
        channels.append(
            {
                "name": name,
                "label": label(name),
                "on": site.is_on(name),
                "enabled": bool(row and row.enabled) if adapter else site.email,
                "base_url": row.base_url if row else "",
                "default_url": adapter.base_url if adapter else "",
                "fields": adapter.fields if adapter else (),
                "stored": values,
                "missing": adapter.missing(site.conf(name)) if adapter else [],
                "kinds": site.kinds(name),
                "fallback": row.fallback if row else "",
                "contact": adapter.contact if adapter else "email",
                "rate": adapter.rate_per_minute if adapter else 0,
                "updated": row,
            }
        )
    ctx = {
        "channels": channels,
        "kinds": [k for k in KINDS if k in LABELS],
        "labels": LABELS,
        "names": routing.NAMES,
        "label": label,
        "contact_labels": CONTACT_LABELS,
        "smtp": settings.smtp,
        **extra,
    }
    return render(request, "notify/channels.html", ctx, status_code=status_code)


async def channels_page(request: Request) -> Response:
    return await page(request)


async def save(request: Request) -> Response:
    name = known(request)
    form = await request.form()
    adapter = ADAPTERS.get(name)
    settings = request.app.state.settings
    try:
        kinds = [k for k in KINDS if form.get(f"kind_{k}") is not None]
        fallback = str(form.get("fallback", "")).strip()
        if fallback and (fallback not in routing.NAMES or fallback == name):
            raise Invalid(_("The fallback must be another channel."), {"field": "fallback", "channel": name})
        base_url = str(form.get("base_url", "")).strip()[:300] if adapter else ""
        if base_url:
            base_url = await outbound.checked_url(base_url, settings.webhook_allow_private, field="base_url")
        async with request.app.state.db.begin() as s:
            row = await s.get(Channel, name)
            if row is None:
                row = Channel(name=name, config="{}")
                s.add(row)
            values = json.loads(row.config or "{}")
            for field in adapter.fields if adapter else ():
                value = str(form.get(field.name, "")).strip()[:500]
                if value and field.choices and value not in field.choices:
                    raise Invalid(
                        _(
                            "%(field)s: choose one of %(choices)s.",
                            field=_(field.label),
                            choices=", ".join(field.choices),
                        ),
                        {"field": field.name, "channel": name},
                    )
                if value or not field.secret:
                    values[field.name] = value  # a secret left empty is kept
            row.enabled = form.get("enabled") is not None if adapter else False
            row.base_url, row.config, row.kinds, row.fallback = base_url, json.dumps(values), ",".join(kinds), fallback
            row.updated_by = request.state.user.email
            missing = adapter.missing(routing.Site(False, {name: row}).conf(name)) if adapter else []
            if row.enabled and missing:
                names = ", ".join(_(f.label) for f in adapter.fields if f.name in missing)
                raise Invalid(
                    _("Fill in %(fields)s to turn %(channel)s on.", fields=names, channel=label(name)),
                    {"field": "enabled", "channel": name},
                )
            s.add(
                audit.entry(request, "notification_channel.update", f"channel:{name}", reason=f"enabled {row.enabled}")
            )
    except Invalid as exc:
        await audit.record(
            request, "notification_channel.update", f"channel:{name}", result="failure", reason=exc.message
        )
        return await page(request, status_code=400, error=exc.message, error_channel=name)
    request.app.state.outbox.reload()
    return RedirectResponse(f"/admin/notifications/channels?saved={name}#channel-{name}", status_code=303)


async def send_test(request: Request) -> Response:
    """Send a test message on the channel now (not through the outbox), and say how it went."""
    name = known(request)
    form = await request.form()
    to = str(form.get("to", "")).strip()[:254]
    settings = request.app.state.settings
    async with request.app.state.db.session() as s:
        site = await routing.load(s, settings)
    if not site.is_on(name):
        raise Invalid(_("%(channel)s is off: turn it on and fill in its settings first.", channel=label(name)))
    adapter = ADAPTERS.get(name)
    if not to and (adapter is None or adapter.contact_required):
        raise Invalid(_("Say whom to send the test to."), {"field": "to"})
    subject = _("Test from the meeting rooms")
    body = _("This is a test of %(channel)s, sent by %(who)s.", channel=label(name), who=request.state.user.email)
    if adapter is None:
        try:
            mail.address("", to)
        except (ValueError, IndexError):
            raise Invalid(_("This is not an email address."), {"field": "to"}) from None
    try:
        if adapter is None:
            await test_mail(settings, to, subject, body)
            receipt = "250"
        else:
            async with httpx.AsyncClient(timeout=TIMEOUT, transport=request.app.state.outbox.transport) as http:
                receipt = await adapter.send(
                    http, site.conf(name), Outgoing(to, subject, body, f"test-{uuid.uuid4().hex}")
                )
    except Exception as exc:  # the provider's refusal (Failed), the network's, aiosmtplib's, …
        error = f"{type(exc).__name__}: {exc}"[:500]
        await audit.record(request, "notification_channel.test", f"channel:{name}", result="failure", reason=error)
        return await page(request, test_channel=name, test_error=error)
    await audit.record(request, "notification_channel.test", f"channel:{name}", reason=f"to {to}: {receipt}"[:500])
    return await page(
        request, test_channel=name, test_ok=_("Sent to %(to)s (%(receipt)s).", to=to or label(name), receipt=receipt)
    )


async def test_mail(settings, to: str, subject: str, body: str) -> None:
    address = mail.address("", to)
    host = routing.recipient_host(settings)
    raw = mail.build(
        sender=settings.mail_from,
        to=address,
        subject=subject,
        text=body + "\n",
        html=f"<p>{body}</p>",
        mid=mail.message_id(host),
        when=utcnow().astimezone(dt.UTC),
    )
    client = settings.smtp.client()
    async with client:
        await client.sendmail(mail_sender(settings), [address.addr_spec], raw.encode("ascii"))


def mail_sender(settings) -> str:
    from email.utils import parseaddr

    return parseaddr(settings.mail_from)[1]


routes = [
    route("/admin/notifications/channels", channels_page, allow=ADMINS),
    route("/admin/notifications/channels/{name}", save, methods=["POST"], allow=ADMINS),
    route("/admin/notifications/channels/{name}/test", send_test, methods=["POST"], allow=ADMINS),
]
