"""The directory's password: when the LDAP source is on with sign-in, what is typed on the
login page (a login name such as `zhangsan`, or an email) is looked up in the directory
and the password tried by binding as that entry; the account signed in is the one synced
from that entry. People kept by LDAP have no local password, so only the directory's works
for them; local accounts (admins) keep theirs."""

from __future__ import annotations

import logging

from sqlalchemy import select

from signage.directory import runner
from signage.directory.sources import ldap
from signage.models import User

log = logging.getLogger("signage.signin")


async def ldap_on(db) -> bool:
    row, _conf = await runner.load(db, ldap.name)
    return bool(row is not None and row.enabled and row.signin)


async def ldap_user(db, login: str, password: str) -> User | None:
    """The active account linked to the directory entry `login` names, if `password` binds."""
    row, conf = await runner.load(db, ldap.name)
    if row is None or not row.enabled or not row.signin:
        return None
    try:
        entry_id = await ldap.sign_in(conf, login, password)
    except ldap.Unreachable as exc:
        log.warning("LDAP sign-in: %s", exc)
        return None
    if entry_id is None:
        return None
    async with db.session() as s:
        user = await s.scalar(select(User).where(User.directory_source == ldap.name, User.directory_id == entry_id))
    return user if user is not None and user.is_active else None
