"""Tencent Cloud voice messages (语音消息, VMS): a phone call that reads the notice out,
SendTtsVoice (API 2020-09-02), signed like Tencent SMS (TC3-HMAC-SHA256 for the service
`vms`: tencent_sms.call).

    POST {base}/   Content-Type: application/json; charset=utf-8
         X-TC-Action: SendTtsVoice, X-TC-Version: 2020-09-02, X-TC-Timestamp, X-TC-Region,
         Authorization: TC3-HMAC-SHA256 Credential=ID/DATE/vms/tc3_request, SignedHeaders=content-type;host, …
         {"TemplateId": "…", "TemplateParamSet": ["<the text>"], "CalledNumber": "+8613800138000",
          "VoiceSdkAppid": "1400…", "PlayTimes": 2, "SessionContext": "<the message's key>"}
    → {"Response": {"SendStatus": {"CallId": "…", "SessionContext": "…"}, "RequestId": "…"}}
      or {"Response": {"Error": {"Code": "…", "Message": "…"}, "RequestId": "…"}}

Make a voice template with one variable that carries the short text (at most 350 characters
in all). VMS calls mobiles in mainland China only: another number is refused for good
(InvalidParameterValue.CalledNumberVerifyFail) and the message goes to the fallback channel.
"""

from __future__ import annotations

from signage.i18n import lazy
from signage.notify.channels import tencent_sms
from signage.notify.channels.base import Adapter, Field, Permanent, Retry, spoken

SERVICE, VERSION = "vms", "2020-09-02"
PERMANENT = (
    "InvalidParameterValue.CalledNumberVerifyFail",
    "InvalidParameterValue.ContentLengthLimit",
    "FailedOperation.ContainSensitiveWord",
)
TOO_OFTEN = ("LimitExceeded.DeliveryFrequencyLimit", "RequestLimitExceeded")
MAX_TEXT = 300
PLAY_TIMES = ("1", "2", "3")


class TencentVoice(Adapter):
    name = "tencent_voice"
    label = lazy("Tencent Cloud voice call")
    contact = "mobile"
    base_url = "https://vms.tencentcloudapi.com"
    fields = (
        Field("secret_id", lazy("SecretId")),
        Field("secret_key", lazy("SecretKey"), secret=True),
        Field("voice_sdk_app_id", lazy("VoiceSdkAppid")),
        Field("template_id", lazy("Template ID")),
        Field(
            "play_times", lazy("Times the text is read"), required=False, hint=lazy("default: 2"), choices=PLAY_TIMES
        ),
        Field("region", lazy("Region"), required=False, hint=lazy("default: ap-guangzhou")),
    )

    async def send(self, http, conf, m):
        if (conf["play_times"] or "2") not in PLAY_TIMES:
            raise Permanent("Tencent voice: PlayTimes is 1, 2 or 3")
        body = {
            "TemplateId": conf["template_id"],
            "TemplateParamSet": [spoken(m, MAX_TEXT)],
            "CalledNumber": tencent_sms.e164(m.recipient),
            "VoiceSdkAppid": conf["voice_sdk_app_id"],
            "PlayTimes": int(conf["play_times"] or "2"),
            "SessionContext": m.key[:512],
        }
        got = await tencent_sms.call(http, conf, "SendTtsVoice", VERSION, SERVICE, body)
        error = got.get("Error")
        if error:
            code = str(error.get("Code", ""))
            if code.startswith(PERMANENT):
                raise Permanent(f"Tencent voice: {code} {error.get('Message', '')}")
            raise Retry(
                f"Tencent voice: {code} {error.get('Message', '')}", after=60 if code.startswith(TOO_OFTEN) else 0
            )
        return f"CallId {(got.get('SendStatus') or {}).get('CallId', '')}"


ADAPTER = TencentVoice()
