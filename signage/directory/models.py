"""Departments as a tree, who is in which, where they come from and each sync's record.

A person is a `User` (signage/models.py): a source links one by `directory_source` and
`directory_id` (the source's own id: a DingTalk or WeCom userid, an LDAP entry's id, an
employee number in a CSV file). A department is linked the same way (`source`,
`external_id`); those made by hand have neither.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from signage.db import Base, UTCDateTime, utcnow
from signage.directory.search import search_text


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), default=None, index=True
    )
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    source: Mapped[str] = mapped_column(String(20), default="")  # "" : made by hand
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    sort: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    search: Mapped[str] = mapped_column(String(600), default="")  # name, pinyin, initials (search.py)


class Membership(Base):
    """A person in a department; a person may be in several."""

    __tablename__ = "user_departments"
    __table_args__ = (Index("ix_user_departments_department_id", "department_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True)


class Source(Base):
    """Where the organisation is read from, as an admin configured it: on or off, where the
    provider answers (`base_url`; tests: a local fake), its settings (`config`, JSON: keys,
    secrets, DNs, filters), how often it runs by itself (`every_minutes`, 0: on demand)
    and whether people sign in through it."""

    __tablename__ = "directory_sources"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)  # csv, ldap, dingtalk, wecom
    enabled: Mapped[bool] = mapped_column(default=False)
    base_url: Mapped[str] = mapped_column(String(300), default="")
    config: Mapped[str] = mapped_column(Text, default="{}")
    every_minutes: Mapped[int] = mapped_column(default=0)
    signin: Mapped[bool] = mapped_column(default=False)
    next_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)  # claimed by moving it on
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(254), default="")


class SyncRun(Base):
    """One sync of a source, as it went: a dry run or applied, its counts and errors."""

    __tablename__ = "directory_runs"
    __table_args__ = (Index("ix_directory_runs_source_started", "source", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    dry_run: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    status: Mapped[str] = mapped_column(String(10), default="running")  # running, done, failed
    counts: Mapped[str] = mapped_column(Text, default="{}")  # JSON: created, changed, deactivated, departments…
    errors: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [{"line"/"id", "message"}]
    by: Mapped[str] = mapped_column(String(254), default="")  # who started it, or "schedule"


@event.listens_for(Department, "before_insert")
@event.listens_for(Department, "before_update")
def _department_search(mapper, connection, department: Department) -> None:
    department.search = search_text(department.name)
