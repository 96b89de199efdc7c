"""One mail, as the outbox keeps and sends it.

An invitation (RFC 5546 over RFC 6047, the way calendar apps accept it):

    multipart/mixed
      multipart/alternative
        text/plain; charset=utf-8                     (base64)
        text/html; charset=utf-8                      (base64)
        text/calendar; charset=utf-8; method=REQUEST  (base64, so its CRLFs survive)
      application/ics; name=invite.ics                (the same calendar, as an attachment)

A notice without a calendar (a rejection) is only the alternative of text and HTML.
The Message-ID is made once, when the mail is queued: the idempotency key of its sends.
"""

from __future__ import annotations

import datetime as dt
import uuid
from email import encoders, policy
from email.header import Header
from email.headerregistry import Address
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr

SMTP32 = policy.compat32.clone(linesep="\r\n", max_line_length=78)


def message_id(host: str) -> str:
    return f"<{uuid.uuid4().hex}@{host}>"


def address(name: str, email: str) -> Address:
    """Raises ValueError (IndexError from the parser) for what is not an address."""
    local, _at, domain = email.strip().rpartition("@")
    if not local or not domain:
        raise ValueError(f"not an email address: {email!r}")
    return Address(display_name=name.strip(), username=local, domain=domain)


def build(
    *,
    sender: str,
    to: Address,
    subject: str,
    text: str,
    html: str,
    mid: str,
    calendar: bytes | None = None,
    method: str = "",
    when: dt.datetime,
) -> str:
    """The whole message as ASCII text (headers RFC 2047-encoded, parts base64), CRLF lines.

    Made with the `email` package's compat32 classes: its newer EmailMessage parsed every
    header it was given again and cost ~4 ms a mail (most of a booking's invitations' time)."""
    name, addr = parseaddr(sender)
    body = MIMEMultipart("alternative")
    body.attach(MIMEText(text, "plain", "utf-8"))
    body.attach(MIMEText(html, "html", "utf-8"))
    if calendar is not None:
        invite = MIMEText(calendar.decode("utf-8"), "calendar", "utf-8")
        # unquoted, as Outlook's own invitations write it
        invite.replace_header("Content-Type", f"text/calendar; charset=utf-8; method={method}")
        body.attach(invite)
        attachment = MIMEBase("application", "ics")
        attachment.set_payload(calendar)
        encoders.encode_base64(attachment)
        attachment.replace_header("Content-Type", 'application/ics; name="invite.ics"')
        attachment["Content-Disposition"] = 'attachment; filename="invite.ics"'
        msg = MIMEMultipart("mixed")
        msg.attach(body)
        msg.attach(attachment)
    else:
        msg = body
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # the message's own is enough
    msg["From"] = formataddr((name.strip(), addr), charset="utf-8")
    msg["To"] = formataddr((to.display_name, to.addr_spec), charset="utf-8")
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    msg["Date"] = format_datetime(when.astimezone(dt.UTC))
    msg["Message-ID"] = mid
    msg["Auto-Submitted"] = "auto-generated"
    return msg.as_bytes(policy=SMTP32).decode("ascii")
