"""Sign-in throttling: failed sign-ins slow down, then pause, guessing a password.

Counted from the audit log (every failed sign-in is in it already, with its address),
so every process sees the same count and nothing else needs keeping:

- by account: 5 failures in 15 minutes are free (since its last successful sign-in);
  then each try must wait 30 s, 1, 2, 4, 8 minutes after the last failure; from 10
  failures the account is locked for 15 minutes after the last one;
- by address: the same from 20 failures (many people share an office's address),
  locked from 50.

A refused try is answered 429 with `Retry-After`, is audited ("throttled"), and is not
a failure itself, so the lock is short: it ends 15 minutes after the last real guess.
And a browser that has signed in to the account before (a signed `signage_device`
cookie naming the user) is never throttled for it, so an attacker cannot lock out a
user from their own devices.

    wait = await throttle.wait(request, email, user)   # seconds, 0: go ahead
"""

from __future__ import annotations

import datetime as dt

import itsdangerous
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from signage.db import utcnow
from signage.models import AuditEntry, User

WINDOW = dt.timedelta(minutes=15)
LOCK_SECONDS = 15 * 60
FIRST_WAIT = 30  # seconds, doubling with each further failure
ACCOUNT = (5, 10)  # failures free, failures that lock
ADDRESS = (20, 50)
BAD_PASSWORD = "bad email or password"  # the audit reason of a failed sign-in
THROTTLED = "throttled"
DEVICE_COOKIE = "signage_device"
DEVICE_DAYS = 365


def seconds_after(failures: int, free: int, locks: int) -> int:
    """How long after the last failure the next try may come: 0, 30, 60, … then the lock.

    seconds_after(4, 5, 10) == 0; seconds_after(5, 5, 10) == 30; seconds_after(10, 5, 10) == 900
    """
    if failures < free:
        return 0
    if failures >= locks:
        return LOCK_SECONDS
    return min(LOCK_SECONDS, FIRST_WAIT * 2 ** (failures - free))


def client_of(request: Request) -> str:
    return (request.client.host if request.client else "")[:64]


async def _failures(request: Request, since: dt.datetime, **where) -> tuple[int, dt.datetime | None]:
    async with request.app.state.db.session() as s:
        query = select(func.count(), func.max(AuditEntry.at)).where(
            AuditEntry.action == "auth.login",
            AuditEntry.result == "failure",
            AuditEntry.reason == BAD_PASSWORD,
            AuditEntry.at > since,
        )
        for column, value in where.items():
            query = query.where(getattr(AuditEntry, column) == value)
        count, last = (await s.execute(query)).one()
    return count, last


async def _last_success(request: Request, email: str) -> dt.datetime | None:
    async with request.app.state.db.session() as s:
        return await s.scalar(
            select(func.max(AuditEntry.at)).where(
                AuditEntry.action == "auth.login", AuditEntry.result == "success", AuditEntry.user_email == email
            )
        )


async def wait(request: Request, email: str, user: User | None) -> int:
    """Seconds until a sign-in to `email` from this request's address may be tried (0: now)."""
    if user is not None and known_device(request, user):
        return 0
    now = utcnow()
    since = now - WINDOW
    success = await _last_success(request, email)
    account = await _failures(request, max(since, success) if success else since, target=email[:200])
    address = await _failures(request, since, client=client_of(request))
    longest = 0
    for (count, last), (free, locks) in ((account, ACCOUNT), (address, ADDRESS)):
        if last is not None:
            left = seconds_after(count, free, locks) - (now - last).total_seconds()
            longest = max(longest, int(left + 0.999))
    return longest


def _signer(request: Request) -> itsdangerous.TimestampSigner:
    return itsdangerous.TimestampSigner(str(request.app.state.settings.secret_key), salt="signage-device")


def known_device(request: Request, user: User) -> bool:
    value = request.cookies.get(DEVICE_COOKIE, "")
    try:
        return _signer(request).unsign(value, max_age=DEVICE_DAYS * 86400).decode() == str(user.id)
    except (itsdangerous.BadSignature, UnicodeDecodeError):
        return False


def remember_device(request: Request, response: Response, user: User) -> None:
    """After a successful sign-in: this browser is one of the user's own devices."""
    response.set_cookie(
        DEVICE_COOKIE,
        _signer(request).sign(str(user.id)).decode(),
        max_age=DEVICE_DAYS * 86400,
        path="/login",
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.secure_cookies,
    )
