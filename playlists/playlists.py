"""Playlists: ordered media and widget items a region plays in a loop (SPEC A4).

Each item: a widget type and its options (a media item is an `image` or `video`
widget pointing at the media), a duration in seconds (null for a video: it plays
to its end), a transition, enabled or not, and optional valid-from/until
instants. Drafts until published (`playlists.publishing.publish_playlist`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

import widgets
from media.models import Media
from playlists import api, publishing
from playlists.layouts import form_options
from playlists.models import Playlist, PlaylistVersion
from signage import audit, i18n
from signage.api import json_body, parse
from signage.auth import route
from signage.errors import AppError, Invalid, NotFound
from signage.i18n import gettext as _
from signage.responses import JSONResponse, created, is_htmx
from signage.templating import render

EDITORS = ("editor",)
TRANSITIONS = ("none", "fade", "slide")
DEFAULT_SECONDS = 10


def check_item(item: api.PlaylistItemIn, n: int) -> dict:
    """One item checked: a known widget with valid options, a sensible duration and dates."""
    try:
        options = widgets.validate(item.widget, item.options)
    except Invalid as exc:
        raise Invalid(_("Item %(n)s: %(problem)s", n=n, problem=exc.message), exc.detail) from None
    if item.duration is None and item.widget != "video":
        raise Invalid(_("Item %(n)s: only a video may play without a duration.", n=n), [{"field": "duration"}])
    start, end = item.valid_from, item.valid_until
    for t in (start, end):
        if t is not None and t.tzinfo is None:
            raise Invalid(_("Item %(n)s: give times with their time zone.", n=n), [{"field": "valid_from"}])
    if start and end and end <= start:
        raise Invalid(_("Item %(n)s: “valid until” must be after “valid from”.", n=n), [{"field": "valid_until"}])
    return {
        "id": item.id or uuid.uuid4().hex[:8],
        "widget": item.widget,
        "options": options,
        "duration": item.duration,
        "transition": item.transition,
        "enabled": item.enabled,
        "valid_from": start.astimezone(dt.UTC).isoformat() if start else None,
        "valid_until": end.astimezone(dt.UTC).isoformat() if end else None,
    }


async def check_items(s, items: list[api.PlaylistItemIn]) -> list[dict]:
    out = [check_item(item, n) for n, item in enumerate(items, 1)]
    if len({i["id"] for i in out}) != len(out):
        raise Invalid(_("Two items have the same id."))
    wanted = {i["options"].get("media_id") for i in out} - {None}
    if wanted:
        found = set((await s.scalars(select(Media.id).where(Media.id.in_(wanted)))).all())
        if wanted - found:
            raise Invalid(_("An item points at media that do not exist."), [{"field": "media_id"}])
    return out


async def get_playlist(s, playlist_id: int, lock: bool = False) -> Playlist:
    playlist = await s.get(Playlist, playlist_id, with_for_update=lock)
    if playlist is None:
        raise NotFound(_("No such playlist."))
    return playlist


def playlist_json(p: Playlist) -> dict:
    return {"id": p.id, "name": p.name, "published_version": p.published_version, "items": p.items}


async def change_items(request: Request, playlist_id: int, change, action: str = "playlist.edit") -> Playlist:
    """Apply `change(items) -> items` (item dicts) to the draft after checking all of them; audited."""
    try:
        async with request.app.state.db.begin() as s:
            playlist = await get_playlist(s, playlist_id, lock=True)
            changed = change([dict(i) for i in playlist.items])
            playlist.items = await check_items(s, [parse(api.PlaylistItemIn, i, strict=False) for i in changed])
    except AppError as exc:
        await audit.record(request, action, f"playlist:{playlist_id}", result="failure", reason=exc.message)
        raise
    await audit.record(request, action, f"playlist:{playlist_id}")
    return playlist


# Pages


async def playlists_page(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        rows = (await s.scalars(select(Playlist).order_by(Playlist.name))).all()
    return render(request, "playlists/list.html", {"playlists": rows})


async def create_playlist(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("name", "")).strip()
    if not name or len(name) > 200:
        raise Invalid(_("Give the playlist a name (up to 200 characters)."), {"field": "name"})
    async with request.app.state.db.begin() as s:
        playlist = Playlist(name=name, items=[])
        s.add(playlist)
    await audit.record(request, "playlist.create", f"playlist:{playlist.id}")
    return RedirectResponse(f"/playlists/{playlist.id}", status_code=303)


async def edit_page(request: Request, status_code: int = 200, error: AppError | None = None) -> Response:
    async with request.app.state.db.session() as s:
        playlist = await get_playlist(s, request.path_params["id"])
        media = (await s.scalars(select(Media).order_by(Media.name))).all()
        versions = (
            await s.scalars(
                select(PlaylistVersion)
                .where(PlaylistVersion.playlist_id == playlist.id)
                .order_by(PlaylistVersion.version.desc())
            )
        ).all()
    names = {m.id: m.name for m in media}
    ctx = {
        "playlist": playlist,
        "items": [
            {
                **i,
                "label": item_label(i, names),
                "fields": item_fields(i),
                "valid_from_local": local_input(i.get("valid_from")),
                "valid_until_local": local_input(i.get("valid_until")),
            }
            for i in playlist.items
        ],
        "media": media,
        "versions": versions,
        "widget_types": {k: w for k, w in widgets.REGISTRY.items() if k not in ("image", "video")},
        "transitions": TRANSITIONS,
        "error": error,
    }
    if is_htmx(request) and status_code == 200:
        return render(request, "playlists/edit.html", ctx, block="items")
    return render(request, "playlists/edit.html", ctx, status_code=status_code)


def item_fields(item: dict) -> list[dict]:
    """The option fields of an item's widget (from its schema); none for an unknown type."""
    if item["widget"] not in widgets.REGISTRY:
        return []
    return widgets.form_fields(item["widget"], item["options"])


def item_label(item: dict, media_names: dict) -> str:
    media_id = item["options"].get("media_id")
    if media_id is not None:
        return media_names.get(media_id, f"#{media_id}")
    widget = widgets.REGISTRY.get(item["widget"])
    return _(widget.label) if widget else item["widget"]


async def form_change(request: Request, change) -> Response:
    try:
        await change_items(request, request.path_params["id"], change)
    except Invalid as exc:
        return await edit_page(request, status_code=400, error=exc)
    if is_htmx(request):
        return await edit_page(request)
    return RedirectResponse(f"/playlists/{request.path_params['id']}", status_code=303)


async def add_item(request: Request) -> Response:
    form = await request.form()
    media_id = str(form.get("media_id", "")).strip()
    if media_id:
        async with request.app.state.db.session() as s:
            media = await s.get(Media, int(media_id)) if media_id.isdigit() else None
        if media is None:
            return await edit_page(request, 400, Invalid(_("Choose media from the library.")))
        item = {"widget": media.kind, "options": {"media_id": media.id}}
        item["duration"] = None if media.kind == "video" else DEFAULT_SECONDS
    else:
        item = {"widget": str(form.get("widget", "")), "options": {}, "duration": DEFAULT_SECONDS}
    return await form_change(request, lambda items: items + [item])


def local_input(value: str | None) -> str:
    """An ISO instant as a `datetime-local` value in the site time zone."""
    if not value:
        return ""
    return i18n.local_time(dt.datetime.fromisoformat(value)).strftime("%Y-%m-%dT%H:%M")


def local_instant(raw: str, name: str) -> str | None:
    """A `datetime-local` value (site time zone) as an aware ISO instant."""
    if not raw:
        return None
    try:
        naive = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(_("%(field)s is not a date and time.", field=name), {"field": name}) from None
    return naive.replace(tzinfo=ZoneInfo(i18n.site_timezone.get())).isoformat()


async def update_item(request: Request) -> Response:
    form = await request.form()
    item_id = request.path_params["iid"]

    def change(items):
        i = find_item(items, item_id)
        raw = str(form.get("duration", "")).strip()
        if raw and not raw.isdigit():
            raise Invalid(_("The duration must be a whole number of seconds."), {"field": "duration"})
        widget = items[i]["widget"]
        options = {**items[i]["options"], **(form_options(form, widget) if widget in widgets.REGISTRY else {})}
        items[i] = {
            **items[i],
            "options": options,
            "duration": int(raw) if raw else None,
            "transition": str(form.get("transition", "none")),
            "enabled": form.get("enabled") is not None,
            "valid_from": local_instant(str(form.get("valid_from", "")), "valid_from"),
            "valid_until": local_instant(str(form.get("valid_until", "")), "valid_until"),
        }
        return items

    return await form_change(request, change)


def find_item(items: list, item_id: str) -> int:
    for i, item in enumerate(items):
        if item["id"] == item_id:
            return i
    raise NotFound(_("No such item."))


async def delete_item(request: Request) -> Response:
    item_id = request.path_params["iid"]
    return await form_change(request, lambda items: [i for i in items if i["id"] != item_id])


async def reorder(request: Request) -> Response:
    """The order after a drag: `order` = the item ids, comma-separated, each exactly once."""
    form = await request.form()
    order = [x for x in str(form.get("order", "")).split(",") if x]

    def change(items):
        by_id = {i["id"]: i for i in items}
        if sorted(order) != sorted(by_id):
            raise Invalid(_("The new order must list every item once."), {"field": "order"})
        return [by_id[x] for x in order]

    return await form_change(request, change)


async def publish(request: Request) -> Response:
    playlist_id = request.path_params["id"]
    is_api = "/api/" in request.url.path
    try:
        version = await publishing.publish_playlist(request, playlist_id)
    except AppError as exc:
        await audit.record(request, "playlist.publish", f"playlist:{playlist_id}", result="failure", reason=exc.message)
        if is_api:
            raise
        return await edit_page(request, status_code=exc.status, error=exc)
    await audit.record(request, "playlist.publish", f"playlist:{playlist_id}", reason=f"version {version.version}")
    if is_api:
        # the playlist shows its published version
        return created({"playlist_id": playlist_id, "version": version.version}, f"/api/v1/playlists/{playlist_id}")
    return RedirectResponse(f"/playlists/{playlist_id}", status_code=303)


# API


async def api_list(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        rows = (await s.scalars(select(Playlist).order_by(Playlist.id))).all()
    return JSONResponse([playlist_json(p) for p in rows])


async def api_get(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        playlist = await get_playlist(s, request.path_params["id"])
    return JSONResponse(playlist_json(playlist))


async def api_save(request: Request) -> Response:
    """POST creates, PUT replaces name and items; validated before anything is written."""
    playlist_id = request.path_params.get("id")
    try:
        body = parse(api.PlaylistIn, await json_body(request))
        async with request.app.state.db.begin() as s:
            playlist = await get_playlist(s, playlist_id, lock=True) if playlist_id else Playlist()
            playlist.name, playlist.items = body.name.strip(), await check_items(s, body.items)
            s.add(playlist)
    except AppError as exc:
        target = f"playlist:{playlist_id or 'new'}"
        await audit.record(request, "playlist.save", target, result="failure", reason=exc.message)
        raise
    await audit.record(request, "playlist.save", f"playlist:{playlist.id}")
    if playlist_id:
        return JSONResponse(playlist_json(playlist))
    return created(playlist_json(playlist), f"/api/v1/playlists/{playlist.id}")


routes = [
    route("/playlists", playlists_page, allow=EDITORS),
    route("/playlists", create_playlist, methods=["POST"], allow=EDITORS),
    route("/playlists/{id:id}", edit_page, allow=EDITORS),
    route("/playlists/{id:id}/items", add_item, methods=["POST"], allow=EDITORS),
    route("/playlists/{id:id}/items/{iid}", update_item, methods=["POST"], allow=EDITORS),
    route("/playlists/{id:id}/items/{iid}/delete", delete_item, methods=["POST"], allow=EDITORS),
    route("/playlists/{id:id}/order", reorder, methods=["POST"], allow=EDITORS),
    route("/playlists/{id:id}/publish", publish, methods=["POST"], allow=EDITORS),
    route("/api/v1/playlists", api_list, allow=EDITORS),
    route("/api/v1/playlists", api_save, methods=["POST"], allow=EDITORS),
    route("/api/v1/playlists/{id:id}", api_get, allow=EDITORS),
    route("/api/v1/playlists/{id:id}", api_save, methods=["PUT"], allow=EDITORS),
    route("/api/v1/playlists/{id:id}/publish", publish, methods=["POST"], allow=EDITORS),
]
