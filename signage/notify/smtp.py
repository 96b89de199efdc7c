"""Email's way out: the SMTP server of `SIGNAGE_SMTP_URL`, through aiosmtplib.

    smtp://mail.example.com:25                 plain (a relay inside the network)
    smtp+starttls://user:pass@mail.example.com:587
    smtps://user:pass@smtp.exmail.qq.com:465   TLS from the first byte

No URL: email is off. User and password are percent-decoded (`%40` for an `@`).
"""

from __future__ import annotations

import dataclasses
import ssl
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

import aiosmtplib

SCHEMES = {"smtp": (25, False, False), "smtp+starttls": (587, False, True), "smtps": (465, True, False)}
TIMEOUT = 30.0  # seconds for each SMTP step


@dataclasses.dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    tls: bool = False  # implicit TLS (smtps)
    starttls: bool = False
    username: str = ""
    password: str = ""

    def __str__(self) -> str:
        """The URL without its password (for pages and logs)."""
        scheme = "smtps" if self.tls else "smtp+starttls" if self.starttls else "smtp"
        who = f"{self.username}@" if self.username else ""
        return f"{scheme}://{who}{self.host}:{self.port}"

    def client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.tls,
            start_tls=self.starttls,
            username=self.username or None,
            password=self.password or None,
            timeout=TIMEOUT,
            tls_context=ssl.create_default_context() if (self.tls or self.starttls) else None,
        )


def parse_url(url: str) -> Smtp | None:
    """`smtps://me:pw@mail.example.com:465` → Smtp(...); "" → None (email off).

    Raises ValueError saying what is wrong with the URL."""
    url = url.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"SIGNAGE_SMTP_URL must start with smtp://, smtp+starttls:// or smtps:// (got {url!r})")
    default_port, tls, starttls = SCHEMES[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValueError(f"SIGNAGE_SMTP_URL has a port that is not a number from 1 to 65535: {url!r}") from None
    if not parts.hostname:
        raise ValueError(f"SIGNAGE_SMTP_URL names no host: {url!r}")
    if parts.path not in ("", "/") or parts.query:
        raise ValueError(f"SIGNAGE_SMTP_URL takes no path or query: {url!r}")
    return Smtp(
        host=parts.hostname,
        port=port,
        tls=tls,
        starttls=starttls,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


def parse_from(value: str, smtp: Smtp | None) -> str:
    """SIGNAGE_MAIL_FROM: `会议室 <rooms@example.com>` or `rooms@example.com`; needed with a URL."""
    value = value.strip()
    if not value:
        if smtp is not None:
            raise ValueError("SIGNAGE_MAIL_FROM is needed with SIGNAGE_SMTP_URL (e.g. rooms@example.com)")
        return ""
    _name, address = parseaddr(value)
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise ValueError(f"SIGNAGE_MAIL_FROM is not an email address: {value!r}")
    return value
