"""Tencent Cloud SMS (短信): SendSms (API 2021-01-11), signed with TC3-HMAC-SHA256.

    POST {base}/   Content-Type: application/json; charset=utf-8
         X-TC-Action: SendSms, X-TC-Version: 2021-01-11, X-TC-Timestamp, X-TC-Region,
         Authorization: TC3-HMAC-SHA256 Credential=ID/DATE/sms/tc3_request,
                        SignedHeaders=content-type;host, Signature=…
         {"PhoneNumberSet": ["+86138…"], "SmsSdkAppId": "1400…", "SignName": "…",
          "TemplateId": "…", "TemplateParamSet": ["<the text>"], "SessionContext": "<the message's key>"}
    → {"Response": {"SendStatusSet": [{"Code": "Ok", "SerialNo": "…", …}], "RequestId": "…"}}
      or {"Response": {"Error": {"Code": "…", "Message": "…"}, "RequestId": "…"}}

CanonicalRequest = "POST\\n/\\n\\ncontent-type:application/json; charset=utf-8\\nhost:HOST\\n\\n
content-type;host\\n" + hex(SHA256(body)); StringToSign = "TC3-HMAC-SHA256\\nTIMESTAMP\\n
DATE/sms/tc3_request\\n" + hex(SHA256(CanonicalRequest)); the key is HMAC-SHA256 chained
over DATE (keyed "TC3" + SecretKey), "sms", "tc3_request"; Signature = hex(HMAC-SHA256(key, StringToSign)).

`call` signs and posts any API 3.0 action this way, for the service it names (the voice
calls use it with "vms": tencent_voice.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from urllib.parse import urlsplit

from signage.i18n import lazy
from signage.notify.channels.base import Adapter, Field, Permanent, Retry, answer, text_of

SERVICE, VERSION, ALGORITHM = "sms", "2021-01-11", "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
PERMANENT = (
    "InvalidParameterValue.IncorrectPhoneNumber",
    "FailedOperation.PhoneNumberInBlacklist",
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
    "FailedOperation.ContainSensitiveWord",
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter",
)
MAX_TEXT = 500


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def authorization(
    secret_id: str, secret_key: str, host: str, payload: bytes, timestamp: int, service: str = SERVICE
) -> str:
    date = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{CONTENT_TYPE}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join([ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"


def e164(number: str) -> str:
    number = number.strip().replace(" ", "").replace("-", "")
    return number if number.startswith("+") else f"+86{number}"


async def call(http, conf, action: str, version: str, service: str, body: dict) -> dict:
    """POST one action of `service`, signed with the channel's SecretId and SecretKey; the
    answer's `Response` (with `Error` in it when the provider refused)."""
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    host, now = urlsplit(conf.base_url).netloc, int(time.time())
    headers = {
        "Authorization": authorization(conf["secret_id"], conf["secret_key"], host, payload, now, service),
        "Content-Type": CONTENT_TYPE,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Version": version,
        "X-TC-Timestamp": str(now),
        "X-TC-Region": conf["region"] or "ap-guangzhou",
    }
    return answer(await http.post(conf.url("/"), content=payload, headers=headers)).get("Response") or {}


class TencentSms(Adapter):
    name = "tencent_sms"
    label = lazy("Tencent Cloud SMS")
    contact = "mobile"
    base_url = "https://sms.tencentcloudapi.com"
    fields = (
        Field("secret_id", lazy("SecretId")),
        Field("secret_key", lazy("SecretKey"), secret=True),
        Field("sdk_app_id", lazy("SmsSdkAppId")),
        Field("sign_name", lazy("Signature name (签名)")),
        Field("template_id", lazy("Template ID")),
        Field("region", lazy("Region"), required=False, hint=lazy("default: ap-guangzhou")),
    )

    async def send(self, http, conf, m):
        body = {
            "PhoneNumberSet": [e164(m.recipient)],
            "SmsSdkAppId": conf["sdk_app_id"],
            "SignName": conf["sign_name"],
            "TemplateId": conf["template_id"],
            "TemplateParamSet": [text_of(m)[:MAX_TEXT]],
            "SessionContext": m.key[:512],
        }
        got = await call(http, conf, "SendSms", VERSION, SERVICE, body)
        error = got.get("Error")
        if error:
            raise Retry(f"Tencent SMS: {error.get('Code')} {error.get('Message', '')}")
        statuses = got.get("SendStatusSet") or [{}]
        code = str(statuses[0].get("Code", ""))
        if code == "Ok":
            return f"SerialNo {statuses[0].get('SerialNo', '')}"
        if code.startswith(PERMANENT):
            raise Permanent(f"Tencent SMS: {code} {statuses[0].get('Message', '')}")
        raise Retry(f"Tencent SMS: {code} {statuses[0].get('Message', '')}")


ADAPTER = TencentSms()
