"""Tables of the platform itself: users, their sessions and API tokens, the audit log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow
from signage.directory.search import search_text


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("directory_source", "directory_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    locale: Mapped[str | None] = mapped_column(String(10), default=None)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the number a face or badge terminal names the person by (booking_api/integrations/terminals.py)
    employee_no: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    # where notices reach them besides email (signage/notify/channels)
    mobile: Mapped[str] = mapped_column(String(30), default="")
    dingtalk_id: Mapped[str] = mapped_column(String(64), default="")
    wecom_id: Mapped[str] = mapped_column(String(64), default="")
    wechat_openid: Mapped[str] = mapped_column(String(64), default="")
    # who books, for a rate card's rules (booking_api/billing): "internal", "tenant", "member" …
    billing_tag: Mapped[str] = mapped_column(String(60), default="", server_default="")
    reminder_minutes: Mapped[int | None] = mapped_column(default=None)  # None: SIGNAGE_REMINDER_MINUTES
    # the organisation (signage/directory): the job title, the source that keeps this person
    # ("" : nobody, made here) and the person's id there; name, pinyin and initials to search
    title: Mapped[str] = mapped_column(String(200), default="", server_default="")
    directory_source: Mapped[str] = mapped_column(String(20), default="", server_default="")
    directory_id: Mapped[str | None] = mapped_column(String(200), default=None)
    search: Mapped[str] = mapped_column(String(600), default="", server_default="")


@event.listens_for(User, "before_insert")
@event.listens_for(User, "before_update")
def _user_search(mapper, connection, user: User) -> None:
    user.search = search_text(user.name, user.email, user.employee_no)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)  # None: never


class UserSession(Base):
    """A signed-in browser. The session cookie carries a random key whose hash is here;
    ending a session deletes its row, so a saved cookie no longer signs anyone in."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    client: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(default=None, index=True)
    user_email: Mapped[str] = mapped_column(String(254), default="")
    role: Mapped[str] = mapped_column(String(20), default="")
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    result: Mapped[str] = mapped_column(String(10), default="success")
    reason: Mapped[str] = mapped_column(Text, default="")
    client: Mapped[str] = mapped_column(String(64), default="")


class IdempotencyKey(Base):
    """The answer given to an API write with an `Idempotency-Key`, replayed on retries
    (status 0: the first request is still being answered)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of method, path and body
    status: Mapped[int] = mapped_column(default=201)
    response: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
