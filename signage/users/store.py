"""Users and tokens, for the CLI and demo data."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from signage.auth import hash_password, hash_token, new_token
from signage.db import Database
from signage.models import ApiToken, AuditEntry, User, UserSession
from signage.settings import Settings


class Taken(ValueError):
    """Another user has this employee number."""


async def create_or_update(
    settings: Settings, email: str, password: str, role: str, name: str = "", employee_no: str | None = None
) -> tuple[int, bool]:
    db = Database(settings.db_url)
    try:
        async with db.begin() as s:
            user = await s.scalar(select(User).where(func.lower(User.email) == email.lower()))
            created = user is None
            if employee_no is not None:
                employee_no = employee_no.strip()
                other = await s.scalar(select(User.id).where(User.employee_no == employee_no))
                if other is not None and (user is None or other != user.id):
                    raise Taken(f"user {other} has employee number {employee_no} already")
            if created:
                user = User(email=email.lower(), name=name or email.split("@")[0], role=role, password_hash="")
                s.add(user)
            user.password_hash, user.role = hash_password(password), role
            if employee_no is not None:
                user.employee_no = employee_no
            await s.flush()
            if not created:  # a new password or role: every session of the user ends
                await s.execute(delete(UserSession).where(UserSession.user_id == user.id))
            s.add(
                AuditEntry(
                    action="user.create" if created else "user.update",
                    target=f"user:{user.id}",
                    reason=f"role {role}",
                    client="cli",
                )
            )
            return user.id, created
    finally:
        await db.close()


async def create_token(settings: Settings, email: str, name: str = "cli") -> str | None:
    db = Database(settings.db_url)
    try:
        async with db.begin() as s:
            user = await s.scalar(select(User).where(func.lower(User.email) == email.lower()))
            if user is None:
                return None
            value = new_token()
            s.add(ApiToken(user_id=user.id, token_hash=hash_token(value), name=name))
            s.add(
                AuditEntry(
                    action="token.create",
                    target=f"user:{user.id}",
                    reason=name,
                    client="cli",
                    user_id=user.id,
                    user_email=user.email,
                    role=user.role,
                )
            )
            return value
    finally:
        await db.close()
