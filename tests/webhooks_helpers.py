"""A real HTTP receiver of webhooks, in a thread, checking each message with the
`standardwebhooks` library as an OA would."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fixtures import free_port
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    """Answers each POST with the next of `answers` (status, headers), then 200; keeps every
    request as (webhook-id, headers, body, the status it answered)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.answers: list[tuple[int, dict]] = []
        self.requests: list[tuple[str, dict, bytes, int]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
                    receiver.requests.append((self.headers.get("webhook-id", ""), dict(self.headers), body, status))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                answer = b'{"ok": true}' if status < 300 else b"not now"
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answered(self, status: int = 200) -> list[tuple[str, dict, bytes, int]]:
        with self.lock:
            return [r for r in self.requests if r[3] == status]

    def verified(self, secret: str, status: int = 200) -> list[dict]:
        """The payloads of the requests answered `status`, each checked with the library
        (raises WebhookVerificationError on a bad signature)."""
        return [Webhook(secret).verify(body, headers) for _id, headers, body, _s in self.answered(status)]


def verifies(secret: str, request) -> bool:
    _id, headers, body, _status = request
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def payload(request) -> dict:
    return json.loads(request[2])
