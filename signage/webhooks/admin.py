"""`/admin/webhooks`: the subscriptions for IT admins, each with its recent deliveries
(state, time, answer code, the start of the answer) and "send again".

    GET  /admin/webhooks                      the list, and a form to add one
    POST /admin/webhooks                      (CSRF) add: the page shows its secret once
    GET  /admin/webhooks/{id}                 one subscription and its deliveries (htmx: the deliveries alone)
    POST /admin/webhooks/{id}                 change URL, events, description, on/off
    POST /admin/webhooks/{id}/rotate|test|delete
    POST /admin/webhooks/deliveries/{id}/retry   send again now (same webhook-id)
"""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signage import audit
from signage.api import parse
from signage.auth import route
from signage.errors import AppError, Conflict, Invalid, NotFound
from signage.i18n import gettext as _
from signage.responses import is_htmx
from signage.templating import render
from signage.webhooks import deliveries, subscriptions
from signage.webhooks.models import LABELS, Delivery, Endpoint
from signage.webhooks.subscriptions import ADMINS, WebhookPatch, get_endpoint


def events_of(text: str) -> list[str]:
    """ "booking.*, room.updated" (commas, spaces or lines) → ["booking.*", "room.updated"]"""
    return [e for e in text.replace(",", " ").split() if e][:50]


async def list_page(request: Request, error: AppError | None = None, status_code: int = 200, form=None) -> Response:
    db = request.app.state.db
    async with db.session() as s:
        endpoints = (await s.scalars(select(Endpoint).order_by(Endpoint.id))).all()
        waiting = dict(
            (
                await s.execute(
                    select(Delivery.endpoint_id, func.count())
                    .where(Delivery.state.in_(("queued", "sending")))
                    .group_by(Delivery.endpoint_id)
                )
            ).all()
        )
    ctx = {
        "endpoints": endpoints,
        "waiting": waiting,
        "error": error,
        "form": form or {},
        "known": subscriptions.KNOWN,
        "allow_private": request.app.state.settings.webhook_allow_private,
    }
    return render(request, "webhooks/webhooks.html", ctx, status_code=status_code)


async def detail_page(
    request: Request, endpoint_id: int | None = None, secret: str = "", error: AppError | None = None, status_code=200
) -> Response:
    endpoint_id = endpoint_id or request.path_params["id"]
    db = request.app.state.db
    async with db.session() as s:
        endpoint = await get_endpoint(s, endpoint_id)
    ctx = {
        "endpoint": endpoint,
        "webhook": subscriptions.webhook_json(endpoint),
        "deliveries": await subscriptions.recent(db, endpoint_id),
        "labels": LABELS,
        "secret": secret,
        "error": error,
    }
    if is_htmx(request):
        return render(request, "webhooks/webhook.html", ctx, block="deliveries")
    return render(request, "webhooks/webhook.html", ctx, status_code=status_code)


async def create_submit(request: Request) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("url", "events", "description")}
    try:
        if len(values["url"]) > 2000 or len(values["description"]) > 500:
            raise Invalid(_("The URL or the description is too long."))
        events = events_of(values["events"])
        if not events:
            raise Invalid(_("Name at least one event type, or * for all."), {"field": "events"})
        ep, secret = await subscriptions.create(request, values["url"], events, values["description"])
    except AppError as exc:
        await audit.record(request, "webhook.create", "", result="failure", reason=exc.message)
        return await list_page(request, exc, exc.status, values)
    return await detail_page(request, ep.id, secret=secret, status_code=201)


async def update_submit(request: Request) -> Response:
    endpoint_id = request.path_params["id"]
    form = await request.form()
    try:
        body = parse(
            WebhookPatch,
            {
                "url": str(form.get("url", "")),
                "events": events_of(str(form.get("events", ""))) or None,
                "description": str(form.get("description", "")),
                "enabled": form.get("enabled") is not None,
            },
        )
        await subscriptions.change(request, endpoint_id, body)
    except (Invalid, Conflict) as exc:
        return await detail_page(request, endpoint_id, error=exc, status_code=exc.status)
    return RedirectResponse(f"/admin/webhooks/{endpoint_id}", status_code=303)


async def rotate_submit(request: Request) -> Response:
    endpoint_id = request.path_params["id"]
    secret = await subscriptions.rotate(request, endpoint_id)
    return await detail_page(request, endpoint_id, secret=secret)


async def test_submit(request: Request) -> Response:
    endpoint_id = request.path_params["id"]
    await subscriptions.send_test(request, endpoint_id)
    return RedirectResponse(f"/admin/webhooks/{endpoint_id}", status_code=303)


async def delete_submit(request: Request) -> Response:
    await subscriptions.remove(request, request.path_params["id"])
    return RedirectResponse("/admin/webhooks", status_code=303)


async def retry_submit(request: Request) -> Response:
    delivery_id = request.path_params["id"]
    db = request.app.state.db
    async with db.session() as s:
        d = await s.get(Delivery, delivery_id)
    if d is None:
        raise NotFound(_("No such delivery."))
    if not await deliveries.send_again(db, delivery_id):
        raise Conflict(_("This message is being sent now."))
    request.app.state.webhooks.wake()
    await audit.record(request, "webhook.send_again", f"webhook_delivery:{delivery_id}")
    return RedirectResponse(f"/admin/webhooks/{d.endpoint_id}", status_code=303)


routes = [
    route("/admin/webhooks", list_page, allow=ADMINS),
    route("/admin/webhooks", create_submit, methods=["POST"], allow=ADMINS),
    route("/admin/webhooks/{id:id}", detail_page, allow=ADMINS),
    route("/admin/webhooks/{id:id}", update_submit, methods=["POST"], allow=ADMINS),
    route("/admin/webhooks/{id:id}/rotate", rotate_submit, methods=["POST"], allow=ADMINS),
    route("/admin/webhooks/{id:id}/test", test_submit, methods=["POST"], allow=ADMINS),
    route("/admin/webhooks/{id:id}/delete", delete_submit, methods=["POST"], allow=ADMINS),
    route("/admin/webhooks/deliveries/{id:id}/retry", retry_submit, methods=["POST"], allow=ADMINS),
]
