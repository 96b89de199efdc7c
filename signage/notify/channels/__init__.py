"""The ways out besides email and the bell: one module per provider, each an `Adapter`.

    adapter = ADAPTERS["dingtalk_work"]
    await adapter.send(http, conf, Outgoing(recipient="manager4711", subject=…, body=…, key=…))

An adapter turns one queued message (`notify_messages`, its short text) into its
provider's request, signed as the provider documents it, and says how it went: it returns
(the provider's receipt), or raises `Retry` (try again after the back-off: a network error,
a 5xx, a rate limit, an expired token) or `Permanent` (retrying cannot help: an unknown
user, a number that is not one; the outbox gives the message up and the channel's fallback
gets it). Each adapter's `base_url` is a setting of its channel (tests: a local fake).

| name            | provider                                         | sends to (the user's)  | per minute |
|-----------------|--------------------------------------------------|------------------------|------------|
| dingtalk_work   | DingTalk work notice (asyncsend_v2, /gettoken)   | dingtalk_id            |            |
| dingtalk_robot  | DingTalk group robot (timestamp + sign)          | mobile (@ in the group)| 20         |
| wecom_app       | WeCom app message (cgi-bin/gettoken, message/send)| wecom_id              |            |
| wecom_robot     | WeCom group robot (webhook/send?key=)            | mobile (@ in the group)| 20         |
| aliyun_sms      | Aliyun SMS SendSms (signature V1, HMAC-SHA1)     | mobile                 |            |
| tencent_sms     | Tencent Cloud SMS SendSms (TC3-HMAC-SHA256)      | mobile                 |            |
| aliyun_voice    | Aliyun voice call SingleCallByTts (signature V1) | mobile                 |            |
| tencent_voice   | Tencent Cloud voice call SendTtsVoice (TC3, vms) | mobile                 |            |
| wechat_mp       | WeChat official account template message         | wechat_openid          |            |
"""

from __future__ import annotations

from signage.notify.channels import (
    aliyun_sms,
    aliyun_voice,
    dingtalk_robot,
    dingtalk_work,
    tencent_sms,
    tencent_voice,
    wechat_mp,
    wecom_app,
    wecom_robot,
)
from signage.notify.channels.base import Adapter, Conf, Failed, Field, Outgoing, Permanent, Retry

ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (
        dingtalk_work.ADAPTER,
        dingtalk_robot.ADAPTER,
        wecom_app.ADAPTER,
        wecom_robot.ADAPTER,
        aliyun_sms.ADAPTER,
        tencent_sms.ADAPTER,
        aliyun_voice.ADAPTER,
        tencent_voice.ADAPTER,
        wechat_mp.ADAPTER,
    )
}
CONTACTS = ("email", "mobile", "dingtalk_id", "wecom_id", "wechat_openid")  # where a user is reached

__all__ = ["ADAPTERS", "CONTACTS", "Adapter", "Conf", "Failed", "Field", "Outgoing", "Permanent", "Retry"]
