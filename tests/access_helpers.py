"""Door controllers for the door-access tests, as real HTTP servers on free ports: a fake
ESPHome relay and a fake Hikvision ISAPI endpoint that checks digest auth (`controllers`)."""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fixtures import free_port

REALM, NONCE = "DS-K1T671", "4e6f6e6365"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class Controllers:
    """`/switch/<id>/turn_on` (ESPHome) and `/ISAPI/AccessControl/RemoteControl/door/<n>`
    (Hikvision, digest auth as admin / door-pw); `calls` keeps (method, path, body)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls: list[tuple[str, str, bytes]] = []
        ctl = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def digest_ok(self) -> bool:
                auth = self.headers.get("authorization", "")
                if not auth.startswith("Digest "):
                    return False
                p = dict(re.findall(r'(\w+)="?([^",]*)"?', auth[7:]))
                ha1, ha2 = md5(f"admin:{REALM}:door-pw"), md5(f"{self.command}:{p.get('uri')}")
                want = md5(f"{ha1}:{NONCE}:{p.get('nc')}:{p.get('cnonce')}:{p.get('qop')}:{ha2}")
                return p.get("username") == "admin" and p.get("uri") == self.path and p.get("response") == want

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                ctl.calls.append(("POST", self.path, body))
                ok = re.fullmatch(r"/switch/[\w-]+/turn_on", self.path)
                self.answer(200 if ok else 404)

            def do_PUT(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if not self.digest_ok():
                    challenge = f'Digest realm="{REALM}", qop="auth", nonce="{NONCE}"'
                    return self.answer(401, b"", [("WWW-Authenticate", challenge)])
                ctl.calls.append(("PUT", self.path, body))
                self.answer(200, b"<ResponseStatus><statusCode>1</statusCode></ResponseStatus>")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def controllers():
    c = Controllers()
    yield c
    c.stop()
