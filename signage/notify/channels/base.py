"""What every adapter shares: its fields, the message it sends, how it fails, tokens."""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import hashlib
import time
from collections.abc import Awaitable, Callable

import httpx

from signage.i18n import lazy

TIMEOUT = 15.0  # seconds for one provider call


class Failed(Exception):
    """The provider did not take the message."""


class Retry(Failed):
    """Worth trying again later (after `after` seconds when the provider said so)."""

    def __init__(self, message: str, after: float = 0.0):
        super().__init__(message)
        self.after = after


class Permanent(Failed):
    """Trying again cannot help: the message is given up and its fallback channel tried."""


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    label: object  # lazy text
    secret: bool = False
    required: bool = True
    hint: object = ""
    choices: tuple[str, ...] = ()  # the values it may take (empty: any text)


@dataclasses.dataclass(frozen=True)
class Outgoing:
    recipient: str  # the user's id on the channel, or a mobile number ("" : a robot's group only)
    subject: str
    body: str
    key: str  # the message's idempotency key


@dataclasses.dataclass(frozen=True)
class Conf:
    base_url: str
    values: dict

    def __getitem__(self, name: str) -> str:
        return str(self.values.get(name, "")).strip()

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


class Adapter(abc.ABC):
    name = ""
    label = lazy("Channel")
    contact = "mobile"  # the user's field it sends to
    contact_required = True  # robots post to their group even without one
    base_url = ""  # the provider's own
    fields: tuple[Field, ...] = ()
    rate_per_minute = 0  # 0: the provider states no limit we must keep

    def missing(self, conf: Conf) -> list[str]:
        return [f.name for f in self.fields if f.required and not conf[f.name]]

    @abc.abstractmethod
    async def send(self, http: httpx.AsyncClient, conf: Conf, m: Outgoing) -> str:
        """Send `m`; the provider's id of the message. Raises Retry or Permanent."""


def answer(r: httpx.Response) -> dict:
    """The JSON of a provider's answer; Retry for a 5xx, a 429 or what is not JSON."""
    if r.status_code == 429 or r.status_code >= 500:
        raise Retry(f"HTTP {r.status_code}", after=float(r.headers.get("retry-after", "0") or 0))
    try:
        body = r.json()
    except ValueError:
        raise Retry(f"HTTP {r.status_code}: not JSON: {r.text[:200]}") from None
    if not isinstance(body, dict):
        raise Retry(f"HTTP {r.status_code}: unexpected answer {r.text[:200]}")
    return body


class Tokens:
    """Access tokens from a provider's /gettoken, kept per process until shortly before they
    expire (and dropped when the provider says one is no longer valid)."""

    def __init__(self) -> None:
        self.kept: dict[str, tuple[str, float]] = {}
        self.locks: dict[str, asyncio.Lock] = {}

    async def get(self, key: str, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> str:
        key = hashlib.sha256(key.encode()).hexdigest()
        lock = self.locks.setdefault(key, asyncio.Lock())
        async with lock:
            token, until = self.kept.get(key, ("", 0.0))
            if token and time.monotonic() < until:
                return token
            token, seconds = await fetch()
            self.kept[key] = (token, time.monotonic() + max(60.0, seconds - 300.0))
            return token

    def drop(self, key: str) -> None:
        self.kept.pop(hashlib.sha256(key.encode()).hexdigest(), None)


def text_of(m: Outgoing) -> str:
    """Subject and body as one text (robots, SMS): the subject is the first line."""
    body = m.body.strip()
    return f"{m.subject}\n{body}" if m.subject and body else (m.subject or body)


def spoken(m: Outgoing, limit: int) -> str:
    """What a voice call reads out: subject and body as one line, at most `limit` characters."""
    return " ".join(text_of(m).split())[:limit]
