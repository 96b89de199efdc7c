"""WeCom group robot (群机器人): a text to its group, @-mentioning the recipient's mobile.

    POST {base}/cgi-bin/webhook/send?key=KEY
    {"msgtype": "text", "text": {"content": "…", "mentioned_mobile_list": ["138…"]}}
                                        → {"errcode": 0, "errmsg": "ok"}

A robot takes 20 messages a minute; beyond, 45009 ("api freq out of limit").
"""

from __future__ import annotations

from urllib.parse import urlencode

from signage.i18n import lazy
from signage.notify.channels.base import Adapter, Field, Permanent, Retry, answer, text_of

TOO_FAST = {45009, 45033, -1}
BAD_KEY = {93000, 93004, 40008}  # invalid webhook key, robot removed


class WeComRobot(Adapter):
    name = "wecom_robot"
    label = lazy("WeCom group robot")
    contact = "mobile"
    contact_required = False
    base_url = "https://qyapi.weixin.qq.com"
    rate_per_minute = 20
    fields = (Field("key", lazy("Key (from the robot's webhook URL)"), secret=True),)

    async def send(self, http, conf, m):
        url = conf.url("/cgi-bin/webhook/send") + "?" + urlencode({"key": conf["key"]})
        text = {"content": text_of(m)}
        if m.recipient:
            text["mentioned_mobile_list"] = [m.recipient]
        got = answer(await http.post(url, json={"msgtype": "text", "text": text}))
        code = got.get("errcode")
        if code == 0:
            return "ok"
        if code in TOO_FAST:
            raise Retry(f"WeCom robot: {code} {got.get('errmsg', '')}", after=60)
        if code in BAD_KEY:
            raise Retry(f"WeCom robot: {code} {got.get('errmsg', '')} (check the robot's key)")
        raise Permanent(f"WeCom robot: {code} {got.get('errmsg', '')}")


ADAPTER = WeComRobot()
