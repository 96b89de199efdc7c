"""A user's own notification settings, on their account page (`/account`): where they are
reached (mobile, DingTalk, WeCom and WeChat ids: IT admins can set them too, on
`/admin/users`), which channels each kind of notice comes by (or the site's defaults; service
staff also choose for escalated service calls, e.g. a voice call), and
how long before a meeting they are reminded (or SIGNAGE_REMINDER_MINUTES).

    POST /account/notifications    (CSRF) save them; 400 with the form's error
"""

from __future__ import annotations

import re

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signage import audit
from signage.auth import SIGNED_IN, route
from signage.errors import Invalid
from signage.i18n import gettext as _
from signage.models import User
from signage.notify import routing
from signage.notify.models import KINDS, LABELS, Choice

CONTACT_FIELDS = ("mobile", "dingtalk_id", "wecom_id", "wechat_openid")
MOBILE = re.compile(r"^\+?[0-9]{5,20}$")
ID = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")
MAX_REMINDER = 7 * 24 * 60
CHOOSABLE = tuple(k for k in KINDS if k != "service_call")  # every user's
STAFF_KINDS = {"service": ("service_call",)}  # role → the kinds only it is sent (escalated service calls)


def kinds_for(user) -> tuple[str, ...]:
    """The kinds of notice a user chooses channels for: every user's, and their role's own."""
    return CHOOSABLE + STAFF_KINDS.get(user.role, ())


def check_contacts(form) -> dict:
    """The contact fields of a form, checked: Invalid naming the first wrong one."""
    out = {}
    for name in CONTACT_FIELDS:
        value = str(form.get(name, "")).strip().replace(" ", "")
        if name == "mobile":
            value = value.replace("-", "")
            if value and not MOBILE.match(value):
                raise Invalid(
                    _("A mobile number is digits only, with + and the country code if not Chinese."), {"field": name}
                )
        elif value and not ID.match(value):
            raise Invalid(_("An id is at most 64 letters, digits, and _ . @ -."), {"field": name})
        out[name] = value
    return out


def check_reminder(value: str) -> int | None:
    """ "" → None (the site's default); "0" → none; else minutes, 1 to a week."""
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or int(value) > MAX_REMINDER:
        raise Invalid(
            _("Remind me 0 (never) to %(n)s minutes before, or leave it empty.", n=MAX_REMINDER),
            {"field": "reminder_minutes"},
        )
    return int(value)


async def context(request: Request, user_id: int) -> dict:
    """What the account page shows of a user's notification settings."""
    settings = request.app.state.settings
    async with request.app.state.db.session() as s:
        user = await s.get(User, user_id)
        site = await routing.load(s, settings)
        own = {c.kind: c for c in (await s.scalars(select(Choice).where(Choice.user_id == user_id))).all()}
    on, kinds = site.on(), kinds_for(user)
    return {
        "notify_user": user,
        "notify_on": on,
        "notify_labels": LABELS,
        "notify_kinds": kinds,
        "notify_channel_label": channel_label,
        "notify_own": {k: [c for c in row.channels.split(",") if c] for k, row in own.items()},
        "notify_defaults": {k: site.defaults(k) for k in kinds},
        "notify_site_reminder": settings.reminder_minutes,
    }


def channel_label(name: str) -> str:
    from signage.notify.channels import ADAPTERS

    return _("Email") if name == routing.EMAIL else _(ADAPTERS[name].label)


async def save(request: Request) -> Response:
    from signage.users.account import account_page

    user = request.state.user
    form = await request.form()
    try:
        contacts = check_contacts(form)
        reminder = check_reminder(str(form.get("reminder_minutes", "")))
        async with request.app.state.db.begin() as s:
            site = await routing.load(s, request.app.state.settings)
            row = await s.get(User, user.id)
            for name, value in contacts.items():
                setattr(row, name, value)
            row.reminder_minutes = reminder
            for kind in kinds_for(row):
                choice = await s.get(Choice, (user.id, kind))
                if form.get(f"default_{kind}") is not None:
                    if choice is not None:
                        await s.delete(choice)
                    continue
                picked = ",".join(
                    c for c in routing.NAMES if form.get(f"channel_{kind}_{c}") is not None and site.is_on(c)
                )
                if choice is None:
                    s.add(Choice(user_id=user.id, kind=kind, channels=picked))
                else:
                    choice.channels = picked
            s.add(audit.entry(request, "user.notifications", f"user:{user.id}"))
    except Invalid as exc:
        await audit.record(request, "user.notifications", f"user:{user.id}", result="failure", reason=exc.message)
        return await account_page(request, status_code=400, error=exc)
    return RedirectResponse("/account?saved=notifications#notifications", status_code=303)


routes = [route("/account/notifications", save, methods=["POST"], allow=SIGNED_IN)]
