"""The in-product channel: each user's notices, a bell with the unread count (live), and the
list at `/notifications` (on phones `/m/notifications`, booking_api/mine/phone.py).

    inbox.add(s, user_id, "invitation", "booking:41", "Invitation: Budget (…)")   # with the change's mails
    told(s, [user_id])        # after that transaction commits, the user's pages hear `inbox`

    GET  /notifications            the list, newest first (unread ones marked)
    GET  /notifications/bell       the bell alone (htmx; refreshed when the `inbox` topic changes)
    GET  /notifications/{id}       marks it read, then goes to what it is about
    POST /notifications/read       (CSRF) marks them all read
"""

from __future__ import annotations

import asyncio

from sqlalchemy import event as orm_event
from sqlalchemy import func, select, update
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from signage import clock, topics
from signage.auth import SIGNED_IN, route
from signage.errors import NotFound
from signage.i18n import gettext as _
from signage.notify.models import LABELS, Notice
from signage.responses import is_htmx
from signage.templating import render

LIST = 100
_tasks: set = set()  # the announcements under way (kept from the garbage collector)


def add(s, user_id: int, kind: str, about: str, title: str) -> None:
    link = f"/bookings/{about.removeprefix('booking:')}" if about.startswith("booking:") else ""
    if about.startswith("service_call:"):
        link = "/desk"
    s.add(Notice(user_id=user_id, kind=kind, about=about, title=title[:300], link=link))
    s.info.setdefault("told", set()).add(user_id)


def told(s, bus) -> None:
    """Once the session's transaction commits, tell the users it wrote notices for."""
    if not s.info.get("told") or s.info.get("telling"):
        return
    s.info["telling"] = True

    def after(session) -> None:
        ids = session.info.pop("told", set())
        session.info.pop("telling", None)
        task = asyncio.get_running_loop().create_task(bus.notify_many(topics.inbox_changed(ids)))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)

    orm_event.listen(s.sync_session, "after_commit", after, once=True)


async def unread(s, user_id: int) -> int:
    return await s.scalar(
        select(func.count()).select_from(Notice).where(Notice.user_id == user_id, Notice.read_at.is_(None))
    )


async def latest(s, user_id: int, limit: int = LIST) -> list[Notice]:
    query = select(Notice).where(Notice.user_id == user_id).order_by(Notice.id.desc()).limit(limit)
    return list((await s.scalars(query)).all())


async def notices_page(request: Request) -> Response:
    user = request.state.user
    async with request.app.state.db.session() as s:
        ctx = {"notices": await latest(s, user.id), "unread": await unread(s, user.id), "labels": LABELS}
    if is_htmx(request):
        return render(request, "notify/notices.html", ctx, block="list")
    return render(request, "notify/notices.html", ctx)


async def bell(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        count = await unread(s, request.state.user.id)
    return render(request, "notify/_bell.html", {"unread": count})


async def open_notice(request: Request) -> Response:
    user = request.state.user
    async with request.app.state.db.begin() as s:
        notice = await s.get(Notice, request.path_params["id"])
        if notice is None or notice.user_id != user.id:
            raise NotFound(_("No such notice."))
        if notice.read_at is None:
            notice.read_at = clock.now()
            s.info.setdefault("told", set()).add(user.id)
            told(s, request.app.state.bus)
        link = notice.link or "/notifications"
    return RedirectResponse(link, status_code=303)


async def read_all(request: Request) -> Response:
    user = request.state.user
    async with request.app.state.db.begin() as s:
        await s.execute(
            update(Notice).where(Notice.user_id == user.id, Notice.read_at.is_(None)).values(read_at=clock.now())
        )
        s.info.setdefault("told", set()).add(user.id)
        told(s, request.app.state.bus)
    back = request.headers.get("referer", "")
    return RedirectResponse("/m/notifications" if "/m/" in back else "/notifications", status_code=303)


routes = [
    route("/notifications", notices_page, allow=SIGNED_IN),
    route("/notifications/bell", bell, allow=SIGNED_IN),
    route("/notifications/read", read_all, methods=["POST"], allow=SIGNED_IN),
    route("/notifications/{id:id}", open_notice, allow=SIGNED_IN),
]
