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
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr


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
    """The whole message as ASCII text (headers RFC 2047-encoded, parts base64), CRLF lines."""
    msg = EmailMessage(policy=policy.SMTP)
    name, addr = parseaddr(sender)
    msg["From"] = address(name, addr)
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when.astimezone(dt.UTC))
    msg["Message-ID"] = mid
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="base64")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    if calendar is not None:
        msg.add_alternative(calendar, maintype="text", subtype="calendar", cte="base64")
        # unquoted, as Outlook's own invitations write it
        msg.get_payload()[-1].replace_header("Content-Type", f"text/calendar; charset=utf-8; method={method}")
        msg.add_attachment(calendar, maintype="application", subtype="ics", filename="invite.ics", cte="base64")
        msg.get_payload()[-1].replace_header("Content-Type", 'application/ics; name="invite.ics"')
    return msg.as_bytes().decode("ascii")
