"""What notices say: a template per kind, channel and language, editable by admins.

    text = await texts.render(s, "invitation", "email", "zh_CN", variables)
    → Text(subject="会议邀请：Budget（12月3日 09:00–10:00）", body="王芳，您好：…")

A template is a subject and a body, Jinja2 text with the documented VARIABLES only
(`{{ title }}`, `{% if notes %}…{% endif %}`). The defaults are in the code, in English,
and translated like every other text (signage/locale); an admin's own version is a
`Template` row, and "reset to default" deletes it. Templates are rendered in Jinja2's
`SandboxedEnvironment` and checked when saved (`check`): a name that is not a variable,
any attribute or item starting with `_` (`{{ ''.__class__ }}`), `include`, `import` and
`extends` are refused with a message saying what is wrong, so no template reaches Python
objects (Xibo's CVE-2025-62369 was SSTI to RCE). The sandbox refuses the rest at run time.

Two channels of text: `email` (its HTML part is the body as paragraphs, with the answer
links as buttons: signage/notify/templates/notify/mail.html) and `short`, what every other
channel says (SMS, voice calls, DingTalk, WeCom, WeChat: signage/notify/channels): a subject (the first
line, or a title) and a text of a line or two.
"""

from __future__ import annotations

import dataclasses
import functools

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from signage import i18n
from signage.i18n import lazy
from signage.notify.models import Template

CHANNELS = ("email", "short")
CHANNEL_LABELS = {"email": lazy("Email"), "short": lazy("Short text (SMS, voice calls, DingTalk, WeCom, WeChat)")}
MAX_LENGTH = {"subject": 300, "body": 20_000}

# name → what it is (shown on the templates page, in the reader's language)
VARIABLES = {
    "name": lazy("the recipient's name"),
    "title": lazy("the meeting's title"),
    "when": lazy("its day and time, in the recipient's language"),
    "start": lazy("its start time (HH:MM)"),
    "room": lazy("the room's name"),
    "organizer": lazy("the organizer's name"),
    "notes": lazy("the meeting's notes (may be empty)"),
    "reason": lazy("why it was rejected, approved or cancelled (may be empty)"),
    "series": lazy("true for a whole recurring meeting"),
    "minutes": lazy("minutes until it starts (reminders)"),
    "added_by": lazy("who added the minutes (minutes available)"),
    "files": lazy("the names of the files added (minutes available)"),
}

DEFAULTS: dict[str, tuple[str, str]] = {  # kind → (subject, body), English; translated where used
    "invitation": (
        lazy("Invitation: {{ title }} ({{ when }})"),
        lazy(
            "Hello {{ name }},\n\n{{ organizer }} invites you to a meeting.\n\n"
            "Meeting: {{ title }}\nWhen: {{ when }}{% if series %} (and its other occurrences){% endif %}\n"
            "Room: {{ room }}\nOrganizer: {{ organizer }}\n{% if notes %}Notes: {{ notes }}\n{% endif %}"
        ),
    ),
    "update": (
        lazy("Updated: {{ title }} ({{ when }})"),
        lazy(
            "Hello {{ name }},\n\n{{ organizer }} changed this meeting.\n\n"
            "Meeting: {{ title }}\nWhen: {{ when }}{% if series %} (and its other occurrences){% endif %}\n"
            "Room: {{ room }}\nOrganizer: {{ organizer }}\n{% if notes %}Notes: {{ notes }}\n{% endif %}"
        ),
    ),
    "cancellation": (
        lazy("Cancelled: {{ title }} ({{ when }})"),
        lazy(
            "Hello {{ name }},\n\n{{ organizer }} cancelled this meeting.\n\n"
            "Meeting: {{ title }}\nWhen: {{ when }}{% if series %} (and its other occurrences){% endif %}\n"
            "Room: {{ room }}\nOrganizer: {{ organizer }}\n{% if reason %}Reason: {{ reason }}\n{% endif %}"
        ),
    ),
    "rejection": (
        lazy("Booking rejected: {{ title }} ({{ when }})"),
        lazy(
            "Hello {{ name }},\n\nYour booking was rejected.\n\n"
            "Meeting: {{ title }}\nWhen: {{ when }}\nRoom: {{ room }}\nReason: {{ reason }}\n"
        ),
    ),
    "approval": (
        lazy("Booking approved: {{ title }} ({{ when }})"),
        lazy(
            "Hello {{ name }},\n\nYour booking was approved; the attendees are invited.\n\n"
            "Meeting: {{ title }}\nWhen: {{ when }}{% if series %} (and its other occurrences){% endif %}\n"
            "Room: {{ room }}\n{% if reason %}Note: {{ reason }}\n{% endif %}"
        ),
    ),
    "reminder": (
        lazy("Reminder: {{ title }} at {{ start }}"),
        lazy(
            "Hello {{ name }},\n\nThis meeting starts in {{ minutes }} minutes.\n\n"
            "Meeting: {{ title }}\nWhen: {{ when }}\nRoom: {{ room }}\nOrganizer: {{ organizer }}\n"
            "{% if notes %}Notes: {{ notes }}\n{% endif %}"
        ),
    ),
    "no_show": (
        lazy("Released: {{ title }} ({{ when }})"),
        lazy(
            "Hello {{ name }},\n\nNobody checked in to this meeting in time, so its room was released "
            "for others.\n\nMeeting: {{ title }}\nWhen: {{ when }}\nRoom: {{ room }}\n"
        ),
    ),
    "minutes": (
        lazy("Minutes available: {{ title }} ({{ when }})"),
        lazy(
            "Hello {{ name }},\n\n{{ added_by }} added the minutes of this meeting: download them from its page "
            "in My meetings.\n\nMeeting: {{ title }}\nWhen: {{ when }}\nRoom: {{ room }}\n"
            "{% if files %}Files: {{ files }}\n{% endif %}"
        ),
    ),
}


SHORT: dict[str, tuple[str, str]] = {  # kind → (subject, body) of the short text, English
    "invitation": (
        lazy("Invitation: {{ title }}"),
        lazy("{{ organizer }} invites you: {{ title }}, {{ when }}, {{ room }}."),
    ),
    "update": (lazy("Updated: {{ title }}"), lazy("{{ title }} is now {{ when }}, {{ room }}.")),
    "cancellation": (
        lazy("Cancelled: {{ title }}"),
        lazy("{{ title }} ({{ when }}, {{ room }}) is cancelled.{% if reason %} {{ reason }}{% endif %}"),
    ),
    "rejection": (
        lazy("Booking rejected: {{ title }}"),
        lazy("Your booking {{ title }} ({{ when }}, {{ room }}) was rejected: {{ reason }}"),
    ),
    "reminder": (
        lazy("Reminder: {{ title }} at {{ start }}"),
        lazy("{{ title }} starts in {{ minutes }} minutes, {{ room }}."),
    ),
    "no_show": (
        lazy("Released: {{ title }}"),
        lazy("Nobody checked in to {{ title }} ({{ when }}), so {{ room }} was released."),
    ),
    "minutes": (
        lazy("Minutes available: {{ title }}"),
        lazy("{{ added_by }} added the minutes of {{ title }} ({{ when }})."),
    ),
}


@dataclasses.dataclass(frozen=True)
class Text:
    subject: str
    body: str


class TemplateError(ValueError):
    """A template that may not be saved; the message says why, in the reader's language."""


env = SandboxedEnvironment(
    autoescape=False,  # text; the HTML part escapes it (mail.html)
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
env.globals.clear()  # no range, dict, lipsum, cycler, joiner, namespace: the variables only


@functools.lru_cache(maxsize=256)  # a mail renders its template once per recipient
def check(source: str, field: str = "body") -> jinja2.Template:
    """The compiled template, or TemplateError saying what is wrong with it."""
    _ = i18n.gettext
    if len(source) > MAX_LENGTH[field]:
        raise TemplateError(_("The text is longer than %(n)s characters.", n=MAX_LENGTH[field]))
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(_("Line %(line)s: %(error)s", line=exc.lineno, error=exc.message)) from None
    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        raise TemplateError(
            _("Templates may not include, import or extend other templates (line %(line)s).", line=node.lineno)
        )
    for node in tree.find_all(nodes.Filter):
        if node.name == "attr":
            raise TemplateError(_("Line %(line)s: the attr filter is not allowed.", line=node.lineno))
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", "")
        if isinstance(name, str) and name.startswith("_") or isinstance(node, nodes.Getattr):
            raise TemplateError(
                _(
                    "Line %(line)s: “%(name)s” is not one of the variables; a template can only show them.",
                    line=node.lineno,
                    name=name if isinstance(name, str) else "[…]",
                )
            )
    stored = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    loaded = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    unknown = sorted(loaded - set(VARIABLES) - (stored - {"self"}) - ({"loop"} if tree.find(nodes.For) else set()))
    if unknown:
        raise TemplateError(
            _("“%(name)s” is not one of the variables: %(known)s.", name=unknown[0], known=", ".join(VARIABLES))
        )
    return env.from_string(tree)


def default(kind: str, channel: str = "email") -> Text:
    """The default text of `kind` on `channel`, in the current language."""
    subject, body = (SHORT if channel == "short" else DEFAULTS)[kind]
    return Text(i18n.gettext(subject), i18n.gettext(body))


def render_text(text: Text, variables: dict) -> Text:
    """Raises TemplateError (a broken template) or jinja2's SecurityError (the sandbox)."""
    subject = check(text.subject, "subject").render(variables)
    return Text(" ".join(subject.split()), check(text.body).render(variables))


async def current(s, kind: str, channel: str, locale: str) -> Text:
    """The admins' version of the template, else the default, in `locale`."""
    row = await s.get(Template, (kind, channel, locale))
    if row is not None:
        return Text(row.subject, row.body)
    token = i18n.current_locale.set(locale)
    try:
        return default(kind, channel)
    finally:
        i18n.current_locale.reset(token)


def mail_parts(text: Text, links: dict, calendar: bool) -> tuple[str, str, str]:
    """Subject, text/plain and text/html of a mail saying `text`, with the answer links."""
    from signage.templating import render_string

    _ = i18n.gettext
    plain = text.body.rstrip("\n") + "\n"
    if links:
        plain += "\n" + _("Accept: %(url)s", url=links["accept"]) + "\n" + _("Decline: %(url)s", url=links["decline"])
        plain += "\n"
    paragraphs = [block.split("\n") for block in text.body.strip("\n").split("\n\n") if block.strip()]
    ctx = {"subject": text.subject, "paragraphs": paragraphs, "links": links, "calendar": calendar}
    html = render_string("notify/mail.html", {**ctx, "locale": i18n.current_locale.get()})
    return text.subject, plain, html
