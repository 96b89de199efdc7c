"""DingTalk group robot (自定义机器人): a text to its group, @-mentioning the recipient's mobile.

    POST {base}/robot/send?access_token=TOKEN&timestamp=MS&sign=SIGN
    {"msgtype": "text", "text": {"content": "…"}, "at": {"atMobiles": ["138…"], "isAtAll": false}}

With a secret (加签) the request carries `timestamp` (milliseconds) and `sign`: the
base64 of HMAC-SHA256 over "{timestamp}\\n{secret}" keyed with the secret, URL-encoded.
Answers `{"errcode": 0, "errmsg": "ok"}`; 130101 is "sent too fast" (a robot takes 20 a minute).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

from signage.i18n import lazy
from signage.notify.channels.base import Adapter, Field, Permanent, Retry, answer, text_of

TOO_FAST = {130101}
BAD_TOKEN = {300001, 300005, 310000, 400013}  # bad token, robot gone, sign or keyword refused


def sign(timestamp: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkRobot(Adapter):
    name = "dingtalk_robot"
    label = lazy("DingTalk group robot")
    contact = "mobile"
    contact_required = False
    base_url = "https://oapi.dingtalk.com"
    rate_per_minute = 20
    fields = (
        Field("access_token", lazy("Access token (from the robot's webhook URL)"), secret=True),
        Field("secret", lazy("Secret (signing, SEC…)"), secret=True, required=False),
    )

    async def send(self, http, conf, m):
        url = conf.url("/robot/send") + "?access_token=" + quote_plus(conf["access_token"])
        if conf["secret"]:
            ts = str(round(time.time() * 1000))
            url += f"&timestamp={ts}&sign={quote_plus(sign(ts, conf['secret']))}"
        body = {
            "msgtype": "text",
            "text": {"content": text_of(m) + (f"\n@{m.recipient}" if m.recipient else "")},
            "at": {"atMobiles": [m.recipient] if m.recipient else [], "isAtAll": False},
        }
        got = answer(await http.post(url, json=body))
        code = got.get("errcode")
        if code == 0:
            return "ok"
        if code in TOO_FAST:
            raise Retry(f"DingTalk robot: {code} {got.get('errmsg', '')}", after=60)
        if code in BAD_TOKEN:
            raise Retry(f"DingTalk robot: {code} {got.get('errmsg', '')} (check the robot's settings)")
        raise Permanent(f"DingTalk robot: {code} {got.get('errmsg', '')}")


ADAPTER = DingTalkRobot()
