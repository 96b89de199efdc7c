"""Local stand-ins for DingTalk's and WeCom's contacts APIs (and their in-app sign-in), on a
free port, answering in the formats the providers document, written here on their own:
access tokens from /gettoken, error codes for a wrong or expired token, DingTalk's
user/list paged by `cursor` at most 100 at a time, WeCom's department/list and
user/list?fetch_child=1, and the codes a signed-in person's app hands out.

    fake = Contacts(); fake.start()           # fake.url: the base URL of both
    fake.dingtalk_departments / fake.dingtalk_users / fake.wecom_departments / fake.wecom_users
    fake.codes["code-1"] = "zhangsan"         # an auth code and the userid it stands for
    fake.expire_tokens()                      # every token given so far answers 42001 once used
    fake.calls                                # (path, query or body) of every call
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from fixtures import free_port

DINGTALK = {"appkey": "ding-app-key", "appsecret": "ding-app-secret"}
WECOM = {"corpid": "ww-corp-1", "corpsecret": "wecom-contacts-secret"}


class Contacts:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens: set[str] = set()
        self.expired: set[str] = set()
        self.codes: dict[str, str] = {}
        self.calls: list[tuple[str, dict]] = []
        self.dingtalk_departments = {
            1: {"name": "示例公司", "parent_id": None, "order": 0, "managers": []},
            2: {"name": "研发部", "parent_id": 1, "order": 1, "managers": ["dt-zhang"]},
            3: {"name": "平台组", "parent_id": 2, "order": 2, "managers": []},
            4: {"name": "市场部", "parent_id": 1, "order": 3, "managers": []},
        }
        self.dingtalk_users = [
            {"userid": "dt-zhang", "name": "张伟", "mobile": "13900000001", "email": "zhangwei@example.com",
             "job_number": "D001", "title": "总监", "dept_id_list": [2]},
            {"userid": "dt-wang", "name": "王芳", "mobile": "13900000002", "org_email": "wangfang@example.com",
             "job_number": "D002", "title": "工程师", "dept_id_list": [3, 4]},
        ] + [
            {"userid": f"dt-{n}", "name": f"员工{n}", "mobile": "", "job_number": f"D1{n:03d}", "title": "",
             "dept_id_list": [3]}
            for n in range(150)  # more than one page of user/list
        ]  # fmt: skip
        self.wecom_departments = [
            {"id": 1, "name": "示例公司", "parentid": 0, "order": 100, "department_leader": []},
            {"id": 2, "name": "销售部", "parentid": 1, "order": 90, "department_leader": ["wc-li"]},
            {"id": 3, "name": "华东区", "parentid": 2, "order": 80, "department_leader": []},
        ]
        # an app made after 2022 gets no mobile or email
        self.wecom_users = [
            {"userid": "wc-li", "name": "李娜", "department": [2], "position": "经理", "status": 1},
            {"userid": "wc-zhao", "name": "赵强", "department": [3], "position": "", "status": 1},
            {"userid": "wc-new", "name": "新人", "department": [3], "status": 4},
            {"userid": "wc-gone", "name": "已离职", "department": [3], "status": 5},
        ]

    def expire_tokens(self) -> None:
        self.expired |= self.tokens

    def start(self) -> Contacts:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, body: dict, status: int = 200) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def token_error(self, query) -> dict | None:
                token = query.get("access_token", [""])[0]
                if token in fake.expired:
                    return {"errcode": 42001, "errmsg": "access_token expired"}
                if token not in fake.tokens:
                    return {"errcode": 40014, "errmsg": "invalid access_token"}
                return None

            def new_token(self) -> dict:
                token = secrets.token_hex(8)
                fake.tokens.add(token)
                return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

            def do_GET(self):
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                fake.calls.append((url.path, {k: v[0] for k, v in query.items()}))
                if url.path == "/gettoken":  # DingTalk
                    if {k: query.get(k, [""])[0] for k in DINGTALK} != DINGTALK:
                        return self.answer({"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"})
                    return self.answer(self.new_token())
                if url.path == "/cgi-bin/gettoken":  # WeCom
                    if {k: query.get(k, [""])[0] for k in WECOM} != WECOM:
                        return self.answer({"errcode": 40001, "errmsg": "invalid credential"})
                    return self.answer(self.new_token())
                if url.path == "/connect/oauth2/authorize":  # the person is inside WeCom and agrees at once
                    if query.get("appid", [""])[0] != WECOM["corpid"] or query.get("scope", [""])[0] != "snsapi_base":
                        return self.answer({"errcode": 40013, "errmsg": "invalid appid"}, 400)
                    code = secrets.token_hex(6)
                    fake.codes[code] = fake.wecom_signin
                    target = query["redirect_uri"][0]
                    return self.redirect(f"{target}?{urlencode({'code': code, 'state': query['state'][0]})}")
                if url.path.startswith("/cgi-bin/"):
                    if (problem := self.token_error(query)) is not None:
                        return self.answer(problem)
                    if url.path == "/cgi-bin/department/list":
                        return self.answer({"errcode": 0, "errmsg": "ok", "department": fake.wecom_departments})
                    if url.path == "/cgi-bin/user/list":
                        if query.get("fetch_child", ["0"])[0] != "1" or query.get("department_id", [""])[0] != "1":
                            return self.answer({"errcode": 60003, "errmsg": "department not found"})
                        return self.answer({"errcode": 0, "errmsg": "ok", "userlist": fake.wecom_users})
                    if url.path == "/cgi-bin/auth/getuserinfo":
                        userid = fake.codes.pop(query.get("code", [""])[0], None)
                        if userid is None:
                            return self.answer({"errcode": 40029, "errmsg": "invalid code"})
                        return self.answer({"errcode": 0, "errmsg": "ok", "userid": userid, "user_ticket": "t"})
                return self.answer({"errcode": 404, "errmsg": "no such method"}, 404)

            def do_POST(self):
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.calls.append((url.path, body))
                if (problem := self.token_error(query)) is not None:
                    return self.answer(problem)
                depts = fake.dingtalk_departments
                if url.path == "/topapi/v2/department/listsubid":
                    if body.get("dept_id") not in depts:
                        return self.answer({"errcode": 60003, "errmsg": "部门不存在"})
                    kids = [d for d, v in depts.items() if v["parent_id"] == body["dept_id"]]
                    return self.answer({"errcode": 0, "errmsg": "ok", "result": {"dept_id_list": kids}})
                if url.path == "/topapi/v2/department/get":
                    d = depts.get(body.get("dept_id"))
                    if d is None:
                        return self.answer({"errcode": 60003, "errmsg": "部门不存在"})
                    result = {"dept_id": body["dept_id"], "name": d["name"], "order": d["order"],
                              "dept_manager_userid_list": d["managers"]}  # fmt: skip
                    if d["parent_id"] is not None:
                        result["parent_id"] = d["parent_id"]
                    return self.answer({"errcode": 0, "errmsg": "ok", "result": result})
                if url.path == "/topapi/v2/user/list":
                    size, cursor = body.get("size"), body.get("cursor")
                    if not isinstance(size, int) or not 1 <= size <= 100 or not isinstance(cursor, int):
                        return self.answer({"errcode": 400002, "errmsg": "无效的参数"})
                    members = [u for u in fake.dingtalk_users if body.get("dept_id") in u["dept_id_list"]]
                    page = members[cursor : cursor + size]
                    more = cursor + size < len(members)
                    result = {"has_more": more, "list": page}
                    if more:
                        result["next_cursor"] = cursor + size
                    return self.answer({"errcode": 0, "errmsg": "ok", "result": result})
                if url.path == "/topapi/v2/user/getuserinfo":
                    userid = fake.codes.pop(str(body.get("code", "")), None)
                    if userid is None:
                        return self.answer({"errcode": 40078, "errmsg": "不存在的临时授权码"})
                    return self.answer({"errcode": 0, "errmsg": "ok", "result": {"userid": userid, "name": ""}})
                return self.answer({"errcode": 404, "errmsg": "no such method"}, 404)

        self.wecom_signin = "wc-li"
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
