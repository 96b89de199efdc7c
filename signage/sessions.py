"""Signed-in browsers as rows (`UserSession`), so a session can be ended.

The signed session cookie carries a random key (`sid`); its hash names a row. Ending a
session deletes the row: a cookie saved before signing out no longer signs anyone in.
Signing out ends this browser's session; a password change, a role change,
deactivation and "sign out everywhere" (the user's own, or an admin's) end all of the
user's sessions.

Cost per request: none added. The row is read together with its user in the one
query the session check made before (`signage.auth.recent_users`, kept
`RECENT_SECONDS`), and `last_seen_at` is written at most once a minute per session.
Ending sessions clears this process's cache at once; other processes see it within
`RECENT_SECONDS`.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, select, update
from starlette.requests import Request

from signage.db import utcnow
from signage.models import User, UserSession

MAX_AGE = dt.timedelta(days=14)  # a session not used this long is over (the cookie's own max age)
SEEN_EVERY = dt.timedelta(minutes=1)  # last_seen_at is written at most this often


def _hash(key: str) -> str:
    from signage.auth import hash_token

    return hash_token(key)


def _forget(request: Request) -> None:
    from signage.auth import recent_users

    recent_users(request).clear()


async def start(request: Request, user: User) -> None:
    """A new session for `user` in this browser (the old one, if any, is ended)."""
    await end(request)
    key = secrets.token_urlsafe(32)
    now = utcnow()
    async with request.app.state.db.begin() as s:
        await s.execute(
            delete(UserSession).where(UserSession.user_id == user.id, UserSession.last_seen_at < now - MAX_AGE)
        )
        s.add(
            UserSession(
                user_id=user.id,
                key_hash=_hash(key),
                user_agent=request.headers.get("user-agent", "")[:200],
                client=(request.client.host if request.client else "")[:64],
                created_at=now,
                last_seen_at=now,
            )
        )
    request.session.clear()
    request.session.update({"sid": key, "csrf": secrets.token_urlsafe(32)})


async def end(request: Request) -> None:
    """End this browser's session (and forget its cookie)."""
    key = request.session.get("sid")
    if isinstance(key, str) and key:
        async with request.app.state.db.begin() as s:
            await s.execute(delete(UserSession).where(UserSession.key_hash == _hash(key)))
        _forget(request)
    request.session.clear()


async def end_all(request: Request, user_id: int, session=None) -> int:
    """End every session of the user; returns how many. With `session` (an open
    transaction), the rows go with that transaction's commit."""
    if session is not None:
        count = (await session.execute(delete(UserSession).where(UserSession.user_id == user_id))).rowcount
    else:
        async with request.app.state.db.begin() as s:
            count = (await s.execute(delete(UserSession).where(UserSession.user_id == user_id))).rowcount
    _forget(request)
    return count or 0


async def end_one(request: Request, user_id: int, session_id: int) -> bool:
    async with request.app.state.db.begin() as s:
        result = await s.execute(
            delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user_id)
        )
    _forget(request)
    return bool(result.rowcount)


async def of_user(request: Request, user_id: int) -> list[UserSession]:
    async with request.app.state.db.session() as s:
        return list(
            (
                await s.scalars(
                    select(UserSession)
                    .where(UserSession.user_id == user_id, UserSession.last_seen_at >= utcnow() - MAX_AGE)
                    .order_by(UserSession.last_seen_at.desc())
                )
            ).all()
        )


async def lookup(request: Request, key_hash: str) -> tuple[User, int] | None:
    """The user and session id of a live session key (hash), or None."""
    db = request.app.state.db
    now = utcnow()
    async with db.session() as s:
        row = (
            await s.execute(
                select(User, UserSession.id, UserSession.last_seen_at)
                .join(UserSession, UserSession.user_id == User.id)
                .where(UserSession.key_hash == key_hash)
            )
        ).first()
    if row is None or not row[0].is_active or row[2] < now - MAX_AGE:
        return None
    if row[2] < now - SEEN_EVERY:
        async with db.begin() as s:
            await s.execute(update(UserSession).where(UserSession.id == row[1]).values(last_seen_at=now))
    return row[0], row[1]
