"""`/admin/notifications`: the outbox for IT admins: every message with its state,
attempts, next try and last error; filters; a retry button; whether email is on.

    GET  /admin/notifications?state=failed&kind=&channel=&recipient=li@
    POST /admin/notifications/{id}/retry        (CSRF) → due now; 303 back to the list
"""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signage import audit
from signage.auth import route
from signage.errors import Conflict, NotFound
from signage.i18n import gettext as _
from signage.notify import outbox, routing
from signage.notify.models import KINDS, LABELS, STATES, Message
from signage.notify.preferences import channel_label
from signage.responses import is_htmx
from signage.templating import render

PAGE_SIZE = 200
ADMINS = ("admin",)


def filtered(params):
    f = {k: (params.get(k) or "").strip()[:254] for k in ("state", "kind", "channel", "recipient")}
    query = select(Message)
    if f["state"] in STATES:
        query = query.where(Message.state == f["state"])
    if f["kind"] in KINDS:
        query = query.where(Message.kind == f["kind"])
    if f["channel"]:
        query = query.where(Message.channel == f["channel"])
    if f["recipient"]:
        query = query.where(func.lower(Message.recipient).contains(f["recipient"].lower()))
    return query.order_by(Message.id.desc()), f


async def outbox_page(request: Request) -> Response:
    query, f = filtered(request.query_params)
    db, settings = request.app.state.db, request.app.state.settings
    async with db.session() as s:
        messages = (await s.scalars(query.limit(PAGE_SIZE))).all()
        counts = dict((await s.execute(select(Message.state, func.count()).group_by(Message.state))).all())
    ctx = {
        "messages": messages,
        "filters": f,
        "states": STATES,
        "kinds": KINDS,
        "labels": LABELS,
        "counts": counts,
        "smtp": settings.smtp,
        "mail_from": settings.mail_from,
        "health": await outbox.health(db, settings),
        "channel_names": routing.NAMES,
        "channel_label": channel_label,
    }
    if is_htmx(request):
        return render(request, "notify/outbox.html", ctx, block="results")
    return render(request, "notify/outbox.html", ctx)


async def retry(request: Request) -> Response:
    message_id = request.path_params["id"]
    db = request.app.state.db
    async with db.session() as s:
        message = await s.get(Message, message_id)
    if message is None:
        raise NotFound(_("No such message."))
    if message.state == "sent":
        raise Conflict(_("This message was sent already; it is not sent again."))
    if not await outbox.retry(db, message_id):
        raise Conflict(_("This message is being sent now."))
    request.app.state.outbox.wake()
    await audit.record(request, "notification.retry", f"notification:{message_id}")
    return RedirectResponse("/admin/notifications", status_code=303)


routes = [
    route("/admin/notifications", outbox_page, allow=ADMINS),
    route("/admin/notifications/{id:id}/retry", retry, methods=["POST"], allow=ADMINS),
]
