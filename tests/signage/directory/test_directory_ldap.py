"""The organisation from a real OpenLDAP server (issue 19 points 3–5, 7): configured on the
admin page, tested, dry-run and synced; the dry run is what the sync then does, a second
sync changes nothing, a unit moved keeps its people, a person removed is deactivated and
cannot sign in; people sign in with the directory's password (an LDAP bind)."""

from __future__ import annotations

import re

import pytest
from fixtures import csrf, csrf_of, login, rows
from ldap_server import ADMIN_DN, ADMIN_PASSWORD, SUFFIX, LdapServer
from sqlalchemy import select

from signage.directory.models import Department, Membership, SyncRun
from signage.models import User


@pytest.fixture
def ldap(tmp_path):
    with LdapServer(tmp_path / "ldap") as server:
        yield server


def configure(client, url: str, signin: bool = True, password: str = ADMIN_PASSWORD):
    data = {
        "csrf_token": csrf(client), "enabled": "on", "base_url": url, "bind_dn": ADMIN_DN,
        "bind_password": password, "base_dn": SUFFIX, "every_minutes": "0",
    }  # fmt: skip
    if signin:
        data["signin"] = "on"
    r = client.post("/admin/directory/sources/ldap", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text


def act(client, action: str):
    r = client.post(f"/admin/directory/sources/ldap/{action}", data={"csrf_token": csrf(client)})
    assert r.status_code == 200, r.text
    return r.text


def counts(html: str) -> dict:
    """The result table of a dry run or sync: {"people": (created, changed, deactivated), "departments": (…)}"""
    out = {}
    for row in ("people", "departments"):
        cells = re.search(rf'<tr data-row="{row}"><th>[^<]*</th><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>', html)
        out[row] = tuple(int(x) for x in cells.groups())
    return out


def sign_in(client, login_name: str, password: str) -> int:
    token = csrf_of(client, "/login")
    r = client.post("/login", data={"email": login_name, "password": password, "csrf_token": token},
                    follow_redirects=False)  # fmt: skip
    return r.status_code


def test_sync_from_ldap_and_sign_in_with_its_password(client, ldap, make_client):
    login(client, "admin")
    configure(client, ldap.url)
    tested = act(client, "test")
    assert 'data-test="ok"' in tested and "2 people" in tested
    dry = act(client, "preview")
    assert counts(dry) == {"people": (2, 0, 0), "departments": (3, 0, 0)}
    assert rows(client, select(User).where(User.directory_source == "ldap")) == []
    done = act(client, "run")
    assert counts(done) == counts(dry)
    again = act(client, "run")
    assert counts(again) == {"people": (0, 0, 0), "departments": (0, 0, 0)}
    zs = rows(client, select(User).where(User.email == "zhangsan@example.com"))[0]
    assert (zs.name, zs.mobile, zs.employee_no, zs.title, zs.password_hash) == (
        "张三",
        "13800000001",
        "L1",
        "工程师",
        "",
    )
    rd = rows(client, select(Department).where(Department.name == "研发部"))[0]
    parent = rows(client, select(Department).where(Department.id == rd.parent_id))[0]
    assert parent.name == "总部"
    assert rows(client, select(Membership.department_id).where(Membership.user_id == zs.id)) == [rd.id]

    # signing in: by login name or email, with the directory's password; the login page says so
    person = make_client()
    assert "Email or company account" in person.get("/login").text or "公司账号" in person.get("/login").text
    assert sign_in(person, "zhangsan", "wrong") == 400
    assert sign_in(person, "zhangsan", "") == 400  # never an anonymous bind
    assert sign_in(person, "zhangsan", "zs-password") == 303
    assert person.get("/api/v1/me").json()["email"] == "zhangsan@example.com"
    other = make_client()
    assert sign_in(other, "zhangsan@example.com", "zs-password") == 303
    assert sign_in(make_client(), "*", "zs-password") == 400  # a filter's wildcard is a character

    # a unit moved keeps its people; a person removed is deactivated and cannot sign in
    ldap.modify(
        f"dn: ou=研发部,ou=总部,{SUFFIX}\nchangetype: modrdn\nnewrdn: ou=研发部\ndeleteoldrdn: 1\nnewsuperior: ou=市场部,ou=总部,{SUFFIX}\n"
    )
    ldap.delete(f"uid=lisi,ou=市场部,ou=总部,{SUFFIX}")
    dry = act(client, "preview")
    assert counts(dry) == {"people": (0, 0, 1), "departments": (0, 1, 0)}
    assert counts(act(client, "run")) == counts(dry)
    moved = rows(client, select(Department).where(Department.id == rd.id))[0]
    assert rows(client, select(Department.name).where(Department.id == moved.parent_id)) == ["市场部"]
    assert rows(client, select(Membership.department_id).where(Membership.user_id == zs.id)) == [rd.id]
    ls = rows(client, select(User).where(User.email == "lisi@example.com"))[0]
    assert ls.is_active is False
    assert sign_in(make_client(), "lisi", "ls-password") == 400
    runs = rows(client, select(SyncRun).order_by(SyncRun.id))
    assert [(r.dry_run, r.status) for r in runs] == [
        (True, "done"),
        (False, "done"),
        (False, "done"),
        (True, "done"),
        (False, "done"),
    ]


def test_a_server_away_or_a_wrong_password_is_a_failed_run_saying_why(client, ldap):
    login(client, "admin")
    configure(client, ldap.url, password="not-it")
    assert 'data-test="failed"' in act(client, "test")
    page = act(client, "run")
    assert "bind was refused" in page
    configure(client, "ldap://127.0.0.1:1")
    act(client, "run")
    failed = rows(client, select(SyncRun).order_by(SyncRun.id))
    assert [r.status for r in failed] == ["failed", "failed"]
    assert rows(client, select(User).where(User.directory_source == "ldap")) == []
    r = client.post("/admin/directory/sources/ldap", data={"csrf_token": csrf(client), "base_url": "x" * 400})
    assert r.status_code == 400


def test_local_admins_keep_their_password_when_ldap_is_on(client, ldap, make_client):
    email = login(client, "admin")
    configure(client, ldap.url)
    act(client, "run")
    from fixtures import PASSWORD

    assert sign_in(make_client(), email, PASSWORD) == 303
