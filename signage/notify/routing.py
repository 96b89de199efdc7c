"""Which channels a notice goes by, to whom, and which one is next when a channel fails.

    site = await routing.load(s, settings)          # the channels on, their settings
    for channel, address in routing.plan(site, await routing.chosen(s, site, user_id, "invitation"), contacts):
        ...

- The channels on: email when SIGNAGE_SMTP_URL is set, and each adapter an admin enabled
  with its required settings filled in (`/admin/notifications/channels`).
- A user's channels for a kind are their own choice (`Choice`, on their account page), else
  the site's defaults: the channels on whose `kinds` include it (email, with no row of its
  own, carries every kind). People who are not users get the site's defaults.
- A channel needs the recipient's address on it (their email, mobile, DingTalk, WeCom or
  WeChat id); robots post to their group and @-mention the mobile when there is one. A
  channel someone cannot be reached on hands over to its fallback (`Channel.fallback`, e.g.
  DingTalk → SMS), and so does a message given up on it (signage/notify/outbox.py):
  the next reachable channel of the chain not tried yet gets the message.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid

from sqlalchemy import select

from signage.notify import mail, texts
from signage.notify.channels import ADAPTERS, Conf
from signage.notify.models import KINDS, Channel, Choice, Message

log = logging.getLogger("signage.notify")

EMAIL = "email"
NAMES = (EMAIL, *ADAPTERS)


@dataclasses.dataclass
class Site:
    email: bool
    rows: dict[str, Channel]

    def conf(self, name: str) -> Conf:
        row = self.rows.get(name)
        values = json.loads(row.config or "{}") if row else {}
        return Conf(base_url=(row.base_url if row and row.base_url else ADAPTERS[name].base_url), values=values)

    def is_on(self, name: str) -> bool:
        if name == EMAIL:
            return self.email
        row = self.rows.get(name)
        return bool(row and row.enabled and name in ADAPTERS and not ADAPTERS[name].missing(self.conf(name)))

    def on(self) -> list[str]:
        return [n for n in NAMES if self.is_on(n)]

    def kinds(self, name: str) -> tuple[str, ...]:
        row = self.rows.get(name)
        if row is None:
            return KINDS if name == EMAIL else ()
        return tuple(k for k in row.kinds.split(",") if k)

    def defaults(self, kind: str) -> list[str]:
        return [n for n in self.on() if kind in self.kinds(n)]

    def chain(self, name: str) -> list[str]:
        """The channels after `name` when it fails: its fallback, that one's, … (no loops)."""
        out, seen = [], {name}
        row = self.rows.get(name)
        while row is not None and row.fallback and row.fallback not in seen:
            out.append(row.fallback)
            seen.add(row.fallback)
            row = self.rows.get(row.fallback)
        return out


async def load(s, settings) -> Site:
    rows = {r.name: r for r in (await s.scalars(select(Channel))).all()}
    return Site(email=settings.smtp is not None, rows=rows)


async def read(db, settings) -> Site:
    """`load` on the read path (`Database.read`): the channels as rows."""
    rows = {r.name: r for r in await db.read(select(Channel.__table__))}
    return Site(email=settings.smtp is not None, rows=rows)


def address(name: str, contacts: dict) -> str | None:
    """The recipient's address on the channel; None when they cannot be reached on it."""
    if name == EMAIL:
        return contacts.get("email") or None
    adapter = ADAPTERS[name]
    found = (contacts.get(adapter.contact) or "").strip()
    if found or not adapter.contact_required:
        return found
    return None


def contacts_of(user, email: str = "", phone: str = "") -> dict:
    """Where someone is reached: a user's own contacts, or an attendee's email and phone."""
    phone = "".join(c for c in phone if c.isdigit() or c == "+")  # "139 0013-9000" → 13900139000
    if user is None:
        return {"email": email, "mobile": phone}
    return {
        "email": email or user.email,
        "mobile": user.mobile or phone,
        "dingtalk_id": user.dingtalk_id,
        "wecom_id": user.wecom_id,
        "wechat_openid": user.wechat_openid,
    }


async def chosen(s, site: Site, user_id: int | None, kind: str) -> list[str]:
    """The channels the user chose for `kind` (those on), else the site's defaults."""
    if user_id:
        row = await s.get(Choice, (user_id, kind))
        if row is not None:
            mine = [c for c in row.channels.split(",") if c]
            return [c for c in NAMES if c in mine and site.is_on(c)]
    return site.defaults(kind)


def plan(site: Site, wanted: list[str], contacts: dict) -> list[tuple[str, str]]:
    """(channel, address) for each wanted channel, or the first reachable one of its fallback
    chain; each channel once."""
    out: list[tuple[str, str]] = []
    used: set[str] = set()
    for name in wanted:
        for candidate in (name, *site.chain(name)):
            if candidate in used or not site.is_on(candidate):
                continue
            found = address(candidate, contacts)
            if found is not None:
                out.append((candidate, found))
                used.add(candidate)
                break
    return out


def next_channel(site: Site, failed: str, tried: list[str], contacts: dict) -> tuple[str, str] | None:
    """Where a message given up on `failed` goes next: the first channel of its chain that is
    on, not tried yet, and reaches the recipient."""
    for candidate in site.chain(failed):
        if candidate in tried or not site.is_on(candidate):
            continue
        found = address(candidate, contacts)
        if found is not None:
            return candidate, found
    return None


def data_of(locale: str, variables: dict, contacts: dict, tried: list[str], text=None) -> str:
    data = {"locale": locale, "variables": variables, "contacts": contacts, "tried": tried}
    if text is not None and not variables:  # a kind without a template: its text as it is
        data["text"] = [text.subject, text.body]
    return json.dumps(data)


async def rendered(s, kind: str, channel: str, locale: str, variables: dict) -> texts.Text:
    """The kind's template for `channel` ("email" or "short"), rendered; the default when an
    admin's version no longer renders."""
    template = await texts.current(s, kind, channel, locale)
    try:
        return texts.render_text(template, variables)
    except Exception:
        log.warning("notifications: the %s/%s template does not render; the default is used", kind, channel)
        from signage.notify.invites import speaking

        with speaking(locale, "UTC"):
            return texts.render_text(texts.default(kind, channel), variables)


async def short_message(
    s, *, channel, kind, about, event_id, user_id, recipient, locale, variables, contacts, tried, text=None
):
    """A message on a channel besides email: the kind's short text (or `text`, for a kind
    without a template: an escalated service call)."""
    if text is None and kind in texts.SHORT:
        text = await rendered(s, kind, "short", locale, variables)
    if text is None:
        raise ValueError(f"no short text for {kind}")
    return Message(
        channel=channel,
        kind=kind,
        about=about,
        event_id=event_id,
        recipient=recipient[:254],
        subject=text.subject[:300],
        key=f"{channel}-{uuid.uuid4().hex}",
        body=text.body,
        user_id=user_id,
        data=data_of(locale, variables, contacts, [*tried, channel], text),
    )


async def plain_mail(
    s, settings, *, kind, about, event_id, user_id, name, recipient, locale, variables, contacts, tried, when, text=None
):
    """An email without a calendar (a fallback to email): the kind's email text (or `text`)."""
    fixed = (text.subject, text.body) if text is not None else None
    from signage.notify.invites import speaking

    text = texts.Text(*fixed) if fixed else await rendered(s, kind, EMAIL, locale, variables)
    with speaking(locale, settings.timezone):
        subject, plain, html = texts.mail_parts(text, {}, False)
    host = recipient_host(settings)
    mid = mail.message_id(host)
    to = mail.address(name, recipient)
    body = mail.build(sender=settings.mail_from, to=to, subject=subject, text=plain, html=html, mid=mid, when=when)
    return Message(
        channel=EMAIL,
        kind=kind,
        about=about,
        event_id=event_id,
        recipient=str(to),
        subject=subject[:300],
        key=mid,
        body=body,
        user_id=user_id,
        data=data_of(locale, variables, contacts, [*tried, EMAIL], text),
    )


def recipient_host(settings) -> str:
    from booking_api.mine import ical

    return ical.calendar_host(settings, "signage")
