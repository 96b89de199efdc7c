"""A local stand-in for every provider of signage/notify/channels, on a free port: it checks
each request's signature and body the way the provider documents them, written here again
on its own (not with the adapters' code), and answers as the provider does.

    fake = Providers(); fake.start()    # fake.url is every channel's base URL
    fake.accepted["dingtalk_work"]      # the bodies it took, per channel
    fake.rejected                       # what it refused (a wrong signature, a bad body)
    fake.gone = {"u-gone"}              # ids/numbers the provider does not know (permanent)
    fake.down = True                    # answers 503 to everything
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

from fixtures import free_port

CREDENTIALS = {
    "dingtalk_work": {"app_key": "ding-key", "app_secret": "ding-secret", "agent_id": "4711"},
    "dingtalk_robot": {"access_token": "robot-token", "secret": "SECrobot-secret"},
    "wecom_app": {"corp_id": "ww-corp", "secret": "wecom-secret", "agent_id": "1000002"},
    "wecom_robot": {"key": "wecom-robot-key"},
    "aliyun_sms": {
        "access_key_id": "LTAI-test",
        "access_key_secret": "aliyun-secret",
        "sign_name": "会议室",
        "template_code": "SMS_123",
    },
    "tencent_sms": {
        "secret_id": "AKID-test",
        "secret_key": "tencent-secret",
        "sdk_app_id": "1400006666",
        "sign_name": "会议室",
        "template_id": "1234",
    },
    "wechat_mp": {"app_id": "wx-app", "app_secret": "wx-secret", "template_id": "TPL-1"},
    "aliyun_voice": {
        "access_key_id": "LTAI-voice",
        "access_key_secret": "aliyun-voice-secret",
        "tts_code": "TTS_4711",
        "called_show_number": "057100001111",
    },
    "tencent_voice": {
        "secret_id": "AKID-voice",
        "secret_key": "tencent-voice-secret",
        "voice_sdk_app_id": "1400007777",
        "template_id": "4356",
        "play_times": "3",
    },
}
# what each documents for the action (SingleCallByTts, SendTtsVoice): anything else is refused
ALIYUN_COMMON = {
    "AccessKeyId",
    "Action",
    "Format",
    "RegionId",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
    "Version",
}
ALIYUN_VOICE = {"CalledNumber", "CalledShowNumber", "TtsCode", "TtsParam", "PlayTimes", "Volume", "Speed", "OutId"}
TENCENT_VOICE = {"TemplateId", "CalledNumber", "VoiceSdkAppid", "TemplateParamSet", "PlayTimes", "SessionContext"}
TOKENS = {"dingtalk_work": "ding-access", "wecom_app": "wecom-access", "wechat_mp": "wx-access"}


def aliyun_encode(value: str) -> str:
    """Aliyun's percentEncode: java.net.URLEncoder (UTF-8), then + → %20, * → %2A, %7E → ~."""
    from urllib.parse import quote_plus

    return quote_plus(value, safe="*").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def aliyun_signature(params: dict, secret: str) -> str:
    canonical = "&".join(f"{aliyun_encode(k)}={aliyun_encode(v)}" for k, v in sorted(params.items()))
    to_sign = "POST&" + aliyun_encode("/") + "&" + aliyun_encode(canonical)
    return base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


def tc3_authorization(secret_id: str, secret_key: str, headers: dict, body: bytes, service: str = "sms") -> str:
    timestamp = int(headers["x-tc-timestamp"])
    date = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    canonical = (
        f"POST\n/\n\ncontent-type:{headers['content-type']}\nhost:{headers['host']}\n\n"
        f"content-type;host\n{hashlib.sha256(body).hexdigest()}"
    )
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"

    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = mac(mac(mac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"


class Providers:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted: dict[str, list[dict]] = {name: [] for name in CREDENTIALS}
        self.rejected: list[str] = []
        self.tokens_issued: dict[str, int] = {name: 0 for name in TOKENS}
        self.gone: set[str] = set()
        self.down = False
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.answer(*fake.handle("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, b""))

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                self.answer(*fake.handle("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))

            def answer(self, status: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def all(self) -> list[tuple[str, dict]]:
        return [(name, body) for name, bodies in self.accepted.items() for body in bodies]

    # ------------------------------------------------------------------ the providers

    def refuse(self, why: str, payload: dict, status: int = 200):
        with self.lock:
            self.rejected.append(why)
        return status, payload

    def take(self, channel: str, body: dict):
        with self.lock:
            self.accepted[channel].append(body)

    def handle(self, method: str, path: str, headers: dict, body: bytes):
        if self.down:
            return 503, {"errcode": -1, "errmsg": "system busy"}
        parts = urlsplit(path)
        q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        route = (method, parts.path)
        if route == ("GET", "/gettoken"):
            return self.token("dingtalk_work", q.get("appkey"), q.get("appsecret"), "app_key", "app_secret")
        if route == ("GET", "/cgi-bin/gettoken"):
            return self.token("wecom_app", q.get("corpid"), q.get("corpsecret"), "corp_id", "secret")
        if route == ("GET", "/cgi-bin/token"):
            if q.get("grant_type") != "client_credential":
                return self.refuse("wechat grant_type", {"errcode": 40002, "errmsg": "invalid grant_type"})
            return self.token("wechat_mp", q.get("appid"), q.get("secret"), "app_id", "app_secret")
        if route == ("POST", "/topapi/message/corpconversation/asyncsend_v2"):
            return self.dingtalk_work(q, headers, body)
        if route == ("POST", "/robot/send"):
            return self.dingtalk_robot(q, headers, body)
        if route == ("POST", "/cgi-bin/message/send"):
            return self.wecom_app(q, headers, body)
        if route == ("POST", "/cgi-bin/webhook/send"):
            return self.wecom_robot(q, headers, body)
        if route == ("POST", "/cgi-bin/message/template/send"):
            return self.wechat_mp(q, headers, body)
        if route == ("POST", "/") and headers.get("x-tc-action") == "SendTtsVoice":
            return self.tencent_voice(headers, body)
        if route == ("POST", "/") and headers.get("x-tc-action"):
            return self.tencent_sms(headers, body)
        if route == ("POST", "/"):
            return self.aliyun(headers, body)
        return self.refuse(f"unknown {method} {path}", {"errcode": 404, "errmsg": "not found"}, 404)

    def token(self, channel, user, secret, user_field, secret_field):
        expected = CREDENTIALS[channel]
        if (user, secret) != (expected[user_field], expected[secret_field]):
            return self.refuse(
                f"{channel} token: wrong credentials", {"errcode": 40001, "errmsg": "invalid credential"}
            )
        with self.lock:
            self.tokens_issued[channel] += 1
        answer = {"access_token": TOKENS[channel], "expires_in": 7200}
        return 200, ({"errcode": 0, "errmsg": "ok", **answer} if channel != "wechat_mp" else answer)

    @staticmethod
    def json_body(headers: dict, body: bytes) -> dict | None:
        if not headers.get("content-type", "").startswith("application/json"):
            return None
        try:
            return json.loads(body)
        except ValueError:
            return None

    def dingtalk_work(self, q, headers, body):
        if q.get("access_token") != TOKENS["dingtalk_work"]:
            return self.refuse("dingtalk_work token", {"errcode": 40014, "errmsg": "不合法的access_token"})
        data = self.json_body(headers, body)
        ok = (
            isinstance(data, dict)
            and data.get("agent_id") == int(CREDENTIALS["dingtalk_work"]["agent_id"])
            and isinstance(data.get("userid_list"), str)
            and data["userid_list"]
            and data.get("msg", {}).get("msgtype") == "markdown"
            and data["msg"]["markdown"].get("title")
            and data["msg"]["markdown"].get("text")
        )
        if not ok:
            return self.refuse(f"dingtalk_work body {body[:200]!r}", {"errcode": 40035, "errmsg": "缺少参数"})
        if data["userid_list"] in self.gone:
            return 200, {"errcode": 33012, "errmsg": "无效的USERID"}
        self.take("dingtalk_work", data)
        return 200, {"errcode": 0, "errmsg": "ok", "task_id": len(self.accepted["dingtalk_work"]), "request_id": "r"}

    def dingtalk_robot(self, q, headers, body):
        creds = CREDENTIALS["dingtalk_robot"]
        if q.get("access_token") != creds["access_token"]:
            return self.refuse("dingtalk_robot token", {"errcode": 300001, "errmsg": "token is not exist"})
        ts = q.get("timestamp", "")
        expected = base64.b64encode(
            hmac.new(creds["secret"].encode(), f"{ts}\n{creds['secret']}".encode(), hashlib.sha256).digest()
        ).decode()
        # parse_qs decoded the URL-encoded sign once, as DingTalk does
        if not ts.isdigit() or abs(int(ts) - time.time() * 1000) > 3600_000 or q.get("sign") != expected:
            return self.refuse(f"dingtalk_robot sign {q}", {"errcode": 310000, "errmsg": "sign not match"})
        data = self.json_body(headers, body)
        if not (isinstance(data, dict) and data.get("msgtype") == "text" and data.get("text", {}).get("content")):
            return self.refuse("dingtalk_robot body", {"errcode": 300003, "errmsg": "invalid message"})
        if not isinstance(data.get("at", {}).get("atMobiles", []), list):
            return self.refuse("dingtalk_robot at", {"errcode": 300003, "errmsg": "invalid at"})
        self.take("dingtalk_robot", data)
        return 200, {"errcode": 0, "errmsg": "ok"}

    def wecom_app(self, q, headers, body):
        if q.get("access_token") != TOKENS["wecom_app"]:
            return self.refuse("wecom_app token", {"errcode": 40014, "errmsg": "invalid access_token"})
        data = self.json_body(headers, body)
        ok = (
            isinstance(data, dict)
            and data.get("agentid") == int(CREDENTIALS["wecom_app"]["agent_id"])
            and data.get("msgtype") == "text"
            and data.get("text", {}).get("content")
            and data.get("touser")
            and data.get("enable_duplicate_check") == 1
        )
        if not ok:
            return self.refuse(f"wecom_app body {body[:200]!r}", {"errcode": 40008, "errmsg": "invalid message type"})
        if data["touser"] in self.gone:
            return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": data["touser"], "msgid": ""}
        self.take("wecom_app", data)
        return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": f"m{len(self.accepted['wecom_app'])}"}

    def wecom_robot(self, q, headers, body):
        if q.get("key") != CREDENTIALS["wecom_robot"]["key"]:
            return self.refuse("wecom_robot key", {"errcode": 93000, "errmsg": "invalid webhook url"})
        data = self.json_body(headers, body)
        if not (isinstance(data, dict) and data.get("msgtype") == "text" and data.get("text", {}).get("content")):
            return self.refuse("wecom_robot body", {"errcode": 40008, "errmsg": "invalid message type"})
        self.take("wecom_robot", data)
        return 200, {"errcode": 0, "errmsg": "ok"}

    def wechat_mp(self, q, headers, body):
        if q.get("access_token") != TOKENS["wechat_mp"]:
            return self.refuse("wechat_mp token", {"errcode": 40001, "errmsg": "invalid credential"})
        data = self.json_body(headers, body)
        ok = (
            isinstance(data, dict)
            and data.get("touser")
            and data.get("template_id") == CREDENTIALS["wechat_mp"]["template_id"]
            and isinstance(data.get("data"), dict)
            and all(isinstance(v, dict) and "value" in v for v in data["data"].values())
        )
        if not ok:
            return self.refuse(f"wechat_mp body {body[:200]!r}", {"errcode": 47001, "errmsg": "data format error"})
        if data["touser"] in self.gone:
            return 200, {"errcode": 43004, "errmsg": "require subscribe"}
        self.take("wechat_mp", data)
        return 200, {"errcode": 0, "errmsg": "ok", "msgid": len(self.accepted["wechat_mp"])}

    def aliyun(self, headers, body):
        """An RPC call (signature V1): its signature and common parameters, then its action."""
        if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return self.refuse("aliyun content-type", {"Code": "InvalidParameter", "Message": "form expected"}, 400)
        params = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        channel = {"SendSms": "aliyun_sms", "SingleCallByTts": "aliyun_voice"}.get(params.get("Action", ""))
        if channel is None:
            return self.refuse(f"aliyun action {params.get('Action')}", {"Code": "InvalidAction"}, 400)
        creds = CREDENTIALS[channel]
        signature = params.pop("Signature", "")
        if signature != aliyun_signature(params, creds["access_key_secret"]):
            return self.refuse(
                "aliyun signature",
                {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched"},
                400,
            )
        fixed = {
            "AccessKeyId": creds["access_key_id"],
            "Format": "JSON",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "Version": "2017-05-25",
        }
        if any(params.get(k) != v for k, v in fixed.items()) or not params.get("SignatureNonce"):
            return self.refuse(f"aliyun params {params}", {"Code": "MissingParameter", "Message": "bad params"}, 400)
        stamp = dt.datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        if abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) > 900:
            return self.refuse("aliyun timestamp", {"Code": "InvalidTimeStamp.Expired", "Message": "expired"}, 400)
        return self.aliyun_sms(params) if channel == "aliyun_sms" else self.aliyun_voice(params)

    def aliyun_sms(self, params):
        creds = CREDENTIALS["aliyun_sms"]
        if params.get("SignName") != creds["sign_name"] or params.get("TemplateCode") != creds["template_code"]:
            return self.refuse(f"aliyun params {params}", {"Code": "MissingParameter", "Message": "bad params"}, 400)
        try:
            params["TemplateParam"] = json.loads(params["TemplateParam"])
        except (KeyError, ValueError):
            return self.refuse("aliyun TemplateParam", {"Code": "isv.INVALID_JSON_PARAM", "Message": "JSON"})
        if params["PhoneNumbers"] in self.gone:
            return 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": "r"}
        self.take("aliyun_sms", params)
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"biz{len(self.accepted['aliyun_sms'])}", "RequestId": "r"}

    def aliyun_voice(self, params):
        """SingleCallByTts: CalledNumber without + (mainland numbers without 86), the TTS template's
        code, its variables as a JSON object, PlayTimes 1 to 3; nothing undocumented."""
        creds = CREDENTIALS["aliyun_voice"]
        try:
            variables = json.loads(params.get("TtsParam", "{}"))
        except ValueError:
            variables = None
        ok = (
            set(params) <= ALIYUN_COMMON | ALIYUN_VOICE
            and params.get("TtsCode") == creds["tts_code"]
            and params.get("CalledShowNumber") == creds["called_show_number"]
            and params.get("CalledNumber", "").isdigit()
            and params.get("PlayTimes", "1") in ("1", "2", "3")
            and isinstance(variables, dict)
            and all(isinstance(v, str) for v in variables.values())
        )
        if not ok:
            return self.refuse(f"aliyun_voice params {params}", {"Code": "isv.INVALID_PARAMETERS"}, 400)
        params["TtsParam"] = variables
        if params["CalledNumber"] in self.gone:
            return 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "号码格式非法", "RequestId": "r"}
        self.take("aliyun_voice", params)
        return 200, {
            "Code": "OK",
            "Message": "OK",
            "CallId": f"call{len(self.accepted['aliyun_voice'])}",
            "RequestId": "r",
        }

    def tencent_sms(self, headers, body):
        creds = CREDENTIALS["tencent_sms"]
        if headers.get("x-tc-action") != "SendSms" or headers.get("x-tc-version") != "2021-01-11":
            return 200, {"Response": {"Error": {"Code": "InvalidAction", "Message": "?"}, "RequestId": "r"}}
        if headers.get("content-type") != "application/json; charset=utf-8":
            return self.refuse(
                "tencent content-type", {"Response": {"Error": {"Code": "InvalidParameter", "Message": "ct"}}}
            )
        expected = tc3_authorization(creds["secret_id"], creds["secret_key"], headers, body)
        if headers.get("authorization") != expected:
            return self.refuse(
                "tencent signature",
                {
                    "Response": {
                        "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "signature"},
                        "RequestId": "r",
                    }
                },
            )
        if abs(int(headers["x-tc-timestamp"]) - time.time()) > 300:
            return self.refuse("tencent timestamp", {"Response": {"Error": {"Code": "AuthFailure.SignatureExpire"}}})
        data = json.loads(body)
        ok = (
            data.get("SmsSdkAppId") == creds["sdk_app_id"]
            and data.get("SignName") == creds["sign_name"]
            and data.get("TemplateId") == creds["template_id"]
            and isinstance(data.get("TemplateParamSet"), list)
            and [n.startswith("+") for n in data.get("PhoneNumberSet", [])] == [True]
        )
        if not ok:
            return self.refuse(f"tencent body {data}", {"Response": {"Error": {"Code": "InvalidParameter"}}})
        number = data["PhoneNumberSet"][0]
        if number in self.gone or number.removeprefix("+86") in self.gone:
            status = {
                "Code": "InvalidParameterValue.IncorrectPhoneNumber",
                "Message": "incorrect number",
                "PhoneNumber": number,
            }
        else:
            self.take("tencent_sms", data)
            status = {"Code": "Ok", "Message": "send success", "SerialNo": "s1", "PhoneNumber": number, "Fee": 1}
        return 200, {"Response": {"SendStatusSet": [status], "RequestId": "r"}}

    def tencent_voice(self, headers, body):
        """SendTtsVoice (vms 2020-09-02): TC3 for the service vms, the documented fields only;
        VMS calls mobiles in mainland China only (+86)."""
        creds = CREDENTIALS["tencent_voice"]

        def error(code: str) -> dict:
            return {"Response": {"Error": {"Code": code, "Message": code}, "RequestId": "r"}}

        if headers.get("x-tc-version") != "2020-09-02" or not headers.get("x-tc-region"):
            return self.refuse("tencent_voice version or region", error("NoSuchVersion"))
        if headers.get("content-type") != "application/json; charset=utf-8":
            return self.refuse("tencent_voice content-type", error("InvalidParameter"))
        if headers.get("authorization") != tc3_authorization(
            creds["secret_id"], creds["secret_key"], headers, body, "vms"
        ):
            return self.refuse("tencent_voice signature", error("AuthFailure.SignatureFailure"))
        if abs(int(headers["x-tc-timestamp"]) - time.time()) > 300:
            return self.refuse("tencent_voice timestamp", error("AuthFailure.SignatureExpire"))
        data = json.loads(body)
        params = data.get("TemplateParamSet", [])
        ok = (
            set(data) <= TENCENT_VOICE
            and data.get("TemplateId") == creds["template_id"]
            and data.get("VoiceSdkAppid") == creds["voice_sdk_app_id"]
            and isinstance(data.get("CalledNumber"), str)
            and data["CalledNumber"].startswith("+")
            and isinstance(params, list)
            and all(isinstance(p, str) for p in params)
            and data.get("PlayTimes", 2) in (1, 2, 3)
        )
        if not ok:
            return self.refuse(f"tencent_voice body {data}", error("FailedOperation.InvalidParameters"))
        if sum(len(p) for p in params) > 350:
            return 200, error("InvalidParameterValue.ContentLengthLimit")
        number = data["CalledNumber"]
        if not number.startswith("+86") or number in self.gone:
            return 200, error("InvalidParameterValue.CalledNumberVerifyFail")
        self.take("tencent_voice", data)
        call = {
            "CallId": f"call{len(self.accepted['tencent_voice'])}",
            "SessionContext": data.get("SessionContext", ""),
        }
        return 200, {"Response": {"SendStatus": call, "RequestId": "r"}}


def configure(client, fake: Providers, name: str, fallback: str = "", kinds: tuple[str, ...] = (), **extra) -> None:
    """Turn a channel on through the admin page (the client is signed in as an admin)."""
    from fixtures import csrf

    form = {
        "csrf_token": csrf(client),
        "enabled": "on",
        "base_url": fake.url,
        "fallback": fallback,
        **CREDENTIALS[name],
        **{f"kind_{k}": "on" for k in kinds},
        **extra,
    }
    r = client.post(f"/admin/notifications/channels/{name}", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text


__all__ = ["CREDENTIALS", "Providers", "configure", "quote"]
