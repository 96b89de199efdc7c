"""The organisation (issue 19): departments and people from a CSV/XLSX file, through the
API on both databases: the dry run's difference is what the real run then does, a second
run changes nothing, a person removed is deactivated and cannot sign in, a department
moved keeps its people, people found by pinyin initials, email or employee number."""

from __future__ import annotations

import pytest
from fixtures import PASSWORD, api_token, csrf_of, rows
from sqlalchemy import select

from signage.directory.models import Department, Membership, SyncRun
from signage.models import User

HEADER = "employee_no,name,email,mobile,department_path,title\n"
FIRST = HEADER + (
    "E1,张三丰,zsf@example.com,13800000001,总部/研发部/平台组;总部/工会,工程师\n"
    "E2,李雷,lilei@example.com,,总部/研发部,Lead\n"
    "E3,Han Meimei,hmm@example.com,13800000003,总部/市场部,\n"
)


def send(client, headers, text: str | bytes, dry_run: bool = False, name: str = "people.csv"):
    data = text.encode() if isinstance(text, str) else text
    url = "/api/v1/directory/csv" + ("?dry_run=1" if dry_run else "")
    return client.post(url, files={"file": (name, data, "text/csv")}, headers=headers)


def people(client, headers, **params):
    r = client.get("/api/v1/people", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_dry_run_shows_what_the_run_then_does(client):
    admin = api_token(client, "admin")
    dry = send(client, admin, FIRST, dry_run=True)
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert (body["created"], body["changed"], body["deactivated"], body["errors"]) == (3, 0, 0, 0)
    assert body["departments"] == {"created": 5, "changed": 0, "deactivated": 0}
    assert body["dry_run"] is True
    assert rows(client, select(User).where(User.directory_source == "csv")) == []  # nothing written
    done = send(client, admin, FIRST).json()
    assert {k: done[k] for k in ("created", "changed", "deactivated", "errors", "departments")} == {
        k: body[k] for k in ("created", "changed", "deactivated", "errors", "departments")
    }
    again = send(client, admin, FIRST).json()  # the same file again: nothing to do
    assert (again["created"], again["changed"], again["deactivated"]) == (0, 0, 0)
    assert again["departments"] == {"created": 0, "changed": 0, "deactivated": 0}
    runs = rows(client, select(SyncRun).order_by(SyncRun.id))
    assert [(r.dry_run, r.status) for r in runs] == [(True, "done"), (False, "done"), (False, "done")]
    zsf = people(client, admin, q="zsf")
    assert [p["name"] for p in zsf] == ["张三丰"]
    assert zsf[0]["mobile"] == "13800000001" and len(zsf[0]["department_ids"]) == 2


def test_found_by_initials_pinyin_email_and_number(client):
    admin = api_token(client, "admin")
    send(client, admin, FIRST)
    member = api_token(client, "member")
    for q in ("zsf", "zhangsan", "张三", "zsf@example", "e1", "ZSF"):
        found = people(client, member, q=q)
        assert "张三丰" in [p["name"] for p in found], q
    assert [p["name"] for p in people(client, member, q="ll")] == ["李雷"]
    found = people(client, member, q="han mei")
    assert [p["name"] for p in found] == ["Han Meimei"]
    assert "mobile" not in found[0]  # a member sees no mobiles
    assert people(client, member, q="nobody-like-this") == []
    assert people(client, member, q="%") == []  # a LIKE wildcard is a character like any other


def test_departments_tree_and_a_whole_department(client):
    admin = api_token(client, "admin")
    send(client, admin, FIRST)
    r = client.get("/api/v1/departments", headers=admin)
    depts = {d["path"]: d for d in r.json()["items"]}
    assert set(depts) == {"总部", "总部/研发部", "总部/研发部/平台组", "总部/工会", "总部/市场部"}
    rd = depts["总部/研发部"]
    assert rd["parent_id"] == depts["总部"]["id"] and rd["people"] == 1
    only = people(client, admin, department_id=rd["id"])
    assert [p["name"] for p in only] == ["李雷"]
    whole = people(client, admin, department_id=rd["id"], subtree="1")
    assert sorted(p["name"] for p in whole) == ["张三丰", "李雷"]
    found = client.get("/api/v1/departments", params={"q": "yfb"}, headers=admin).json()["items"]
    assert [d["name"] for d in found] == ["研发部"]


def test_a_person_removed_is_deactivated_and_cannot_sign_in(client):
    admin = api_token(client, "admin")
    send(client, admin, FIRST)
    # an account made by hand with E3's email becomes the directory's only if nobody keeps it: here E3 is kept
    hmm = rows(client, select(User).where(User.employee_no == "E3"))[0]
    from fixtures import in_app

    from signage.auth import hash_password

    async def set_password():
        async with client.app.state.db.begin() as s:
            (await s.get(User, hmm.id)).password_hash = hash_password(PASSWORD)

    in_app(client, set_password)
    token = csrf_of(client)
    r = client.post("/login", data={"email": "hmm@example.com", "password": PASSWORD, "csrf_token": token},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert client.get("/account").status_code == 200
    without = HEADER + "\n".join(FIRST.splitlines()[1:3]) + "\n"
    out = send(client, admin, without).json()
    assert (out["created"], out["changed"], out["deactivated"]) == (0, 0, 1)
    assert out["departments"]["deactivated"] == 1  # 市场部 had only her
    row = rows(client, select(User).where(User.id == hmm.id))[0]
    assert row.is_active is False  # kept, not deleted
    assert client.get("/account", follow_redirects=False).status_code in (302, 303, 401)  # her session ended
    token = csrf_of(client)
    r = client.post("/login", data={"email": "hmm@example.com", "password": PASSWORD, "csrf_token": token},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code != 303
    assert [p["name"] for p in people(client, admin, q="han")] == []
    # she comes back: the same account again
    back = send(client, admin, FIRST).json()
    assert (back["created"], back["changed"]) == (0, 1)
    assert rows(client, select(User.is_active).where(User.id == hmm.id))[0] is True


def test_a_department_moved_keeps_its_people(client):
    admin = api_token(client, "admin")
    send(client, admin, FIRST)
    before = {d.name: d for d in rows(client, select(Department))}
    members = rows(client, select(Membership.user_id).where(Membership.department_id == before["平台组"].id))
    # 平台组 moves from 研发部 to 市场部: in a CSV its path is its id, so a moved department
    # is a new one that its people move to; its people stay people
    moved = FIRST.replace("总部/研发部/平台组", "总部/市场部/平台组")
    out = send(client, admin, moved).json()
    assert out["changed"] == 1 and out["deactivated"] == 0
    now = rows(client, select(Department).where(Department.name == "平台组", Department.is_active.is_(True)))
    assert len(now) == 1
    assert rows(client, select(Membership.user_id).where(Membership.department_id == now[0].id)) == members


def test_an_existing_account_is_linked_not_doubled(client):
    from fixtures import add_user

    add_user(client, "member", "lilei@example.com")
    admin = api_token(client, "admin")
    out = send(client, admin, FIRST).json()
    assert (out["created"], out["changed"]) == (2, 1)
    found = rows(client, select(User).where(User.email == "lilei@example.com"))
    assert len(found) == 1 and found[0].directory_source == "csv" and found[0].directory_id == "E2"
    assert found[0].name == "李雷" and found[0].role == "member"


def test_bad_files_and_rows(client):
    admin = api_token(client, "admin")
    assert send(client, admin, "name,email\nx,y\n").status_code == 400
    assert send(client, admin, b"\x00\x01\x02garbage").status_code == 400
    assert send(client, admin, b"PK\x03\x04broken").status_code == 400
    r = client.post("/api/v1/directory/csv", data={"x": "1"}, headers=admin)
    assert r.status_code == 400
    bad = HEADER + ",nameless,,,,\nE9,,x@example.com,,,\nE8,Bad Mail,not-an-email,,,\nE7,Good,good@example.com,,,\n"
    out = send(client, admin, bad).json()
    assert out["created"] == 1 and out["errors"] == 3
    assert [e["line"] for e in out["error_list"]] == [2, 3, 4]
    twice = HEADER + "E5,One,same@example.com,,,\nE6,Two,same@example.com,,,\n"
    out = send(client, admin, twice).json()
    assert out["created"] == 1 and out["errors"] == 1  # the second may not take the first's email
    member = api_token(client, "member")
    assert send(client, member, FIRST).status_code == 403


def test_xlsx_and_gb18030_and_the_templates(client):
    admin = api_token(client, "admin")
    r = client.get("/api/v1/directory/template.xlsx", headers=admin)
    assert r.status_code == 200 and r.content[:2] == b"PK"
    out = send(client, admin, r.content, name="people.xlsx").json()
    assert out["created"] == 2 and out["departments"]["created"] == 5
    csv_template = client.get("/api/v1/directory/template.csv", headers=admin)
    assert csv_template.content.startswith(b"\xef\xbb\xbfemployee_no,name,email")
    gbk = (HEADER + "E20,王五,ww@example.com,,总部/财务部,会计\n").encode("gb18030")
    out = send(client, admin, gbk).json()
    assert out["created"] == 1 and out["deactivated"] == 2  # the file is the whole organisation
    assert [p["name"] for p in people(client, admin, q="ww")] == ["王五"]


@pytest.mark.parametrize("n", [1200])
def test_many_people_page_by_id(client, n):
    admin = api_token(client, "admin")
    text = HEADER + "".join(f"N{i},Person {i},p{i}@example.com,,Org/Team {i % 7},\n" for i in range(n))
    assert send(client, admin, text).json()["created"] == n
    first = client.get("/api/v1/people", params={"q": "person", "limit": 1000}, headers=admin)
    assert len(first.json()["items"]) == 1000 and "next" in first.headers["link"]
    url = first.headers["link"].split(">")[0].lstrip("<")
    rest = client.get(url, headers=admin).json()["items"]
    assert len(rest) == n - 1000


def test_an_it_admin_is_never_deactivated_by_a_sync(client):
    from fixtures import add_user

    add_user(client, "admin", "boss@example.com")
    admin = api_token(client, "admin")
    with_boss = FIRST + "E9,Boss,boss@example.com,,总部,\n"
    assert send(client, admin, with_boss).json()["changed"] == 1  # the admin's account is linked
    out = send(client, admin, FIRST).json()
    assert out["deactivated"] == 0 and out["errors"] == 1 and "IT admin" in out["error_list"][0]["message"]
    assert rows(client, select(User.is_active).where(User.email == "boss@example.com")) == [True]
