"""WeCom app message (应用消息), to one member by their WeCom userid.

    GET  {base}/cgi-bin/gettoken?corpid=ID&corpsecret=SECRET  → {"errcode": 0, "access_token", "expires_in"}
    POST {base}/cgi-bin/message/send?access_token=TOKEN
         {"touser": "zhangsan", "msgtype": "text", "agentid": 1000002, "text": {"content": "…"},
          "enable_duplicate_check": 1, "duplicate_check_interval": 14400}
                                                             → {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "…"}

WeCom's own duplicate check (the same content to the same member within four hours is
taken once) keeps a resend after a crash from reaching anyone twice. A member WeCom does
not know comes back in `invaliduser`: given up, and the fallback channel tried.
"""

from __future__ import annotations

from urllib.parse import urlencode

from signage.i18n import lazy
from signage.notify.channels.base import Adapter, Field, Permanent, Retry, Tokens, answer, text_of

TOKEN_GONE = {40014, 42001, 41001}
BUSY = {-1, 45009, 45033}
DUPLICATE_CHECK_SECONDS = 14400  # WeCom's longest
tokens = Tokens()


class WeComApp(Adapter):
    name = "wecom_app"
    label = lazy("WeCom app message")
    contact = "wecom_id"
    base_url = "https://qyapi.weixin.qq.com"
    fields = (
        Field("corp_id", lazy("CorpID")),
        Field("secret", lazy("App secret"), secret=True),
        Field("agent_id", lazy("AgentId")),
    )

    def token_key(self, conf) -> str:
        return f"{self.name}|{conf.base_url}|{conf['corp_id']}|{conf['secret']}"

    async def token(self, http, conf) -> str:
        async def fetch():
            query = urlencode({"corpid": conf["corp_id"], "corpsecret": conf["secret"]})
            got = answer(await http.get(conf.url("/cgi-bin/gettoken") + "?" + query))
            if got.get("errcode") != 0 or not got.get("access_token"):
                raise Retry(f"WeCom gettoken: {got.get('errcode')} {got.get('errmsg', '')}")
            return got["access_token"], float(got.get("expires_in", 7200))

        return await tokens.get(self.token_key(conf), fetch)

    async def send(self, http, conf, m):
        if not conf["agent_id"].isdigit():
            raise Permanent("WeCom: the AgentId is not a number")
        token = await self.token(http, conf)
        body = {
            "touser": m.recipient,
            "msgtype": "text",
            "agentid": int(conf["agent_id"]),
            "text": {"content": text_of(m)},
            "enable_duplicate_check": 1,
            "duplicate_check_interval": DUPLICATE_CHECK_SECONDS,
        }
        url = conf.url("/cgi-bin/message/send") + "?" + urlencode({"access_token": token})
        got = answer(await http.post(url, json=body))
        code = got.get("errcode")
        if code == 0 and not got.get("invaliduser"):
            return f"msgid {got.get('msgid', '')}"
        if code == 0:
            raise Permanent(f"WeCom: unknown member {got['invaliduser']}")
        if code in TOKEN_GONE:
            tokens.drop(self.token_key(conf))
            raise Retry(f"WeCom: {code} {got.get('errmsg', '')} (token renewed)")
        if code in BUSY:
            raise Retry(f"WeCom: {code} {got.get('errmsg', '')}")
        raise Permanent(f"WeCom: {code} {got.get('errmsg', '')}")


ADAPTER = WeComApp()
