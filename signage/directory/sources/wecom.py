"""WeCom (企业微信) contacts through the contacts secret (通讯录同步 secret) or an app's:

    GET {base}/cgi-bin/gettoken?corpid=ID&corpsecret=SECRET             → {"errcode": 0, "access_token", "expires_in"}
    GET {base}/cgi-bin/department/list?access_token=T&id=1
          → {"errcode": 0, "department": [{"id", "name", "parentid", "order", "department_leader"}]}
    GET {base}/cgi-bin/user/list?access_token=T&department_id=1&fetch_child=1
          → {"errcode": 0, "userlist": [{"userid", "name", "department", "position", "mobile", "email",
                                         "biz_mail", "status"}]}

`status` 1 is active, 4 not yet activated (kept); 2 (disabled) and 5 (left) are left out,
so the sync deactivates them. Apps made after 2022 get no mobile or email from user/list:
the sync then keeps what the account had. Sign-in inside WeCom is OAuth: the page goes to

    {authorize}/connect/oauth2/authorize?appid=CORPID&redirect_uri=…&response_type=code
        &scope=snsapi_base&state=…&agentid=AGENTID#wechat_redirect

which comes back with `code`, exchanged here:

    GET {base}/cgi-bin/auth/getuserinfo?access_token=T&code=CODE        → {"errcode": 0, "userid"}
"""

from __future__ import annotations

from urllib.parse import urlencode

from signage.directory.sync import Dept, Person, Snapshot
from signage.i18n import lazy
from signage.notify.channels.base import Conf, Field, Tokens, answer

name = "wecom"
label = lazy("WeCom contacts")
base_url = "https://qyapi.weixin.qq.com"
AUTHORIZE = "https://open.weixin.qq.com"
ROOT = 1
TOKEN_GONE = {40014, 42001}
KEPT = {1, 4}  # active, not yet activated
fields = (
    Field("corp_id", lazy("CorpId")),
    Field("secret", lazy("Secret"), secret=True),
    Field("agent_id", lazy("AgentId (for sign-in)"), required=False),
    Field("authorize_url", lazy("OAuth address (for sign-in)"), required=False, hint=AUTHORIZE),
)
tokens = Tokens()


class Refused(Exception):
    """WeCom answered with an error code."""


def token_key(conf: Conf) -> str:
    return f"{name}|{conf.base_url}|{conf['corp_id']}|{conf['secret']}"


async def token(http, conf: Conf) -> str:
    async def fetch():
        query = urlencode({"corpid": conf["corp_id"], "corpsecret": conf["secret"]})
        got = answer(await http.get(conf.url("/cgi-bin/gettoken") + "?" + query))
        if got.get("errcode") != 0 or not got.get("access_token"):
            raise Refused(f"WeCom gettoken: {got.get('errcode')} {got.get('errmsg', '')}")
        return got["access_token"], float(got.get("expires_in", 7200))

    return await tokens.get(token_key(conf), fetch)


async def get(http, conf: Conf, path: str, **params) -> dict:
    for attempt in (1, 2):
        query = urlencode({"access_token": await token(http, conf), **params})
        got = answer(await http.get(conf.url(path) + "?" + query))
        code = got.get("errcode")
        if code == 0:
            return got
        if code in TOKEN_GONE and attempt == 1:
            tokens.drop(token_key(conf))
            continue
        raise Refused(f"WeCom {path}: {code} {got.get('errmsg', '')}")
    raise AssertionError("unreachable")


async def snapshot(http, conf: Conf) -> Snapshot:
    depts = (await get(http, conf, "/cgi-bin/department/list", id=ROOT)).get("department", [])
    users = (await get(http, conf, "/cgi-bin/user/list", department_id=ROOT, fetch_child=1)).get("userlist", [])
    known = {d.get("id") for d in depts}
    out = Snapshot()
    for d in depts:
        parent = d.get("parentid")
        leaders = d.get("department_leader") or []
        out.departments.append(
            Dept(
                id=str(d["id"]),
                name=str(d.get("name") or d["id"])[:200],
                parent=str(parent) if parent in known and d.get("id") != ROOT else None,
                sort=int(d.get("order") or 0),
                manager=leaders[0] if leaders else None,
            )  # fmt: skip
        )
    for u in users:
        userid = str(u.get("userid") or "")
        if not userid or u.get("status", 1) not in KEPT:
            continue
        out.people.append(
            Person(
                id=userid,
                name=str(u.get("name") or userid)[:200],
                email=str(u.get("email") or u.get("biz_mail") or "").lower()[:254],
                mobile=str(u.get("mobile") or "")[:30],
                title=str(u.get("position") or "")[:200],
                wecom_id=userid,
                departments=tuple(str(x) for x in u.get("department") or [] if x in known),
            )  # fmt: skip
        )
    return out


async def check(http, conf: Conf) -> str:
    depts = (await get(http, conf, "/cgi-bin/department/list", id=ROOT)).get("department", [])
    return f"connected; {len(depts)} departments"


def authorize_url(conf: Conf, redirect_uri: str, state: str) -> str:
    query = urlencode({"appid": conf["corp_id"], "redirect_uri": redirect_uri, "response_type": "code",
                       "scope": "snsapi_base", "state": state, "agentid": conf["agent_id"]})  # fmt: skip
    return f"{(conf['authorize_url'] or AUTHORIZE).rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"


async def user_of_code(http, conf: Conf, code: str) -> str | None:
    try:
        got = await get(http, conf, "/cgi-bin/auth/getuserinfo", code=code)
    except Refused:
        return None
    return str(got.get("userid") or "") or None  # an outsider has an openid and no userid
