"""LDAP or Active Directory (ldap3): departments are the organizational units under the
base DN (their tree is the DN's), people the entries the user filter finds, each in the
unit that holds it. Both are known by an attribute that survives a move or a rename
(`entryUUID` in OpenLDAP, `objectGUID` in AD), so a unit moved keeps its people.

Searches are paged (500 an answer), as AD requires beyond 1,000 entries. ldap3 is
synchronous: each call runs in a worker thread.

Signing in: the service account finds the entry whose login attribute (`uid`,
`sAMAccountName`) or email is what the person typed, then binds as that entry with the
password typed; the account it maps to is the one synced with the same id.
"""

from __future__ import annotations

import asyncio
import uuid

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from signage.directory.sync import Dept, Person, Snapshot
from signage.i18n import lazy
from signage.notify.channels.base import Conf, Field

name = "ldap"
label = lazy("LDAP / Active Directory")
base_url = ""  # ldap://host:389 or ldaps://host:636: no default
PAGE = 500
TIMEOUT = 10
fields = (
    Field("bind_dn", lazy("Service account DN")),
    Field("bind_password", lazy("Service account password"), secret=True),
    Field("base_dn", lazy("Base DN")),
    Field("user_filter", lazy("User filter"), required=False, hint="(objectClass=inetOrgPerson)"),
    Field("department_filter", lazy("Department filter"), required=False, hint="(objectClass=organizationalUnit)"),
    Field("id_attribute", lazy("Id attribute"), required=False, hint="entryUUID"),
    Field("login_attribute", lazy("Login attribute"), required=False, hint="uid"),
    Field("name_attribute", lazy("Name attribute"), required=False, hint="cn"),
    Field("email_attribute", lazy("Email attribute"), required=False, hint="mail"),
    Field("mobile_attribute", lazy("Mobile attribute"), required=False, hint="mobile"),
    Field("employee_no_attribute", lazy("Employee number attribute"), required=False, hint="employeeNumber"),
    Field("title_attribute", lazy("Title attribute"), required=False, hint="title"),
)


class Unreachable(Exception):
    """The server did not answer or refused the service account."""


def setting(conf: Conf, key: str) -> str:
    return conf[key] or next(str(f.hint) for f in fields if f.name == key)


def server(conf: Conf) -> ldap3.Server:
    url = conf.base_url.strip()
    if not url.startswith(("ldap://", "ldaps://")):
        raise Unreachable("the server's URL must start with ldap:// or ldaps://")
    return ldap3.Server(url, connect_timeout=TIMEOUT, get_info=ldap3.NONE)


def connect(conf: Conf, dn: str | None = None, password: str | None = None) -> ldap3.Connection:
    try:
        c = ldap3.Connection(
            server(conf), user=dn if dn is not None else conf["bind_dn"],
            password=password if password is not None else conf["bind_password"],
            receive_timeout=TIMEOUT, raise_exceptions=False, read_only=True,
        )  # fmt: skip
        if not c.bind():
            raise Unreachable(f"the bind was refused: {c.result.get('description', '')} {c.result.get('message', '')}")
        return c
    except LDAPException as exc:
        raise Unreachable(f"{type(exc).__name__}: {exc}") from None


def norm(dn: str) -> str:
    """A DN compared the way LDAP does for our purposes: its parts, trimmed, lower case."""
    try:
        return ",".join(f"{a.lower()}={v.strip().lower()}" for a, v, _sep in parse_dn(dn, escape=False))
    except Exception:  # an odd DN is compared as it is
        return dn.strip().lower()


def parent_of(dn: str) -> str:
    try:
        parts = parse_dn(dn, escape=False)
    except Exception:
        return ""
    return ",".join(f"{a.lower()}={v.strip().lower()}" for a, v, _sep in parts[1:])


def value(entry: dict, attr: str) -> str:
    raw = entry.get("raw_attributes", {}).get(attr) or entry.get("raw_attributes", {}).get(attr.lower())
    if not raw:
        for key, vals in entry.get("raw_attributes", {}).items():
            if key.lower() == attr.lower() and vals:
                raw = vals
                break
    if not raw:
        return ""
    first = raw[0]
    if attr.lower() == "objectguid" and len(first) == 16:
        return str(uuid.UUID(bytes_le=first))
    try:
        return first.decode("utf-8").strip()
    except UnicodeDecodeError:
        return first.hex()


def search(c: ldap3.Connection, base: str, query: str, attrs: list[str]) -> list[dict]:
    found = c.extend.standard.paged_search(
        base, query, search_scope=ldap3.SUBTREE, attributes=attrs, paged_size=PAGE, generator=True
    )
    out = [e for e in found if e.get("type") == "searchResEntry"]
    if c.result.get("result") not in (0, None):
        raise Unreachable(f"the search failed: {c.result.get('description', '')} {c.result.get('message', '')}")
    return out


def read(conf: Conf) -> Snapshot:
    c = connect(conf)
    try:
        base = conf["base_dn"]
        ident = setting(conf, "id_attribute")
        units = search(c, base, setting(conf, "department_filter"), [ident, "ou", "name"])
        attrs = {k: setting(conf, f"{k}_attribute") for k in ("name", "email", "mobile", "employee_no", "title")}
        people = search(c, base, setting(conf, "user_filter"), [ident, *attrs.values()])
    finally:
        c.unbind()
    out = Snapshot()
    by_dn, placed = {}, []
    for n, e in enumerate(units):
        key = value(e, ident)
        if not key:
            out.errors.append({"id": e["dn"], "message": f"{e['dn']} has no {ident}"})
            continue
        by_dn[norm(e["dn"])] = key
        placed.append((Dept(id=key, name=(value(e, "ou") or value(e, "name") or e["dn"])[:200], sort=n), e["dn"]))
    for d, dn in placed:
        d.parent = by_dn.get(parent_of(dn))
        out.departments.append(d)
    for e in people:
        key = value(e, ident)
        person_name = value(e, attrs["name"])
        if not key or not person_name:
            out.errors.append({"id": e["dn"], "message": f"{e['dn']} has no {ident if not key else attrs['name']}"})
            continue
        unit = by_dn.get(parent_of(e["dn"]))
        out.people.append(
            Person(
                id=key,
                name=person_name[:200],
                email=value(e, attrs["email"]).lower()[:254],
                mobile=value(e, attrs["mobile"])[:30],
                employee_no=value(e, attrs["employee_no"])[:64],
                title=value(e, attrs["title"])[:200],
                departments=(unit,) if unit else (),
            )
        )
    return out


async def snapshot(http, conf: Conf) -> Snapshot:
    return await asyncio.to_thread(read, conf)


async def check(http, conf: Conf) -> str:
    """Connect, bind and count: what "test connection" says."""

    def count() -> str:
        c = connect(conf)
        try:
            found = search(c, conf["base_dn"], setting(conf, "user_filter"), ["1.1"])
            return f"connected; {len(found)} people under {conf['base_dn']}"
        finally:
            c.unbind()

    return await asyncio.to_thread(count)


def verify(conf: Conf, login: str, password: str) -> str | None:
    """The id of the entry whose login (or email) is `login` if `password` binds as it."""
    if not login or not password:  # an empty password would be an anonymous bind
        return None
    c = connect(conf)
    try:
        ident, wanted = setting(conf, "id_attribute"), escape_filter_chars(login)
        query = (
            f"(&{setting(conf, 'user_filter')}(|({setting(conf, 'login_attribute')}={wanted})"
            f"({setting(conf, 'email_attribute')}={wanted})))"
        )
        found = search(c, conf["base_dn"], query, [ident])
    finally:
        c.unbind()
    if len(found) != 1:
        return None
    try:
        user = connect(conf, found[0]["dn"], password)
    except Unreachable:
        return None
    user.unbind()
    return value(found[0], ident) or None


async def sign_in(conf: Conf, login: str, password: str) -> str | None:
    return await asyncio.to_thread(verify, conf, login, password)
