"""Users and tokens, for the CLI and demo data."""

from __future__ import annotations

from sqlalchemy import func, select

from signage.auth import hash_password, hash_token, new_token
from signage.db import Database
from signage.models import ApiToken, AuditEntry, User
from signage.settings import Settings


async def create_or_update(
    settings: Settings, email: str, password: str, role: str, name: str = ""
) -> tuple[int, bool]:
    db = Database(settings.db_url)
    try:
        async with db.begin() as s:
            user = await s.scalar(select(User).where(func.lower(User.email) == email.lower()))
            created = user is None
            if created:
                user = User(email=email.lower(), name=name or email.split("@")[0], role=role, password_hash="")
                s.add(user)
            user.password_hash, user.role = hash_password(password), role
            await s.flush()
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
