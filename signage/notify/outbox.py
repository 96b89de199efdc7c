"""The worker that sends what the outbox holds, in every process.

    outbox = Outbox(db, settings)
    await outbox.start()          # in the app's lifespan; outbox.wake() when a message was queued

The worker sends on every channel that is on (signage/notify/routing.py: email when
SIGNAGE_SMTP_URL is set, each adapter an admin enabled); with none on, a round only looks
again every CONFIG_SECONDS whether one was turned on (`reload()` makes it look now).

A round: claim the due messages of the channels on (at most BATCH) in one short
transaction, taking each for LEASE seconds (`claimed_until`, `claimed_by`; on PostgreSQL
the rows are read `FOR UPDATE SKIP LOCKED`, so two processes never claim one message;
SQLite has one writer at a time). A channel with a rate limit (robots: 20 a minute) gets
no more than its limit less what was sent or taken in the last minute, counted in the
claim's transaction (on PostgreSQL under an advisory lock per channel, so two processes
count one after the other). Then send them, outside any transaction: the mails over one
SMTP connection, the rest through their adapters (signage/notify/channels); and record
each result in its own: sent; or queued again after a back-off of RETRY_SECONDS doubling
(5, 10, 20, 40 s: the first retries within a minute) up to RETRY_MAX (or the provider's
own wait); or failed once the message is GIVE_UP old, or at once when the provider says
retrying cannot help (`Permanent`). A message failed for good hands over to the next
channel of its fallback (routing.next_channel), queued in the same transaction. Every
`reminders.SCAN_SECONDS` a round first queues the reminders now due (signage/notify/reminders.py).

A message is sent at most once on success: a sent one is never claimed again, and a
claim is only taken from a message whose lease has run out. A process that dies
between the send and its record leaves a lease that runs out; the message is then sent
again with the same Message-ID (the receiving side's idempotency key), so a crash costs
at worst a duplicate that mail systems recognise, never a lost message. The other channels
send their key where the provider takes one (WeChat's `client_msg_id`, Aliyun's `OutId`,
Tencent's `SessionContext`, for SMS and voice calls alike; WeCom's duplicate check and DingTalk's once-a-day rule for the
same content drop a resend).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import uuid
import zlib
from email.utils import getaddresses, parseaddr

import httpx
from sqlalchemy import and_, case, func, or_, select, text, update

from signage.db import Database, utcnow
from signage.notify import reminders, routing, texts
from signage.notify.channels import ADAPTERS, Outgoing, Permanent, Retry
from signage.notify.channels.base import TIMEOUT
from signage.notify.models import Message
from signage.periodic import Worker, leased

log = logging.getLogger("signage.notify")

BATCH = 20
LEASE = dt.timedelta(seconds=300)
RETRY_SECONDS = 5.0
RETRY_MAX = 1800.0
GIVE_UP = dt.timedelta(hours=24)
POLL_SECONDS = 1.0
FAILING_ATTEMPTS = 3  # a queued message tried this often means its channel keeps failing
CONFIG_SECONDS = 5.0  # how often a worker reads again which channels are on
RATE_WINDOW = dt.timedelta(seconds=60)


def back_off(attempts: int, base: float = RETRY_SECONDS) -> dt.timedelta:
    """The wait after the `attempts`-th failed try: 5 s, 10 s, 20 s, … up to 30 minutes."""
    return dt.timedelta(seconds=min(base * 2 ** (attempts - 1), RETRY_MAX))


def due(now: dt.datetime):
    return leased(Message, now)


class Outbox(Worker):
    name, poll = "notify-outbox", POLL_SECONDS

    def __init__(self, db: Database, settings):
        super().__init__()
        self.db, self.settings = db, settings
        self.smtp = settings.smtp
        self.mail_from = parseaddr(settings.mail_from)[1]
        self.me = uuid.uuid4().hex[:12]  # this process's name on its claims
        self.retry_seconds = RETRY_SECONDS
        self.sent = 0  # by this process (tests, health)
        self.reminder_seconds = reminders.SCAN_SECONDS
        self.scanned_at = -1e9  # the loop's time of the last reminder scan
        self.scans = 0  # reminder scans finished by this process (tests wait on it)
        self.notices = None
        self.site: routing.Site | None = None
        self.site_at = -1e9  # the loop's time the channels were last read
        self.transport = None  # tests: an httpx transport for the adapters

    def reload(self) -> None:
        """The channels changed (an admin's save): read them again on the next round, now."""
        self.site_at = -1e9
        self.woken.set()

    async def channels(self) -> routing.Site:
        loop = asyncio.get_running_loop()
        if self.site is None or loop.time() - self.site_at >= CONFIG_SECONDS:
            async with self.db.session() as s:
                self.site = await routing.load(s, self.settings)
            self.site_at = loop.time()
        return self.site

    async def claim(self, on: list[str] | None = None) -> list[Message]:
        """Take the due messages of the channels `on` (default: email) for this process."""
        on = ["email"] if on is None else on
        now = utcnow()
        free = [c for c in on if c not in ADAPTERS or not ADAPTERS[c].rate_per_minute]
        limited = [c for c in on if c not in free]
        found: list[Message] = []
        async with self.db.begin() as s:
            if free:
                found += await self.take(s, select(Message).where(Message.channel.in_(free), due(now)), BATCH)
            for channel in limited:
                room = await self.room(s, channel, now)
                if room > 0 and len(found) < BATCH:
                    query = select(Message).where(Message.channel == channel, due(now))
                    found += await self.take(s, query, min(room, BATCH - len(found)))
            for m in found:
                m.state, m.claimed_until, m.claimed_by = "sending", now + LEASE, self.me
            return found

    async def take(self, s, query, limit: int) -> list[Message]:
        query = query.order_by(Message.next_at, Message.id)
        if self.db.backend == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list((await s.scalars(query.limit(limit))).all())

    async def room(self, s, channel: str, now: dt.datetime) -> int:
        """How many more messages `channel` may send now: its rate less what was sent in the
        last minute or is being sent."""
        if self.db.backend == "postgresql":  # the claims of a limited channel, one process after the other
            await s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(f"notify:{channel}".encode())})
        used = await s.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.channel == channel,
                or_(
                    Message.sent_at > now - RATE_WINDOW,
                    and_(Message.state == "sending", Message.claimed_until > now),
                ),
            )
        )
        return ADAPTERS[channel].rate_per_minute - (used or 0)

    async def remind(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self.scanned_at < self.reminder_seconds:
            return
        self.scanned_at = loop.time()
        if self.notices is None:
            from signage.notify.invites import Notices

            self.notices = Notices(self.settings)
        await reminders.scan(self.db, self.notices, self.settings.reminder_minutes)
        self.scans += 1

    async def round(self) -> bool:
        """Send one batch; True when more may be due."""
        site = await self.channels()
        on = site.on()
        if not on:
            return False
        await self.remind()
        claimed = await self.claim(on)
        if not claimed:
            return False
        mails = [m for m in claimed if m.channel == routing.EMAIL]
        others = [m for m in claimed if m.channel != routing.EMAIL]
        if others:
            await self.send_others(site, others)
        if mails:
            await self.send_mails(mails)
        return len(claimed) == BATCH

    async def send_others(self, site: routing.Site, claimed: list[Message]) -> None:
        """Through each message's adapter, one after the other."""
        started = asyncio.get_running_loop().time()
        async with httpx.AsyncClient(timeout=TIMEOUT, transport=self.transport, follow_redirects=False) as http:
            for i, m in enumerate(claimed):
                if self.stopping or asyncio.get_running_loop().time() - started > LEASE.total_seconds() / 2:
                    await self.release(claimed[i:])
                    return
                try:
                    await ADAPTERS[m.channel].send(
                        http, site.conf(m.channel), Outgoing(m.recipient, m.subject, m.body, m.key)
                    )
                except Exception as exc:
                    await self.failed(m, exc)
                else:
                    await self.done(m)

    async def send_mails(self, claimed: list[Message]) -> None:
        """Over one SMTP connection."""
        started = asyncio.get_running_loop().time()
        client = self.smtp.client()
        try:
            await client.connect()
        except Exception as exc:
            for m in claimed:
                await self.failed(m, exc)
            return
        try:
            for i, m in enumerate(claimed):
                if self.stopping or asyncio.get_running_loop().time() - started > LEASE.total_seconds() / 2:
                    await self.release(claimed[i:])  # their leases would run out while we are still busy
                    break
                try:
                    await client.sendmail(self.mail_from, recipients(m), m.body.encode("ascii"))
                except Exception as exc:
                    await self.failed(m, exc)
                    if not client.is_connected:
                        for rest in claimed[i + 1 :]:
                            await self.failed(rest, exc)
                        return
                else:
                    await self.done(m)
        finally:
            if client.is_connected:
                with contextlib.suppress(Exception):
                    await client.quit()

    async def done(self, m: Message) -> None:
        now = utcnow()
        async with self.db.begin() as s:
            await s.execute(
                update(Message)
                .where(Message.id == m.id, Message.claimed_by == self.me)
                .values(state="sent", sent_at=now, attempts=Message.attempts + 1, claimed_until=None, last_error="")
            )
        self.sent += 1

    async def failed(self, m: Message, exc: BaseException) -> None:
        now, attempts = utcnow(), m.attempts + 1
        error = f"{type(exc).__name__}: {exc}"[:2000]
        given_up = now - m.created_at >= GIVE_UP or isinstance(exc, Permanent)
        wait = back_off(attempts, self.retry_seconds)
        if isinstance(exc, Retry) and exc.after:
            wait = max(wait, dt.timedelta(seconds=min(exc.after, RETRY_MAX)))
        log.warning("notifications: message %s to %s on %s not sent (%s)", m.id, m.recipient, m.channel, error)
        async with self.db.begin() as s:
            took = await s.execute(
                update(Message)
                .where(Message.id == m.id, Message.claimed_by == self.me)
                .values(
                    state="failed" if given_up else "queued",
                    attempts=attempts,
                    next_at=now + wait,
                    claimed_until=None,
                    last_error=error,
                )
            )
            if given_up and took.rowcount == 1:
                await self.fall_back(s, m)

    async def fall_back(self, s, m: Message) -> None:
        """The message, failed for good, to the next channel of its chain (none: it stays failed)."""
        if not m.data:
            return
        data = json.loads(m.data)
        site = await routing.load(s, self.settings)
        tried = list(dict.fromkeys([*data.get("tried", []), m.channel]))
        found = routing.next_channel(site, m.channel, tried, data.get("contacts") or {})
        if found is None:
            return
        channel, recipient = found
        common = {
            "kind": m.kind,
            "about": m.about,
            "event_id": m.event_id,
            "user_id": m.user_id,
            "recipient": recipient,
            "locale": data.get("locale") or self.settings.default_locale,
            "variables": data.get("variables") or {},
            "contacts": data.get("contacts") or {},
            "tried": tried,
            "text": texts.Text(*data["text"]) if data.get("text") else None,
        }
        if channel == routing.EMAIL:
            name = (data.get("variables") or {}).get("name", "")
            message = await routing.plain_mail(
                s, self.settings, name=name if name != recipient else "", when=utcnow(), **common
            )
        else:
            message = await routing.short_message(s, channel=channel, **common)
        s.add(message)
        log.info("notifications: message %s given up on %s; sent by %s instead", m.id, m.channel, channel)
        self.woken.set()

    async def release(self, messages: list[Message]) -> None:
        async with self.db.begin() as s:
            await s.execute(
                update(Message)
                .where(Message.id.in_([m.id for m in messages]), Message.claimed_by == self.me)
                .values(state="queued", claimed_until=None)
            )


def recipients(m: Message) -> list[str]:
    return [address for _name, address in getaddresses([m.recipient]) if address]


async def retry(db: Database, message_id: int) -> bool:
    """An admin's retry: due now, as a queued message (a sent one stays sent)."""
    async with db.begin() as s:
        result = await s.execute(
            update(Message)
            .where(Message.id == message_id, Message.state.in_(("queued", "failed")))
            .values(state="queued", next_at=utcnow(), claimed_until=None)
        )
        return result.rowcount == 1


async def health(db: Database, settings) -> dict:
    """Per channel: on or off, what waits, and whether it keeps failing (a queued message
    tried FAILING_ATTEMPTS times, or one given up in the last day)."""
    since = utcnow() - GIVE_UP
    out: dict[str, dict] = {}
    site = await routing.read(db, settings)
    names = [routing.EMAIL, *(n for n in ADAPTERS if n in site.rows)]
    on = [n for n in names if site.is_on(n)]
    counts = {}
    if on:

        def count(condition):
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        query = (
            select(
                Message.channel,
                count(Message.state.in_(("queued", "sending"))).label("waiting"),
                count(and_(Message.state == "queued", Message.attempts >= FAILING_ATTEMPTS)).label("retrying"),
                count(and_(Message.state == "failed", Message.next_at > since)).label("failed"),
            )
            .where(Message.channel.in_(on), Message.state.in_(("queued", "sending", "failed")))
            .group_by(Message.channel)
        )
        counts = {row.channel: row for row in await db.read(query)}
    for name in names:
        if name not in on:
            out[name] = {"enabled": False}
            continue
        row = counts.get(name)
        waiting, retrying, failed = (row.waiting, row.retrying, row.failed) if row else (0, 0, 0)
        last_error = None
        if retrying or failed:
            found = await db.read_one(
                select(Message.last_error)
                .where(Message.channel == name, Message.last_error != "", Message.state.in_(("queued", "failed")))
                .order_by(Message.next_at.desc())
                .limit(1)
            )
            last_error = found.last_error if found else None
        failing = bool(retrying or failed)
        out[name] = {
            "enabled": True,
            **({"server": str(settings.smtp)} if name == routing.EMAIL else {}),
            "waiting": waiting,
            "failing": failing,
            "retrying": retrying,
            "failed_today": failed,
            **({"last_error": last_error} if failing and last_error else {}),
        }
    return out
