"""Addresses the server may call out to: no SSRF through a URL an admin typed.

Webhooks, importers and door controllers call URLs given to us. A URL whose host is,
or resolves to, a private, loopback, link-local, multicast or reserved address
(`127.0.0.1`, `10.x`, `169.254.169.254`, `::1` …) is refused unless
`SIGNAGE_WEBHOOK_ALLOW_PRIVATE` allows it (an OA inside the company's network, tests).

    check_url("https://oa.example.com/hooks", allow_private=False)   # the URL, or Invalid
    await check_host("oa.example.com", allow_private=False)          # again before each call

The name is resolved again before every call (a name may resolve elsewhere later); the
call itself then resolves once more, so a name that flips between the two can still
slip through: refuse private addresses at the firewall too where it matters.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from signage.errors import Invalid
from signage.i18n import gettext as _

RESOLVE_SECONDS = 5.0


class Refused(Exception):
    """The URL's host is a private address and they are not allowed."""


def private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url: str, field: str = "url") -> str:
    """An http(s) URL with a host, or Invalid saying what is wrong (the address is checked
    by `check_host`, which needs the network)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port out of range)
    except ValueError:
        raise Invalid(_("This is not a URL."), {"field": field}) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(_("The URL must start with http:// or https:// and name a host."), {"field": field})
    if parts.username or parts.password:
        raise Invalid(_("Put no user or password in the URL."), {"field": field})
    return url


async def addresses(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_SECONDS)
    except (socket.gaierror, UnicodeError, TimeoutError):
        return []
    return sorted({info[4][0] for info in found})


async def check_host(url: str, allow_private: bool) -> None:
    """Raises Refused when the URL's host is or resolves to a private address (and they are
    not allowed), or does not resolve at all."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    found = await addresses(parts.hostname or "", port)
    if not found:
        raise Refused(f"{parts.hostname} does not resolve")
    if allow_private:
        return
    bad = [a for a in found if private(a)]
    if bad:
        raise Refused(f"{parts.hostname} is a private address ({bad[0]}); SIGNAGE_WEBHOOK_ALLOW_PRIVATE=1 allows it")


async def checked_url(url: str, allow_private: bool, field: str = "url") -> str:
    """`check_url` and `check_host` for a form or API body: Invalid with a clear message."""
    url = check_url(url, field)
    try:
        await check_host(url, allow_private)
    except Refused as exc:
        if "does not resolve" in str(exc):
            raise Invalid(_("The URL's host does not resolve."), {"field": field}) from None
        raise Invalid(
            _(
                "The URL points to a private or loopback address; "
                "set SIGNAGE_WEBHOOK_ALLOW_PRIVATE=1 to allow calls inside your network."
            ),
            {"field": field},
        ) from None
    return url
