"""Events → deliveries (the `webhooks` consumer), and the worker that sends them.

    dispatcher.follow("webhooks", deliveries.consumer(sender.wake))
    sender = Sender(db, settings); await sender.start()       # in every process

The consumer runs inside the event log's delivery transaction: the deliveries it queues
commit with the consumer's position, so each event becomes one delivery per matching
subscription, exactly once. A booking created pending in a room whose approval is
"external" is also sent as `booking.approval_requested`: the OA answers through the API.

A message follows Standard Webhooks 1.0: the body `{"type", "timestamp", "data"}`, and the
headers `webhook-id` (the event's id, the same on every try), `webhook-timestamp` (Unix
seconds of this try) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">` by the `standardwebhooks` library; during a rotation the old
secret's signature follows, space-separated).

The worker, like the notification outbox (`signage.notify.outbox`): a round claims, per
subscription, its oldest unsent delivery and the due ones after it (a run, at most BATCH),
leasing them for LEASE (`claimed_until`, `claimed_by`; PostgreSQL `FOR UPDATE SKIP
LOCKED`). A subscription whose oldest delivery is leased by another process, or waits for
its retry, is skipped: its events leave in order. Runs of different subscriptions go out
side by side; one run's messages one after the other. A 2xx answer is success; anything
else, a timeout (TIMEOUT) or a refused address is a failure, retried after 5 s, 5 min,
30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (SCHEDULE; a `Retry-After` answer sets the
wait), then given up (failed). `410 Gone` disables the subscription. A process that dies
mid-run leaves leases that run out, and the message goes again with the same webhook-id:
at least once, never lost.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email.utils
import json
import logging
import secrets
import uuid
from urllib.parse import urlsplit

import httpx
from sqlalchemy import event as orm_event
from sqlalchemy import func, or_, select, update
from standardwebhooks.webhooks import Webhook

from signage import outbound
from signage.db import Database, utcnow
from signage.periodic import Worker, leased
from signage.webhooks.models import Delivery, Endpoint

log = logging.getLogger("signage.webhooks")

SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)  # seconds before each retry
TIMEOUT = 15.0
BATCH = 50
LEASE = dt.timedelta(seconds=300)
POLL_SECONDS = 1.0
ANSWER_CHARS = 500  # how much of an answer's body is kept
ROTATION = dt.timedelta(hours=24)  # the old secret signs too this long after a rotation
APPROVAL_REQUESTED = "booking.approval_requested"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def matches(patterns: list[str], kind: str) -> bool:
    """`["booking.*"]` matches booking.created; `["*"]` everything; else the exact type."""
    return any(p == "*" or p == kind or (p.endswith(".*") and kind.startswith(p[:-1])) for p in patterns)


def body_of(kind: str, at: dt.datetime, data: dict) -> str:
    return json.dumps({"type": kind, "timestamp": at.isoformat(), "data": data}, ensure_ascii=False)


def asks_approval(event) -> bool:
    return event.type == "booking.created" and (event.data or {}).get("status") == "pending"


async def external_rooms(s, events) -> set[int]:
    """The rooms of these pending bookings whose approval is external (an OA's)."""
    from booking_api.models import Room

    ids = {e.data.get("room_id") for e in events if asks_approval(e)}
    if not ids:
        return set()
    return set(await s.scalars(select(Room.id).where(Room.id.in_(ids), Room.approval == "external")))


def types_of(event, external: set[int]) -> list[tuple[str, str]]:
    """(webhook type, webhook-id) the event is sent as."""
    out = [(event.type, str(event.id))]
    if asks_approval(event) and event.data.get("room_id") in external:
        out.append((APPROVAL_REQUESTED, f"{event.id}-approval"))
    return out


def consumer(wake):
    async def handle(s, events) -> None:
        endpoints = (await s.scalars(select(Endpoint).where(Endpoint.enabled).order_by(Endpoint.id))).all()
        if not endpoints:
            return
        external = await external_rooms(s, events)
        rows = []
        for e in events:
            for kind, msg_id in types_of(e, external):
                body = None
                for ep in endpoints:
                    if matches(ep.events, kind):
                        body = body or body_of(kind, e.at, e.data)
                        rows.append(Delivery(endpoint_id=ep.id, msg_id=msg_id, event_id=e.id, type=kind, body=body))
        if rows:
            s.add_all(rows)
            await s.flush()
            orm_event.listen(s.sync_session, "after_commit", lambda _session: wake(), once=True)

    return handle


def signature(endpoint: Endpoint, msg_id: str, at: dt.datetime, body: str) -> str:
    """`v1,<sig>`, and the old secret's after it while a rotation lasts."""
    found = [Webhook(endpoint.secret).sign(msg_id, at, body)]
    if endpoint.previous_secret and endpoint.previous_until and endpoint.previous_until > utcnow():
        found.append(Webhook(endpoint.previous_secret).sign(msg_id, at, body))
    return " ".join(found)


def headers_of(endpoint: Endpoint, d: Delivery, at: dt.datetime) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "signage-webhooks/1",
        "webhook-id": d.msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature(endpoint, d.msg_id, at, d.body),
    }


def retry_after(response: httpx.Response | None) -> float | None:
    """Seconds a `Retry-After` header asks for (a number or an HTTP date), at most a day."""
    value = response.headers.get("retry-after", "").strip() if response is not None else ""
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (email.utils.parsedate_to_datetime(value) - dt.datetime.now(dt.UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), 86400.0)


def due(now: dt.datetime):
    return leased(Delivery, now)


class Sender(Worker):
    name, poll = "webhooks", POLL_SECONDS

    def __init__(self, db: Database, settings):
        super().__init__()
        self.db, self.settings = db, settings
        self.me = uuid.uuid4().hex[:12]
        self.http: httpx.AsyncClient | None = None
        self.schedule = SCHEDULE  # tests shorten it
        self.sent = 0  # by this process

    async def start(self) -> None:
        self.http = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False)
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        if self.http is not None:
            await self.http.aclose()

    async def claim(self) -> list[tuple[Endpoint, list[Delivery]]]:
        """Per enabled subscription, the run of due deliveries from its oldest unsent one."""
        now = utcnow()
        runs = []
        async with self.db.begin() as s:
            heads = (
                await s.execute(
                    select(Delivery.endpoint_id, func.min(Delivery.id))
                    .join(Endpoint, Endpoint.id == Delivery.endpoint_id)
                    .where(Endpoint.enabled, Delivery.state.in_(("queued", "sending")))
                    .group_by(Delivery.endpoint_id)
                )
            ).all()
            for endpoint_id, head in heads:
                query = (
                    select(Delivery)
                    .where(Delivery.endpoint_id == endpoint_id, Delivery.id >= head)
                    .where(Delivery.state.in_(("queued", "sending")))
                    .order_by(Delivery.id)
                    .limit(BATCH)
                )
                if self.db.backend == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                found = (await s.scalars(query)).all()
                if not found or found[0].id != head:
                    continue  # its oldest is locked by another process: the others wait behind it
                run = []
                for d in found:
                    if not (d.next_at <= now and (d.claimed_until is None or d.claimed_until < now)):
                        break  # waiting for its retry, or leased: nothing after it goes first
                    run.append(d)
                if not run:
                    continue
                for d in run:
                    d.state, d.claimed_until, d.claimed_by = "sending", now + LEASE, self.me
                runs.append((await s.get(Endpoint, endpoint_id), run))
            for endpoint, _run in runs:
                s.expunge(endpoint)
        return runs

    async def round(self) -> bool:
        """Send one run per subscription; True when more may be due."""
        runs = await self.claim()
        if not runs:
            return False
        await asyncio.gather(*(self.send_run(endpoint, run) for endpoint, run in runs))
        return any(len(run) == BATCH for _endpoint, run in runs)

    async def send_run(self, endpoint: Endpoint, run: list[Delivery]) -> None:
        started = asyncio.get_running_loop().time()
        try:
            await outbound.check_host(endpoint.url, self.settings.webhook_allow_private)
        except outbound.Refused as exc:
            await self.failed(run[0], None, str(exc))
            await self.release(run[1:])
            return
        for i, d in enumerate(run):
            if self.stopping or asyncio.get_running_loop().time() - started > LEASE.total_seconds() / 2:
                await self.release(run[i:])
                return
            at = utcnow()
            try:
                response = await self.http.post(
                    endpoint.url, content=d.body.encode(), headers=headers_of(endpoint, d, at)
                )
            except httpx.TimeoutException:
                ok = await self.failed(d, None, f"no answer within {TIMEOUT:g} s")
            except httpx.HTTPError as exc:
                ok = await self.failed(d, None, f"{type(exc).__name__}: {exc}")
            else:
                if 200 <= response.status_code < 300:
                    await self.done(d, response)
                    continue
                if response.status_code == 410:
                    await self.gone(endpoint, d, response)
                    ok = False
                else:
                    ok = await self.failed(d, response, f"HTTP {response.status_code}")
            if not ok:  # the rest wait behind it: their order holds
                await self.release(run[i + 1 :])
                return

    async def done(self, d: Delivery, response: httpx.Response) -> None:
        now = utcnow()
        async with self.db.begin() as s:
            await s.execute(
                update(Delivery)
                .where(Delivery.id == d.id, Delivery.claimed_by == self.me)
                .values(
                    state="sent",
                    sent_at=now,
                    tried_at=now,
                    attempts=Delivery.attempts + 1,
                    claimed_until=None,
                    status_code=response.status_code,
                    answer=response.text[:ANSWER_CHARS],
                    last_error="",
                )
            )
        self.sent += 1

    async def failed(self, d: Delivery, response: httpx.Response | None, error: str) -> bool:
        """Recorded, and queued again after its wait (or given up); False: the run stops."""
        now, attempts = utcnow(), d.attempts + 1
        wait = retry_after(response)
        if wait is None and attempts <= len(self.schedule):
            wait = self.schedule[attempts - 1]
        given_up = attempts > len(self.schedule)
        log.warning("webhooks: delivery %s (%s) failed: %s", d.id, d.type, error)
        async with self.db.begin() as s:
            await s.execute(
                update(Delivery)
                .where(Delivery.id == d.id, Delivery.claimed_by == self.me)
                .values(
                    state="failed" if given_up else "queued",
                    attempts=attempts,
                    tried_at=now,
                    next_at=now + dt.timedelta(seconds=wait or 0),
                    claimed_until=None,
                    status_code=response.status_code if response is not None else None,
                    answer=response.text[:ANSWER_CHARS] if response is not None else "",
                    last_error=error[:2000],
                )
            )
        return False

    async def gone(self, endpoint: Endpoint, d: Delivery, response: httpx.Response) -> None:
        """`410 Gone`: the receiver wants no more; the subscription is disabled."""
        now = utcnow()
        log.warning(
            "webhooks: %s answered 410 Gone: subscription %s disabled", urlsplit(endpoint.url).hostname, endpoint.id
        )
        async with self.db.begin() as s:
            await s.execute(
                update(Delivery)
                .where(Delivery.id == d.id, Delivery.claimed_by == self.me)
                .values(
                    state="failed",
                    attempts=Delivery.attempts + 1,
                    tried_at=now,
                    claimed_until=None,
                    status_code=410,
                    answer=response.text[:ANSWER_CHARS],
                    last_error="410 Gone: the subscription was disabled",
                )
            )
            await s.execute(
                update(Endpoint)
                .where(Endpoint.id == endpoint.id)
                .values(enabled=False, disabled_reason="410 Gone", updated_at=now)
            )

    async def release(self, run: list[Delivery]) -> None:
        if not run:
            return
        async with self.db.begin() as s:
            await s.execute(
                update(Delivery)
                .where(Delivery.id.in_([d.id for d in run]), Delivery.claimed_by == self.me)
                .values(state="queued", claimed_until=None)
            )


async def send_again(db: Database, delivery_id: int) -> bool:
    """An admin's "send again": due now, whatever its state (same webhook-id, so a receiver
    that has it already can tell); False while a process is sending it."""
    now = utcnow()
    async with db.begin() as s:
        result = await s.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                or_(Delivery.state != "sending", Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
            )
            .values(state="queued", next_at=now, claimed_until=None)
        )
        return result.rowcount == 1
