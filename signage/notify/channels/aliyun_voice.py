"""Aliyun Voice Service (语音服务): a phone call that reads the notice out, SingleCallByTts
(Dyvmsapi 2017-05-25), signed like Aliyun SMS (signature V1: aliyun_sms.call).

    POST {base}/   application/x-www-form-urlencoded
         the common parameters (AccessKeyId, Format=JSON, RegionId, SignatureMethod=HMAC-SHA1,
         SignatureNonce, SignatureVersion=1.0, Timestamp), Action=SingleCallByTts,
         Version=2017-05-25, CalledNumber=13800138000, CalledShowNumber=0571…, TtsCode=TTS_…,
         TtsParam={"<param>": "<the text>"}, PlayTimes=2, OutId=<the message's key>, Signature
                                   → {"Code": "OK", "Message": "OK", "CallId": "…", "RequestId": "…"}

Make a text-to-speech template with one variable (`${content}` by default: the setting
"Template variable") that carries the short text. CalledShowNumber is the number the call
comes from (dedicated mode: a number you bought); empty, Aliyun's public pool calls. Numbers
in mainland China are sent without +86, others with their country code (852…).

Aliyun calls a number at most once a minute, 5 times an hour and 20 times a day
(isv.BUSINESS_LIMIT_CONTROL): the message is tried again a minute later.
"""

from __future__ import annotations

import json

from signage.i18n import lazy
from signage.notify.channels import aliyun_sms
from signage.notify.channels.base import Adapter, Field, Permanent, Retry, spoken

PERMANENT = {
    "isv.MOBILE_NUMBER_ILLEGAL",
    "isv.BLACK_KEY_CONTROL_LIMIT",
    "isv.TEMPLATE_PARAMS_ILLEGAL",
}
TOO_OFTEN = {"isv.BUSINESS_LIMIT_CONTROL"}
MAX_TEXT = 300
PLAY_TIMES = ("1", "2", "3")


def called_number(number: str) -> str:
    """+8613800138000 → 13800138000; +85291234567 → 85291234567 (Aliyun's own format)."""
    number = number.strip().replace(" ", "").replace("-", "")
    if number.startswith("+86"):
        return number[3:]
    return number.removeprefix("+")


class AliyunVoice(Adapter):
    name = "aliyun_voice"
    label = lazy("Aliyun voice call")
    contact = "mobile"
    base_url = "https://dyvmsapi.aliyuncs.com"
    fields = (
        Field("access_key_id", lazy("AccessKey ID")),
        Field("access_key_secret", lazy("AccessKey secret"), secret=True),
        Field("tts_code", lazy("Text-to-speech template code (TTS_…)")),
        Field(
            "called_show_number",
            lazy("Calling number shown"),
            required=False,
            hint=lazy("empty: Aliyun's public numbers"),
        ),
        Field("param", lazy("Template variable"), required=False, hint=lazy("default: content")),
        Field(
            "play_times", lazy("Times the text is read"), required=False, hint=lazy("default: 2"), choices=PLAY_TIMES
        ),
        Field("region", lazy("Region"), required=False, hint=lazy("default: cn-hangzhou")),
    )

    def params(self, conf, m) -> dict:
        params = {
            **aliyun_sms.common(conf),
            "Action": "SingleCallByTts",
            "Version": "2017-05-25",
            "CalledNumber": called_number(m.recipient),
            "TtsCode": conf["tts_code"],
            "TtsParam": json.dumps({conf["param"] or "content": spoken(m, MAX_TEXT)}, ensure_ascii=False),
            "PlayTimes": conf["play_times"] or "2",
            "OutId": m.key[:64],
        }
        if conf["called_show_number"]:
            params["CalledShowNumber"] = conf["called_show_number"]
        return params

    async def send(self, http, conf, m):
        if (conf["play_times"] or "2") not in PLAY_TIMES:
            raise Permanent("Aliyun voice: PlayTimes is 1, 2 or 3")
        got = await aliyun_sms.call(http, conf, self.params(conf, m))
        code = str(got.get("Code", ""))
        if code == "OK":
            return f"CallId {got.get('CallId', '')}"
        if code in PERMANENT:
            raise Permanent(f"Aliyun voice: {code} {got.get('Message', '')}")
        raise Retry(f"Aliyun voice: {code} {got.get('Message', '')}", after=60 if code in TOO_OFTEN else 0)


ADAPTER = AliyunVoice()
