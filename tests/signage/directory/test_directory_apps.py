"""DingTalk and WeCom contacts (issue 19 points 3–7) against local fakes answering in the
providers' documented formats: configured on the admin page, tested, dry-run and synced
(paging, expired tokens, people who left); then in-app sign-in with the codes the apps hand
out, the login page's choices, and /m pages opened inside the apps going there by themselves."""

from __future__ import annotations

import re

import httpx
import pytest
from directory_fakes import DINGTALK, WECOM, Contacts
from fixtures import csrf, csrf_of, login, rows
from sqlalchemy import select

from signage.directory.models import Department, Membership
from signage.models import User


@pytest.fixture
def fake():
    contacts = Contacts().start()
    yield contacts
    contacts.stop()


def configure(client, name: str, url: str, **values):
    data = {
        "csrf_token": csrf(client),
        "enabled": "on",
        "signin": "on",
        "base_url": url,
        "every_minutes": "0",
        **values,
    }
    r = client.post(f"/admin/directory/sources/{name}", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text


def act(client, name: str, action: str) -> str:
    r = client.post(f"/admin/directory/sources/{name}/{action}", data={"csrf_token": csrf(client)})
    assert r.status_code == 200, r.text
    return r.text


def counts(html: str) -> dict:
    out = {}
    for row in ("people", "departments"):
        cells = re.search(rf'<tr data-row="{row}"><th>[^<]*</th><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>', html)
        assert cells, html[:3000]
        out[row] = tuple(int(x) for x in cells.groups())
    return out


def dingtalk(client, fake):
    configure(client, "dingtalk", fake.url, app_key=DINGTALK["appkey"], app_secret=DINGTALK["appsecret"],
              corp_id="ding-corp-1")  # fmt: skip


def wecom(client, fake):
    configure(client, "wecom", fake.url, corp_id=WECOM["corpid"], secret=WECOM["corpsecret"], agent_id="1000005",
              authorize_url=fake.url)  # fmt: skip


def test_dingtalk_contacts_sync(client, fake):
    login(client, "admin")
    dingtalk(client, fake)
    assert 'data-test="ok"' in act(client, "dingtalk", "test")
    dry = act(client, "dingtalk", "preview")
    assert counts(dry) == {"people": (152, 0, 0), "departments": (4, 0, 0)}
    assert counts(act(client, "dingtalk", "run")) == counts(dry)
    pages = [body for path, body in fake.calls if path == "/topapi/v2/user/list" and body["dept_id"] == 3]
    assert [p["cursor"] for p in pages][-2:] == [0, 100] or [p["cursor"] for p in pages][-3:] == [0, 100, 0]
    wang = rows(client, select(User).where(User.directory_id == "dt-wang"))[0]
    assert (wang.email, wang.employee_no, wang.dingtalk_id) == ("wangfang@example.com", "D002", "dt-wang")
    depts = {d.name: d for d in rows(client, select(Department).where(Department.source == "dingtalk"))}
    assert depts["平台组"].parent_id == depts["研发部"].id and depts["研发部"].parent_id == depts["示例公司"].id
    zhang = rows(client, select(User.id).where(User.directory_id == "dt-zhang"))[0]
    assert depts["研发部"].manager_id == zhang
    mine = rows(client, select(Membership.department_id).where(Membership.user_id == wang.id))
    assert sorted(mine) == sorted([depts["平台组"].id, depts["市场部"].id])
    # a token DingTalk no longer takes is fetched again; the same organisation changes nothing
    fake.expire_tokens()
    assert counts(act(client, "dingtalk", "run")) == {"people": (0, 0, 0), "departments": (0, 0, 0)}
    # someone leaves, a department moves
    fake.dingtalk_users = [u for u in fake.dingtalk_users if u["userid"] != "dt-7"]
    fake.dingtalk_departments[3]["parent_id"] = 4
    assert counts(act(client, "dingtalk", "run")) == {"people": (0, 0, 1), "departments": (0, 1, 0)}
    assert rows(client, select(User.is_active).where(User.directory_id == "dt-7")) == [False]
    # the department moved keeps its people: 149 employees and 王芳 active, the one who left still counted
    # in it (inactive) for statistics of the past
    members = rows(client, select(User).join(Membership, Membership.user_id == User.id)
                   .where(Membership.department_id == depts["平台组"].id))  # fmt: skip
    assert len(members) == 151 and sum(u.is_active for u in members) == 150


def test_wecom_contacts_sync_without_mobiles_or_emails(client, fake):
    login(client, "admin")
    wecom(client, fake)
    dry = act(client, "wecom", "preview")
    assert counts(dry) == {"people": (3, 0, 0), "departments": (3, 0, 0)}  # who left is not taken
    assert counts(act(client, "wecom", "run")) == counts(dry)
    assert counts(act(client, "wecom", "run")) == {"people": (0, 0, 0), "departments": (0, 0, 0)}
    li = rows(client, select(User).where(User.directory_id == "wc-li"))[0]
    assert li.wecom_id == "wc-li" and li.title == "经理" and li.email.endswith("@people.invalid")
    r = client.get("/api/v1/people", params={"q": "ln"})
    assert [(p["name"], p["email"]) for p in r.json()["items"]] == [("李娜", "")]  # no made-up address shown
    fake.wecom_users[1]["status"] = 5  # 赵强 leaves
    assert counts(act(client, "wecom", "run")) == {"people": (0, 0, 1), "departments": (0, 0, 0)}


def test_a_wrong_secret_is_a_failed_run_saying_why(client, fake):
    login(client, "admin")
    configure(client, "dingtalk", fake.url, app_key="ding-app-key", app_secret="wrong")
    assert 'data-test="failed"' in act(client, "dingtalk", "test")
    assert "40089" in act(client, "dingtalk", "run")
    assert rows(client, select(User).where(User.directory_source == "dingtalk")) == []


def test_in_app_sign_in(client, fake, make_client):
    login(client, "admin")
    dingtalk(client, fake)
    wecom(client, fake)
    act(client, "dingtalk", "run")
    act(client, "wecom", "run")
    person = make_client()
    page = person.get("/login").text
    assert 'data-signin="/signin/dingtalk"' in page and 'data-signin="/signin/wecom"' in page
    # inside DingTalk, a phone page goes to the in-app sign-in by itself
    inside = {"User-Agent": "Mozilla/5.0 (iPhone) AliApp(DingTalk/7.0.10) com.laiwang.DingTalk"}
    r = person.get("/m/book", headers=inside, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin/dingtalk?next=/m/book"
    r = person.get("/signin/dingtalk?next=/m/book", headers=inside)
    assert 'data-corp-id="ding-corp-1"' in r.text and "https://g.alicdn.com" in r.headers["content-security-policy"]
    fake.codes["code-zhang"] = "dt-zhang"
    token = csrf_of(person, "/signin/dingtalk?next=/m/book")
    r = person.post("/signin/dingtalk", data={"code": "code-zhang", "next": "/m/book", "csrf_token": token},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == "/m/book"
    assert person.get("/api/v1/me").json()["name"] == "张伟"
    # a code used once, or made up, signs nobody in
    stranger = make_client()
    token = csrf_of(stranger, "/signin/dingtalk")
    r = stranger.post("/signin/dingtalk", data={"code": "code-zhang", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 403 and stranger.get("/api/v1/me").status_code == 401
    # WeCom: to its OAuth page and back with a code
    wc = make_client()
    inside_wecom = {"User-Agent": "Mozilla/5.0 (iPhone) MicroMessenger/8.0 wxwork/4.1.0"}
    r = wc.get("/m/bookings", headers=inside_wecom, follow_redirects=False)
    assert r.headers["location"] == "/signin/wecom?next=/m/bookings"
    r = wc.get("/signin/wecom?next=/m/bookings", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"{fake.url}/connect/oauth2/authorize?")
    assert r.headers["location"].endswith("#wechat_redirect") and "agentid=1000005" in r.headers["location"]
    back = httpx.get(r.headers["location"].split("#")[0], follow_redirects=False)
    callback = back.headers["location"].removeprefix("http://testserver")
    r = wc.get(callback, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/m/bookings"
    assert wc.get("/api/v1/me").json()["name"] == "李娜"
    again = wc.get(callback, follow_redirects=False)  # the state is spent
    assert again.status_code == 400
    # someone who left cannot sign in through the app either
    fake.wecom_users[0]["status"] = 5
    act(client, "wecom", "run")
    late = make_client()
    r = late.get("/signin/wecom", follow_redirects=False)
    back = httpx.get(r.headers["location"].split("#")[0], follow_redirects=False)
    r = late.get(back.headers["location"].removeprefix("http://testserver"), follow_redirects=False)
    assert r.status_code == 403


def test_in_app_sign_in_is_off_until_enabled(client):
    r = client.get("/signin/dingtalk?next=/m/book", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/m/book"
    r = client.get("/signin/wecom", follow_redirects=False)
    assert r.headers["location"].startswith("/login")
    assert "data-signin" not in client.get("/login").text
