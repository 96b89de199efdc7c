"""Layouts: a canvas of regions, each holding a widget. Draft, then publish.

The plain-form editor lives here; the drag-and-drop editor builds on the same
routes and the same validation (`check_region`).
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

import widgets
from media.models import Media
from player.models import Screen
from playlists.models import Layout, LayoutVersion
from signage import audit
from signage.auth import route
from signage.errors import AppError, Conflict, Invalid, NotFound
from signage.i18n import gettext as _
from signage.templating import render

EDITORS = ("editor",)
PRESETS = {"1920x1080": (1920, 1080), "1080x1920": (1080, 1920), "1280x800": (1280, 800), "800x1280": (800, 1280)}


class RegionBox(BaseModel):
    x: int = Field(ge=0)
    y: int = Field(ge=0)
    w: int = Field(gt=0)
    h: int = Field(gt=0)
    z: int = Field(0, ge=0, le=1000)


def check_region(layout: Layout, box: dict, widget_type: str, options: dict) -> dict:
    try:
        b = RegionBox.model_validate(box)
    except ValidationError as exc:
        fields = [{"field": str(e["loc"][0]), "message": e["msg"]} for e in exc.errors()]
        raise Invalid(_("The region's position or size is not valid."), fields) from None
    if b.x + b.w > layout.width or b.y + b.h > layout.height:
        raise Invalid(_("The region must lie inside the %(w)sx%(h)s canvas.", w=layout.width, h=layout.height))
    return {**b.model_dump(), "widget": widget_type, "options": widgets.validate(widget_type, options)}


def form_int(form, name: str) -> int:
    try:
        return int(str(form.get(name, "")).strip())
    except ValueError:
        raise Invalid(_("%(field)s must be a whole number.", field=name), {"field": name}) from None


def form_options(form, widget_type: str) -> dict:
    options = {}
    for field in widgets.form_fields(widget_type, {}):
        raw = form.get("o." + field["name"])
        if field["kind"] == "checkbox":
            options[field["name"]] = raw is not None
        elif raw is None or raw == "":
            continue
        elif field["kind"] in ("number", "media"):
            try:
                options[field["name"]] = int(raw)
            except ValueError:
                raise Invalid(_("%(field)s must be a whole number.", field=field["name"])) from None
        else:
            options[field["name"]] = raw
    return options


async def get_layout(s, layout_id: int, lock: bool = False) -> Layout:
    layout = await s.get(Layout, layout_id, with_for_update=lock)
    if layout is None:
        raise NotFound(_("No such layout."))
    return layout


async def layouts_page(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        layouts = (await s.scalars(select(Layout).order_by(Layout.name))).all()
    return render(request, "layouts/list.html", {"layouts": layouts, "presets": PRESETS})


async def create_layout(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("name", "")).strip()
    if not name or len(name) > 200:
        raise Invalid(_("Give the layout a name (up to 200 characters)."), {"field": "name"})
    size = PRESETS.get(str(form.get("size", "1920x1080")))
    if size is None:
        raise Invalid(_("Unknown screen size."), {"field": "size"})
    async with request.app.state.db.begin() as s:
        layout = Layout(name=name, width=size[0], height=size[1], regions=[])
        s.add(layout)
    await audit.record(request, "layout.create", f"layout:{layout.id}")
    return RedirectResponse(f"/layouts/{layout.id}", status_code=303)


async def edit_page(request: Request, status_code: int = 200, error: AppError | None = None) -> Response:
    async with request.app.state.db.session() as s:
        layout = await get_layout(s, request.path_params["id"])
        media = (await s.scalars(select(Media).where(Media.kind == "image").order_by(Media.name))).all()
        versions = (
            await s.scalars(
                select(LayoutVersion).where(LayoutVersion.layout_id == layout.id).order_by(LayoutVersion.version.desc())
            )
        ).all()
    regions = [{**r, "fields": widgets.form_fields(r["widget"], r["options"])} for r in layout.regions]
    ctx = {
        "layout": layout,
        "regions": regions,
        "media": media,
        "versions": versions,
        "widget_types": widgets.REGISTRY,
        "error": error,
    }
    return render(request, "layouts/edit.html", ctx, status_code=status_code)


async def change_regions(request: Request, change) -> Response:
    """Apply `change(layout, form)` to the draft; on bad input show the page with the error."""
    form = await request.form()
    try:
        async with request.app.state.db.begin() as s:
            layout = await get_layout(s, request.path_params["id"])
            layout.regions = change(layout, form, list(layout.regions))
    except Invalid as exc:
        return await edit_page(request, status_code=400, error=exc)
    return RedirectResponse(f"/layouts/{layout.id}", status_code=303)


def find_region(regions: list, region_id: str) -> int:
    for i, r in enumerate(regions):
        if r["id"] == region_id:
            return i
    raise NotFound(_("No such region."))


async def add_region(request: Request) -> Response:
    def change(layout, form, regions):
        widget_type = str(form.get("widget", ""))
        box = {k: form_int(form, k) for k in ("x", "y", "w", "h")}
        region = check_region(layout, {**box, "z": len(regions)}, widget_type, {})
        return regions + [{"id": uuid.uuid4().hex[:8], **region}]

    return await change_regions(request, change)


async def update_region(request: Request) -> Response:
    def change(layout, form, regions):
        i = find_region(regions, request.path_params["rid"])
        old = regions[i]
        box = {k: form_int(form, k) for k in ("x", "y", "w", "h", "z")}
        regions[i] = {"id": old["id"], **check_region(layout, box, old["widget"], form_options(form, old["widget"]))}
        return regions

    return await change_regions(request, change)


async def delete_region(request: Request) -> Response:
    def change(layout, form, regions):
        i = find_region(regions, request.path_params["rid"])
        return regions[:i] + regions[i + 1 :]

    return await change_regions(request, change)


async def publish_layout(request: Request, layout_id: int) -> LayoutVersion:
    """Freeze the draft as a new version and tell every screen that shows the layout."""
    db = request.app.state.db
    async with db.begin() as s:
        layout = await get_layout(s, layout_id, lock=True)
        regions = [{**r, "options": widgets.validate(r["widget"], r["options"])} for r in layout.regions]
        media_ids = {r["options"].get("media_id") for r in regions} - {None}
        if media_ids:
            found = set((await s.scalars(select(Media.id).where(Media.id.in_(media_ids)))).all())
            if media_ids - found:
                raise Conflict(_("The layout uses media that were deleted; choose other media first."))
        latest = await s.scalar(select(func.max(LayoutVersion.version)).where(LayoutVersion.layout_id == layout.id))
        version = LayoutVersion(
            layout_id=layout.id,
            version=(latest or 0) + 1,
            published_by=request.state.user.id,
            content={"width": layout.width, "height": layout.height, "regions": regions},
        )
        s.add(version)
        layout.published_version = version.version
        screen_ids = (await s.scalars(select(Screen.id).where(Screen.layout_id == layout.id))).all()
    bus = request.app.state.bus
    for screen_id in screen_ids:
        await bus.notify(f"screen:{screen_id}", {"type": "layout", "layout_id": layout_id, "version": version.version})
    return version


async def publish(request: Request) -> Response:
    layout_id = request.path_params["id"]
    try:
        version = await publish_layout(request, layout_id)
    except AppError as exc:
        await audit.record(request, "layout.publish", f"layout:{layout_id}", result="failure", reason=exc.message)
        if "/api/" in request.url.path:
            raise
        return await edit_page(request, status_code=exc.status, error=exc)
    await audit.record(request, "layout.publish", f"layout:{layout_id}", reason=f"version {version.version}")
    if "/api/" in request.url.path:
        return JSONResponse({"layout_id": layout_id, "version": version.version}, status_code=201)
    return RedirectResponse(f"/layouts/{layout_id}", status_code=303)


async def preview(request: Request) -> Response:
    """The draft, rendered exactly as the player renders a version."""
    async with request.app.state.db.session() as s:
        layout = await get_layout(s, request.path_params["id"])
    content = {"width": layout.width, "height": layout.height, "regions": layout.regions}
    rendered = await render_content(request.app.state.db, content)
    return render(request, "layouts/preview.html", {"layout": layout, "content": rendered})


async def render_content(db, content: dict) -> dict:
    regions = []
    for r in sorted(content["regions"], key=lambda r: r.get("z", 0)):
        box = {k: r[k] for k in ("id", "x", "y", "w", "h", "z", "widget")}
        if r["widget"] == "playlist":  # contract-player.md: each item rendered by its widget
            items = [
                {k: i.get(k) for k in ("id", "widget", "duration", "transition")}
                | {"html": await widgets.render(i["widget"], i.get("options", {}), db)}
                for i in r.get("items", [])
            ]
            regions.append(box | {"loop": True, "items": items})
            continue
        regions.append(box | {"html": await widgets.render(r["widget"], r["options"], db)})
    return {"width": content["width"], "height": content["height"], "regions": regions}


async def api_layouts(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        layouts = (await s.scalars(select(Layout).order_by(Layout.id))).all()
    return JSONResponse(
        [
            {
                "id": lo.id,
                "name": lo.name,
                "width": lo.width,
                "height": lo.height,
                "published_version": lo.published_version,
                "regions": lo.regions,
            }
            for lo in layouts
        ]
    )


routes = [
    route("/layouts", layouts_page, allow=EDITORS),
    route("/layouts", create_layout, methods=["POST"], allow=EDITORS),
    route("/layouts/{id:int}", edit_page, allow=EDITORS),
    route("/layouts/{id:int}/preview", preview, allow=EDITORS),
    route("/layouts/{id:int}/regions", add_region, methods=["POST"], allow=EDITORS),
    route("/layouts/{id:int}/regions/{rid}", update_region, methods=["POST"], allow=EDITORS),
    route("/layouts/{id:int}/regions/{rid}/delete", delete_region, methods=["POST"], allow=EDITORS),
    route("/layouts/{id:int}/publish", publish, methods=["POST"], allow=EDITORS),
    route("/api/v1/layouts", api_layouts, allow=EDITORS),
    route("/api/v1/layouts/{id:int}/publish", publish, methods=["POST"], allow=EDITORS),
]
