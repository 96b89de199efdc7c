"""`/api/v1/webhooks`: subscriptions for IT admins (an OA's integrator).

POST   /api/v1/webhooks {"url", "events": ["booking.*", "room.updated"], "description"}
       → 201 {"id", "url", "events", ..., "secret": "whsec_…"}   (the secret: only here)
GET    /api/v1/webhooks, GET|PATCH|DELETE /api/v1/webhooks/{id}
POST   /api/v1/webhooks/{id}/rotate   → {"secret"}: a new one; the old one signs too for 24 h
POST   /api/v1/webhooks/{id}/test     → 202: a `webhook.test` message, queued like any other
GET    /api/v1/webhooks/{id}/deliveries → the latest deliveries, newest first
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from signage import audit, openapi, outbound
from signage.api import json_body, parse
from signage.auth import route
from signage.db import utcnow
from signage.errors import Invalid, NotFound
from signage.eventlog.log import TYPES
from signage.i18n import gettext as _
from signage.responses import JSONResponse, created
from signage.webhooks.deliveries import APPROVAL_REQUESTED, ROTATION, body_of, new_secret
from signage.webhooks.models import Delivery, Endpoint

ADMINS = ("admin",)
KNOWN = (*TYPES, APPROVAL_REQUESTED)
PREFIXES = sorted({t.split(".")[0] for t in KNOWN})
RECENT = 50
EventName = Annotated[str, Field(max_length=60)]


def check_events(events: list[str]) -> list[str]:
    """Each one `*`, a type, or `booking.*`; Invalid names the first that is none."""
    out = []
    for e in events:
        e = e.strip()
        if not (e == "*" or e in KNOWN or (e.endswith(".*") and e[:-2] in PREFIXES)):
            raise Invalid(
                _("%(event)s is not an event type (like booking.created) or a family (like booking.*).", event=e),
                {"field": "events"},
            )
        if e not in out:
            out.append(e)
    return out


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, description="http(s) URL the messages are POSTed to")
    events: list[EventName] = Field(
        min_length=1, max_length=50, description='types or families: ["booking.*", "room.updated"], ["*"]'
    )
    description: str = Field("", max_length=500)


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, max_length=2000)
    events: list[EventName] | None = Field(None, min_length=1, max_length=50)
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = Field(None, description="false pauses it; true resumes (after a 410, say)")


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    description: str
    enabled: bool
    disabled_reason: str = Field(description='why it is disabled: "410 Gone", or empty')
    rotating_until: str | None = Field(description="while set, the previous secret signs too")
    created_at: str


class WebhookCreated(WebhookOut):
    secret: str = Field(description="whsec_ + base64: sign-checking key, shown only now")


class SecretOut(BaseModel):
    secret: str


class DeliveryOut(BaseModel):
    id: int
    subscription_id: int
    message_id: str = Field(description="the webhook-id header: the event's id, the same on every try")
    event_id: str | None
    type: str
    state: str = Field(description="queued, sending, sent or failed (given up)")
    attempts: int
    created_at: str
    tried_at: str | None
    next_at: str | None = Field(description="when it is tried again (queued)")
    sent_at: str | None
    status_code: int | None = Field(description="the last answer's HTTP status")
    answer: str = Field(description="the start of the last answer's body")
    error: str


def iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t else None


def webhook_json(ep: Endpoint) -> dict:
    rotating = ep.previous_until if ep.previous_secret and ep.previous_until and ep.previous_until > utcnow() else None
    return {
        "id": ep.id,
        "url": ep.url,
        "events": list(ep.events),
        "description": ep.description,
        "enabled": ep.enabled,
        "disabled_reason": ep.disabled_reason,
        "rotating_until": iso(rotating),
        "created_at": ep.created_at.isoformat(),
    }


def delivery_json(d: Delivery) -> dict:
    return {
        "id": d.id,
        "subscription_id": d.endpoint_id,
        "message_id": d.msg_id,
        "event_id": str(d.event_id) if d.event_id is not None else None,
        "type": d.type,
        "state": d.state,
        "attempts": d.attempts,
        "created_at": d.created_at.isoformat(),
        "tried_at": iso(d.tried_at),
        "next_at": iso(d.next_at) if d.state == "queued" else None,
        "sent_at": iso(d.sent_at),
        "status_code": d.status_code,
        "answer": d.answer,
        "error": d.last_error,
    }


async def get_endpoint(s, endpoint_id: int) -> Endpoint:
    ep = await s.get(Endpoint, endpoint_id)
    if ep is None:
        raise NotFound(_("No such webhook."))
    return ep


async def create(request: Request, url: str, events: list[str], description: str) -> tuple[Endpoint, str]:
    settings = request.app.state.settings
    events = check_events(events)
    url = await outbound.checked_url(url, settings.webhook_allow_private)
    secret = new_secret()
    async with request.app.state.db.begin() as s:
        ep = Endpoint(url=url, events=events, description=description.strip(), secret=secret)
        s.add(ep)
        await s.flush()
    await audit.record(request, "webhook.create", f"webhook:{ep.id}", reason=url)
    return ep, secret


async def change(request: Request, endpoint_id: int, body: WebhookPatch) -> Endpoint:
    values = body.model_dump(exclude_none=True)
    if "url" in values:
        values["url"] = await outbound.checked_url(values["url"], request.app.state.settings.webhook_allow_private)
    if "events" in values:
        values["events"] = check_events(values["events"])
    if "description" in values:
        values["description"] = values["description"].strip()
    async with request.app.state.db.begin() as s:
        ep = await get_endpoint(s, endpoint_id)
        for k, v in values.items():
            setattr(ep, k, v)
        if values.get("enabled"):
            ep.disabled_reason = ""
    if values.get("enabled"):
        request.app.state.webhooks.wake()
    await audit.record(request, "webhook.update", f"webhook:{endpoint_id}", reason=", ".join(sorted(values)))
    return ep


async def remove(request: Request, endpoint_id: int) -> None:
    async with request.app.state.db.begin() as s:
        ep = await get_endpoint(s, endpoint_id)
        url = ep.url
        await s.delete(ep)
    await audit.record(request, "webhook.delete", f"webhook:{endpoint_id}", reason=url)


async def rotate(request: Request, endpoint_id: int) -> str:
    secret = new_secret()
    async with request.app.state.db.begin() as s:
        ep = await get_endpoint(s, endpoint_id)
        ep.previous_secret, ep.previous_until, ep.secret = ep.secret, utcnow() + ROTATION, secret
    await audit.record(request, "webhook.rotate", f"webhook:{endpoint_id}")
    return secret


async def send_test(request: Request, endpoint_id: int) -> Delivery:
    msg_id = f"test_{uuid.uuid4().hex}"
    data = {"webhook_id": endpoint_id, "message": "a test message from the signage server"}
    async with request.app.state.db.begin() as s:
        await get_endpoint(s, endpoint_id)
        d = Delivery(
            endpoint_id=endpoint_id, msg_id=msg_id, type="webhook.test", body=body_of("webhook.test", utcnow(), data)
        )
        s.add(d)
        await s.flush()
    request.app.state.webhooks.wake()
    await audit.record(request, "webhook.test", f"webhook:{endpoint_id}")
    return d


async def recent(db, endpoint_id: int, limit: int = RECENT) -> list[Delivery]:
    async with db.session() as s:
        query = select(Delivery).where(Delivery.endpoint_id == endpoint_id).order_by(Delivery.id.desc()).limit(limit)
        return list((await s.scalars(query)).all())


# ------------------------------------------------------------------ the API


async def api_create(request: Request) -> Response:
    body = parse(WebhookIn, await json_body(request))
    ep, secret = await create(request, body.url, body.events, body.description)
    return created({**webhook_json(ep), "secret": secret}, f"/api/v1/webhooks/{ep.id}")


async def api_list(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        found = (await s.scalars(select(Endpoint).order_by(Endpoint.id))).all()
    return JSONResponse([webhook_json(ep) for ep in found])


async def api_get(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        ep = await get_endpoint(s, request.path_params["id"])
    return JSONResponse(webhook_json(ep))


async def api_update(request: Request) -> Response:
    body = parse(WebhookPatch, await json_body(request))
    return JSONResponse(webhook_json(await change(request, request.path_params["id"], body)))


async def api_delete(request: Request) -> Response:
    await remove(request, request.path_params["id"])
    return Response(status_code=204)


async def api_rotate(request: Request) -> Response:
    return JSONResponse({"secret": await rotate(request, request.path_params["id"])})


async def api_test(request: Request) -> Response:
    return JSONResponse(delivery_json(await send_test(request, request.path_params["id"])), status_code=202)


async def api_deliveries(request: Request) -> Response:
    endpoint_id = request.path_params["id"]
    async with request.app.state.db.session() as s:
        await get_endpoint(s, endpoint_id)
    return JSONResponse([delivery_json(d) for d in await recent(request.app.state.db, endpoint_id)])


TAG = "webhooks"
openapi.add("post", "/api/v1/webhooks", "Subscribe a URL to events (the secret is shown only in this answer)",
            body=WebhookIn, response=WebhookCreated, status=201, tag=TAG)  # fmt: skip
openapi.add("get", "/api/v1/webhooks", "List webhook subscriptions", response=list[WebhookOut], tag=TAG)
openapi.add("get", "/api/v1/webhooks/{id}", "A webhook subscription", response=WebhookOut, tag=TAG)
openapi.add("patch", "/api/v1/webhooks/{id}", "Change a subscription (fields given only)",
            body=WebhookPatch, response=WebhookOut, tag=TAG)  # fmt: skip
openapi.add("delete", "/api/v1/webhooks/{id}", "Delete a subscription and its deliveries", status=204, tag=TAG)
openapi.add("post", "/api/v1/webhooks/{id}/rotate",
            "A new secret; the previous one signs too for 24 hours", response=SecretOut, tag=TAG)  # fmt: skip
openapi.add("post", "/api/v1/webhooks/{id}/test", "Queue a webhook.test message to the subscription",
            response=DeliveryOut, status=202, tag=TAG)  # fmt: skip
openapi.add("get", "/api/v1/webhooks/{id}/deliveries", f"The subscription's latest {RECENT} deliveries, newest first",
            response=list[DeliveryOut], tag=TAG)  # fmt: skip

routes = [
    route("/api/v1/webhooks", api_create, methods=["POST"], allow=ADMINS),
    route("/api/v1/webhooks", api_list, allow=ADMINS),
    route("/api/v1/webhooks/{id:id}", api_get, allow=ADMINS),
    route("/api/v1/webhooks/{id:id}", api_update, methods=["PATCH"], allow=ADMINS),
    route("/api/v1/webhooks/{id:id}", api_delete, methods=["DELETE"], allow=ADMINS),
    route("/api/v1/webhooks/{id:id}/rotate", api_rotate, methods=["POST"], allow=ADMINS),
    route("/api/v1/webhooks/{id:id}/test", api_test, methods=["POST"], allow=ADMINS),
    route("/api/v1/webhooks/{id:id}/deliveries", api_deliveries, allow=ADMINS),
]
