"""Aliyun SMS (短信服务): SendSms, signed with signature V1 (HMAC-SHA1).

    POST {base}/   application/x-www-form-urlencoded
         AccessKeyId, Action=SendSms, Format=JSON, OutId=<the message's key>, PhoneNumbers,
         RegionId, SignName, SignatureMethod=HMAC-SHA1, SignatureNonce, SignatureVersion=1.0,
         TemplateCode, TemplateParam={"<param>": "<the text>"}, Timestamp=2026-12-03T01:02:03Z,
         Version=2017-05-25, Signature
                                   → {"Code": "OK", "Message": "OK", "BizId": "…", "RequestId": "…"}

StringToSign = "POST&%2F&" + percentEncode(the parameters sorted by name, each
percentEncode(name) "=" percentEncode(value), joined by "&"); Signature = base64 of
HMAC-SHA1(StringToSign) keyed with AccessKeySecret + "&". percentEncode is RFC 3986 over
UTF-8 (only A–Z a–z 0–9 - _ . ~ stay as they are; a space is %20).

An SMS says what an approved template says: make a notice template with one variable
(`${content}` by default: the setting "Template variable") that carries the short text.

`call` signs and posts any RPC-style action this way (the voice calls use it too:
aliyun_voice.py); each caller adds its own Action, Version and parameters to `common`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from urllib.parse import quote

from signage.i18n import lazy
from signage.notify.channels.base import Adapter, Field, Permanent, Retry, answer, text_of

PERMANENT = {
    "isv.MOBILE_NUMBER_ILLEGAL",
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
    "isv.BLACK_KEY_CONTROL_LIMIT",
    "isv.PARAM_LENGTH_LIMIT",
    "isv.MOBILE_COUNT_OVER_LIMIT",
    "isv.DENY_IP_RANGE",
}
MAX_TEXT = 500


def percent(value: str) -> str:
    return quote(str(value), safe="")


def string_to_sign(params: dict, method: str = "POST") -> str:
    query = "&".join(f"{percent(k)}={percent(v)}" for k, v in sorted(params.items()))
    return f"{method}&{percent('/')}&{percent(query)}"


def signature(params: dict, secret: str, method: str = "POST") -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(params, method).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def common(conf) -> dict:
    """The parameters every RPC call carries, the signature aside."""
    return {
        "AccessKeyId": conf["access_key_id"],
        "Format": "JSON",
        "RegionId": conf["region"] or "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "Timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


async def call(http, conf, params: dict) -> dict:
    """POST the parameters, signed with the channel's AccessKey secret; the JSON answer."""
    params = {**params, "Signature": signature(params, conf["access_key_secret"])}
    return answer(await http.post(conf.url("/"), data=params))


class AliyunSms(Adapter):
    name = "aliyun_sms"
    label = lazy("Aliyun SMS")
    contact = "mobile"
    base_url = "https://dysmsapi.aliyuncs.com"
    fields = (
        Field("access_key_id", lazy("AccessKey ID")),
        Field("access_key_secret", lazy("AccessKey secret"), secret=True),
        Field("sign_name", lazy("Signature name (签名)")),
        Field("template_code", lazy("Template code (SMS_…)")),
        Field("param", lazy("Template variable"), required=False, hint=lazy("default: content")),
        Field("region", lazy("Region"), required=False, hint=lazy("default: cn-hangzhou")),
    )

    def params(self, conf, m) -> dict:
        return {
            **common(conf),
            "Action": "SendSms",
            "OutId": m.key[:64],
            "PhoneNumbers": m.recipient,
            "SignName": conf["sign_name"],
            "TemplateCode": conf["template_code"],
            "TemplateParam": json.dumps({conf["param"] or "content": text_of(m)[:MAX_TEXT]}, ensure_ascii=False),
            "Version": "2017-05-25",
        }

    async def send(self, http, conf, m):
        got = await call(http, conf, self.params(conf, m))
        code = str(got.get("Code", ""))
        if code == "OK":
            return f"BizId {got.get('BizId', '')}"
        if code in PERMANENT:
            raise Permanent(f"Aliyun SMS: {code} {got.get('Message', '')}")
        raise Retry(f"Aliyun SMS: {code} {got.get('Message', '')}")


ADAPTER = AliyunSms()
