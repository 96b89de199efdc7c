"""What the drag-and-drop editor calls, which is also the layouts API.

- `GET/PUT /api/v1/layouts/{id}`: the draft's regions; `?preview=1` adds each
  region's rendered widget (the editor's canvas shows the real rendering).
  A PUT replaces the whole list (the editor autosaves after every change and
  keeps undo/redo as a history of these lists); it is validated entirely
  before anything is written.
- `GET/POST /layouts/{id}/regions/{rid}/panel`: the side panel (htmx), a form
  from the widget type's option schema; errors shown inline, nothing saved.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

import widgets
from media.models import Media
from playlists import api, layouts, playing
from playlists.models import Layout, Playlist
from signage import audit
from signage.api import json_body, parse
from signage.auth import route
from signage.errors import AppError, Invalid, NotFound
from signage.i18n import gettext as _
from signage.responses import JSONResponse, created
from signage.templating import render, render_string


async def check_regions(s, layout: Layout, regions: list[api.RegionIn]) -> list[dict]:
    """Every region checked (box inside the canvas, known widget, valid options, existing playlist)."""
    out, seen = [], set()
    for i, r in enumerate(regions):
        try:
            region = layouts.check_region(layout, r.model_dump(include={"x", "y", "w", "h", "z"}), r.widget, r.options)
        except Invalid as exc:
            raise Invalid(_("Region %(n)s: %(problem)s", n=i + 1, problem=exc.message), exc.detail) from None
        if r.widget == "playlist" and await s.get(Playlist, region["options"]["playlist_id"]) is None:
            raise Invalid(_("Region %(n)s: no such playlist.", n=i + 1), [{"field": "playlist_id"}])
        region_id = r.id or uuid.uuid4().hex[:8]
        if region_id in seen:
            raise Invalid(_("Two regions have the same id: %(id)s", id=region_id))
        seen.add(region_id)
        out.append({"id": region_id, **region})
    return out


async def region_html(request: Request, region: dict) -> str:
    db = request.app.state.db
    if region["widget"] != "playlist":
        return await widgets.render(region["widget"], region["options"], db)
    async with db.session() as s:
        playlist = await s.get(Playlist, region["options"]["playlist_id"])
    if playlist is None:
        return ""
    first = next((i for i in playlist.items if i.get("enabled", True)), None)
    inner = (await playing.render_item(db, first))["html"] if first else ""
    return render_string("playlists/_region.html", {"playlist": playlist, "inner": inner})


async def layout_json(request: Request, layout: Layout, preview: bool) -> dict:
    regions = [dict(r) for r in layout.regions]
    if preview:
        for r in regions:
            r["html"] = await region_html(request, r)
    return {
        "id": layout.id,
        "name": layout.name,
        "width": layout.width,
        "height": layout.height,
        "published_version": layout.published_version,
        "regions": regions,
    }


async def list_layouts(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        rows = (await s.scalars(select(Layout).order_by(Layout.id))).all()
    return JSONResponse([await layout_json(request, lo, False) for lo in rows])


async def create_layout(request: Request) -> Response:
    body = parse(api.LayoutIn, await json_body(request))
    layout = Layout(name=body.name.strip(), width=body.width, height=body.height, regions=[])
    try:
        async with request.app.state.db.begin() as s:
            if body.regions is not None:
                layout.regions = await check_regions(s, layout, body.regions)
            elif body.template:
                layout.regions = layouts.template_regions(body.template, body.width, body.height)
            s.add(layout)
    except AppError as exc:
        await audit.record(request, "layout.create", "layout:new", result="failure", reason=exc.message)
        raise
    await audit.record(request, "layout.create", f"layout:{layout.id}")
    return created(await layout_json(request, layout, False), f"/api/v1/layouts/{layout.id}")


async def get_draft(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        layout = await layouts.get_layout(s, request.path_params["id"])
    return JSONResponse(await layout_json(request, layout, request.query_params.get("preview") == "1"))


async def put_draft(request: Request) -> Response:
    layout_id = request.path_params["id"]
    try:
        body = parse(api.DraftIn, await json_body(request))
        async with request.app.state.db.begin() as s:
            layout = await layouts.get_layout(s, layout_id, lock=True)
            layout.regions = await check_regions(s, layout, body.regions)
            if body.name is not None:
                layout.name = body.name.strip()
    except AppError as exc:
        await audit.record(request, "layout.edit", f"layout:{layout_id}", result="failure", reason=exc.message)
        raise
    await audit.record(request, "layout.edit", f"layout:{layout_id}")
    return JSONResponse(await layout_json(request, layout, request.query_params.get("preview") == "1"))


async def panel_context(request: Request, layout: Layout, region: dict, errors: dict | None = None) -> dict:
    async with request.app.state.db.session() as s:
        media = (await s.scalars(select(Media).order_by(Media.name))).all()
        playlists = (await s.scalars(select(Playlist).order_by(Playlist.name))).all()
    return {
        "layout": layout,
        "region": region,
        "fields": layouts.region_fields(region),
        "label": widgets.REGISTRY[region["widget"]].label if region["widget"] in widgets.REGISTRY else "",
        "media": media,
        "playlists": playlists,
        "errors": errors or {},
    }


async def panel(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        layout = await layouts.get_layout(s, request.path_params["id"])
    region = find(layout, request.path_params["rid"])
    return render(request, "layouts/_panel.html", await panel_context(request, layout, region))


def find(layout: Layout, region_id: str) -> dict:
    for r in layout.regions:
        if r["id"] == region_id:
            return r
    raise NotFound(_("No such region."))


async def save_panel(request: Request) -> Response:
    """The panel's form: the box and the options, checked like everything else; errors inline."""
    form = await request.form()
    layout_id, region_id = request.path_params["id"], request.path_params["rid"]
    try:
        async with request.app.state.db.begin() as s:
            layout = await layouts.get_layout(s, layout_id, lock=True)
            old = find(layout, region_id)
            box = {k: layouts.form_int(form, k) for k in ("x", "y", "w", "h", "z")}
            if old["widget"] == "playlist":
                options = {"playlist_id": layouts.form_int(form, "o.playlist_id")}
            else:
                options = layouts.form_options(form, old["widget"])
            region = {"id": region_id, **layouts.check_region(layout, box, old["widget"], options)}
            layout.regions = [region if r["id"] == region_id else r for r in layout.regions]
    except Invalid as exc:
        await audit.record(request, "layout.edit", f"layout:{layout_id}", result="failure", reason=exc.message)
        async with request.app.state.db.session() as s:
            layout = await layouts.get_layout(s, layout_id)
        attempted = {**find(layout, region_id), **{k: form.get(k) for k in ("x", "y", "w", "h", "z")}}
        attempted["options"] = {**attempted["options"], **{k[2:]: v for k, v in form.items() if k.startswith("o.")}}
        errors = field_errors(exc)
        ctx = await panel_context(request, layout, attempted, errors)
        return render(request, "layouts/_panel.html", ctx, status_code=400)
    await audit.record(request, "layout.edit", f"layout:{layout_id}")
    response = render(request, "layouts/_panel.html", await panel_context(request, layout, region))
    response.headers["HX-Trigger"] = "layout-saved"
    return response


def field_errors(exc: Invalid) -> dict:
    """{field name: message}; the message under "" when no field is named."""
    out: dict = {}
    detail = exc.detail
    items = detail if isinstance(detail, list) else [detail] if isinstance(detail, dict) else []
    for d in items:
        if isinstance(d, dict) and d.get("field"):
            out[str(d["field"])] = d.get("message") or exc.message
    out[""] = exc.message
    return out


routes = [
    route("/api/v1/layouts", list_layouts, allow=layouts.EDITORS),
    route("/api/v1/layouts", create_layout, methods=["POST"], allow=layouts.EDITORS),
    route("/api/v1/layouts/{id:id}", get_draft, allow=layouts.EDITORS),
    route("/api/v1/layouts/{id:id}", put_draft, methods=["PUT"], allow=layouts.EDITORS),
    route("/layouts/{id:id}/regions/{rid}/panel", panel, allow=layouts.EDITORS),
    route("/layouts/{id:id}/regions/{rid}/panel", save_panel, methods=["POST"], allow=layouts.EDITORS),
]
