"""WeChat official account (公众号) template message, to a follower by their openid.

    GET  {base}/cgi-bin/token?grant_type=client_credential&appid=ID&secret=SECRET
                                               → {"access_token": "…", "expires_in": 7200}
    POST {base}/cgi-bin/message/template/send?access_token=TOKEN
         {"touser": "OPENID", "template_id": "…", "client_msg_id": "<the message's key>",
          "data": {"<title key>": {"value": "<subject>"}, "<text key>": {"value": "<text>"}}}
                                               → {"errcode": 0, "errmsg": "ok", "msgid": 200228332}

`client_msg_id` is WeChat's idempotency key: the same one to the same openid is sent once.
The template's two keys are settings (default `first` and `keyword1`); a follower who
unsubscribed (43004) or an openid WeChat does not know (40003) is given up for the fallback.
"""

from __future__ import annotations

from urllib.parse import urlencode

from signage.i18n import lazy
from signage.notify.channels.base import Adapter, Field, Permanent, Retry, Tokens, answer

TOKEN_GONE = {40001, 40014, 42001}
PERMANENT = {40003, 43004, 43101, 40037, 47003}
MAX_VALUE = 200
tokens = Tokens()


class WeChatMp(Adapter):
    name = "wechat_mp"
    label = lazy("WeChat official account")
    contact = "wechat_openid"
    base_url = "https://api.weixin.qq.com"
    fields = (
        Field("app_id", lazy("AppID")),
        Field("app_secret", lazy("AppSecret"), secret=True),
        Field("template_id", lazy("Template ID")),
        Field("title_key", lazy("Template key of the subject"), required=False, hint=lazy("default: first")),
        Field("text_key", lazy("Template key of the text"), required=False, hint=lazy("default: keyword1")),
    )

    def token_key(self, conf) -> str:
        return f"{self.name}|{conf.base_url}|{conf['app_id']}|{conf['app_secret']}"

    async def token(self, http, conf) -> str:
        async def fetch():
            query = urlencode(
                {"grant_type": "client_credential", "appid": conf["app_id"], "secret": conf["app_secret"]}
            )
            got = answer(await http.get(conf.url("/cgi-bin/token") + "?" + query))
            if not got.get("access_token"):
                raise Retry(f"WeChat token: {got.get('errcode')} {got.get('errmsg', '')}")
            return got["access_token"], float(got.get("expires_in", 7200))

        return await tokens.get(self.token_key(conf), fetch)

    async def send(self, http, conf, m):
        token = await self.token(http, conf)
        body = {
            "touser": m.recipient,
            "template_id": conf["template_id"],
            "client_msg_id": m.key[:64],
            "data": {
                conf["title_key"] or "first": {"value": m.subject[:MAX_VALUE]},
                conf["text_key"] or "keyword1": {"value": m.body.strip()[:MAX_VALUE]},
            },
        }
        url = conf.url("/cgi-bin/message/template/send") + "?" + urlencode({"access_token": token})
        got = answer(await http.post(url, json=body))
        code = got.get("errcode")
        if code == 0:
            return f"msgid {got.get('msgid', '')}"
        if code in TOKEN_GONE:
            tokens.drop(self.token_key(conf))
            raise Retry(f"WeChat: {code} {got.get('errmsg', '')} (token renewed)")
        if code in PERMANENT:
            raise Permanent(f"WeChat: {code} {got.get('errmsg', '')}")
        raise Retry(f"WeChat: {code} {got.get('errmsg', '')}")


ADAPTER = WeChatMp()
