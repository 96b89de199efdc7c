"""A real SMTP server (aiosmtpd) on a free port for the notification tests, and an app that
mails to it: `smtp` (the server, started by `mailing()` unless `up=False`), `mailing(**settings)`."""

from __future__ import annotations

import asyncio
import email
import threading
from email import policy

import pytest
from aiosmtpd.controller import Controller
from fixtures import free_port

SITE = "Rooms <rooms@example.com>"


class Inbox:
    """What the SMTP server received; `gate` cleared holds every mail in its DATA step."""

    def __init__(self) -> None:
        self.mails: list = []
        self.gate = threading.Event()
        self.gate.set()
        self.holding = threading.Event()  # a mail waits at the gate

    async def handle_DATA(self, server, session, envelope):
        if not self.gate.is_set():
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.gate.wait)
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"

    def parsed(self, to: str | None = None) -> list[email.message.EmailMessage]:
        found = [email.message_from_bytes(m[2], policy=policy.default) for m in self.mails if to is None or to in m[1]]
        return found


class SmtpServer:
    def __init__(self) -> None:
        self.port, self.inbox, self.controller = free_port(), Inbox(), None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.inbox.gate.set()
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def mailing(make_client, smtp):
    """`mailing()`: an app sending to the test's SMTP server (started unless `up=False`)."""

    def make(up: bool = True, **settings):
        if up and smtp.controller is None:
            smtp.start()
        return make_client(smtp_url=smtp.url, mail_from=SITE, **settings)

    return make


ATTENDEES = [
    {"name": "Li Lei", "email": "li@example.com", "role": "chair"},
    {"name": "Han Meimei", "email": "han@example.com", "role": "optional"},
]
