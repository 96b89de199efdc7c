"""DingTalk contacts (通讯录) through an internal app's AppKey and AppSecret:

    GET  {base}/gettoken?appkey=KEY&appsecret=SECRET            → {"errcode": 0, "access_token", "expires_in"}
    POST {base}/topapi/v2/department/listsubid?access_token=T   {"dept_id": 1}
                                                                → {"errcode": 0, "result": {"dept_id_list": [2, 3]}}
    POST {base}/topapi/v2/department/get?access_token=T         {"dept_id": 2, "language": "zh_CN"}
                  → {"errcode": 0, "result": {"dept_id", "name", "parent_id", "order", "dept_manager_userid_list"}}
    POST {base}/topapi/v2/user/list?access_token=T              {"dept_id": 2, "cursor": 0, "size": 100}
                  → {"errcode": 0, "result": {"has_more", "next_cursor", "list": [{"userid", "name", "mobile",
                     "email", "org_email", "job_number", "title", "dept_id_list", "active"}]}}

The tree is walked from the root department (1, the company) down, a few calls at a time; a
person in several departments is listed in each and is one person here. In-app sign-in
(免登) exchanges the code the DingTalk JS API gave the page:

    POST {base}/topapi/v2/user/getuserinfo?access_token=T       {"code": "…"}
                                                                → {"errcode": 0, "result": {"userid", "name"}}
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from signage.directory.sync import Dept, Person, Snapshot
from signage.i18n import lazy
from signage.notify.channels.base import Conf, Field, Tokens, answer

name = "dingtalk"
label = lazy("DingTalk contacts")
base_url = "https://oapi.dingtalk.com"
ROOT = 1
PAGE = 100  # the most user/list gives at once
AT_ONCE = 8
TOKEN_GONE = {40001, 40014, 42001, 88}
fields = (
    Field("app_key", lazy("AppKey")),
    Field("app_secret", lazy("AppSecret"), secret=True),
    Field("corp_id", lazy("CorpId (for in-app sign-in)"), required=False),
)
tokens = Tokens()


class Refused(Exception):
    """DingTalk answered with an error code."""


def token_key(conf: Conf) -> str:
    return f"{name}|{conf.base_url}|{conf['app_key']}|{conf['app_secret']}"


async def token(http, conf: Conf) -> str:
    async def fetch():
        query = urlencode({"appkey": conf["app_key"], "appsecret": conf["app_secret"]})
        got = answer(await http.get(conf.url("/gettoken") + "?" + query))
        if got.get("errcode") != 0 or not got.get("access_token"):
            raise Refused(f"DingTalk gettoken: {got.get('errcode')} {got.get('errmsg', '')}")
        return got["access_token"], float(got.get("expires_in", 7200))

    return await tokens.get(token_key(conf), fetch)


async def call(http, conf: Conf, path: str, body: dict) -> dict:
    """POST `body` to a topapi method; its `result`. A token DingTalk no longer takes is
    fetched again once."""
    for attempt in (1, 2):
        url = conf.url(path) + "?" + urlencode({"access_token": await token(http, conf)})
        got = answer(await http.post(url, json=body))
        code = got.get("errcode")
        if code == 0:
            return got.get("result") or {}
        if code in TOKEN_GONE and attempt == 1:
            tokens.drop(token_key(conf))
            continue
        raise Refused(f"DingTalk {path}: {code} {got.get('errmsg', '')}")
    raise AssertionError("unreachable")


async def snapshot(http, conf: Conf) -> Snapshot:
    limit = asyncio.Semaphore(AT_ONCE)

    async def post(path: str, body: dict) -> dict:
        async with limit:
            return await call(http, conf, path, body)

    found: dict[int, dict] = {}
    level = [ROOT]
    while level:
        details = await asyncio.gather(*(post("/topapi/v2/department/get", {"dept_id": d, "language": "zh_CN"})
                                         for d in level))  # fmt: skip
        children = await asyncio.gather(*(post("/topapi/v2/department/listsubid", {"dept_id": d}) for d in level))
        nxt = []
        for d, detail, kids in zip(level, details, children, strict=False):
            found[d] = detail
            nxt += [k for k in kids.get("dept_id_list", []) if k not in found]
        level = nxt

    async def members(dept_id: int) -> list[dict]:
        people, cursor = [], 0
        while True:
            page = await post("/topapi/v2/user/list", {"dept_id": dept_id, "cursor": cursor, "size": PAGE})
            people += page.get("list", [])
            if not page.get("has_more"):
                return people
            cursor = page.get("next_cursor")

    lists = await asyncio.gather(*(members(d) for d in found))
    out = Snapshot()
    for d, detail in found.items():
        parent = detail.get("parent_id") if d != ROOT else None
        managers = detail.get("dept_manager_userid_list") or []
        out.departments.append(
            Dept(
                id=str(d),
                name=str(detail.get("name") or d)[:200],
                parent=str(parent) if parent else None,
                sort=int(detail.get("order") or 0),
                manager=managers[0] if managers else None,
            )  # fmt: skip
        )
    people: dict[str, Person] = {}
    for listed in lists:
        for u in listed:
            userid = str(u.get("userid") or "")
            if not userid or userid in people:
                continue
            people[userid] = Person(
                id=userid, name=str(u.get("name") or userid)[:200],
                email=str(u.get("email") or u.get("org_email") or "").lower()[:254],
                mobile=str(u.get("mobile") or "")[:30], employee_no=str(u.get("job_number") or "")[:64],
                title=str(u.get("title") or "")[:200], dingtalk_id=userid,
                departments=tuple(str(x) for x in u.get("dept_id_list") or [] if x in found),
            )  # fmt: skip
    out.people = list(people.values())
    return out


async def check(http, conf: Conf) -> str:
    detail = await call(http, conf, "/topapi/v2/department/get", {"dept_id": ROOT, "language": "zh_CN"})
    return f"connected to {detail.get('name', 'DingTalk')}"


async def user_of_code(http, conf: Conf, code: str) -> str | None:
    """The DingTalk userid of the person whose in-app auth code this is."""
    try:
        result = await call(http, conf, "/topapi/v2/user/getuserinfo", {"code": code})
    except Refused:
        return None
    return str(result.get("userid") or "") or None
