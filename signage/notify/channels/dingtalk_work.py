"""DingTalk work notice (工作通知) from an internal app, to one user by their DingTalk userid.

    GET  {base}/gettoken?appkey=KEY&appsecret=SECRET          → {"errcode": 0, "access_token", "expires_in"}
    POST {base}/topapi/message/corpconversation/asyncsend_v2?access_token=TOKEN
         {"agent_id": 123, "userid_list": "user1",
          "msg": {"msgtype": "markdown", "markdown": {"title": "…", "text": "…"}}}
                                                              → {"errcode": 0, "task_id": 456, "request_id": "…"}

The token lasts `expires_in` (7,200 s) and is kept until shortly before; an answer saying it
is no longer valid (40014, 42001) drops it and the message is tried again. DingTalk itself
takes the same content for the same user once a day, which keeps a resend after a crash
from reaching anyone twice.
"""

from __future__ import annotations

from urllib.parse import urlencode

from signage.i18n import lazy
from signage.notify.channels.base import Adapter, Field, Permanent, Retry, Tokens, answer

TOKEN_GONE = {40001, 40014, 42001, 88}
BUSY = {-1, 90018, 90006, 90002, 143105}  # system busy, app limits: try later
tokens = Tokens()


class DingTalkWork(Adapter):
    name = "dingtalk_work"
    label = lazy("DingTalk work notice")
    contact = "dingtalk_id"
    base_url = "https://oapi.dingtalk.com"
    fields = (
        Field("app_key", lazy("AppKey")),
        Field("app_secret", lazy("AppSecret"), secret=True),
        Field("agent_id", lazy("AgentId")),
    )

    def token_key(self, conf) -> str:
        return f"{self.name}|{conf.base_url}|{conf['app_key']}|{conf['app_secret']}"

    async def token(self, http, conf) -> str:
        async def fetch():
            query = urlencode({"appkey": conf["app_key"], "appsecret": conf["app_secret"]})
            got = answer(await http.get(conf.url("/gettoken") + "?" + query))
            if got.get("errcode") != 0 or not got.get("access_token"):
                raise Retry(f"DingTalk gettoken: {got.get('errcode')} {got.get('errmsg', '')}")
            return got["access_token"], float(got.get("expires_in", 7200))

        return await tokens.get(self.token_key(conf), fetch)

    async def send(self, http, conf, m):
        if not conf["agent_id"].isdigit():
            raise Permanent("DingTalk: the AgentId is not a number")
        token = await self.token(http, conf)
        body = {
            "agent_id": int(conf["agent_id"]),
            "userid_list": m.recipient,
            "msg": {
                "msgtype": "markdown",
                "markdown": {"title": m.subject[:100], "text": f"### {m.subject}\n\n{m.body}"},
            },
        }
        url = conf.url("/topapi/message/corpconversation/asyncsend_v2") + "?" + urlencode({"access_token": token})
        got = answer(await http.post(url, json=body))
        code = got.get("errcode")
        if code == 0:
            return f"task {got.get('task_id')}"
        if code in TOKEN_GONE:
            tokens.drop(self.token_key(conf))
            raise Retry(f"DingTalk: {code} {got.get('errmsg', '')} (token renewed)")
        if code in BUSY:
            raise Retry(f"DingTalk: {code} {got.get('errmsg', '')}")
        raise Permanent(f"DingTalk: {code} {got.get('errmsg', '')}")


ADAPTER = DingTalkWork()
