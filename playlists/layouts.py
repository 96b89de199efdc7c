"""Layouts: a canvas of regions, each holding a widget or a playlist. Draft, then publish.

The pages live here: the list (new from a size and a template, duplicate), the
drag-and-drop editor page, and the plain forms (exact values, work without
script). The JSON endpoints the editor script calls are in `playlists.editor`;
all of them validate regions with `check_region`.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

import widgets
from media.models import Media
from playlists import playing, publishing
from playlists.models import Layout, LayoutVersion, Playlist
from signage import audit
from signage.api import Id
from signage.auth import MAX_ID, route
from signage.errors import AppError, Invalid, NotFound
from signage.i18n import gettext as _
from signage.i18n import lazy
from signage.responses import created
from signage.templating import render

EDITORS = ("editor",)
PRESETS = {"1920x1080": (1920, 1080), "1080x1920": (1080, 1920), "1280x800": (1280, 800), "800x1280": (800, 1280)}
MAX_SIDE = 7680
# Starting points: each region as fractions of the canvas (x, y, w, h) and a widget type.
TEMPLATES = {
    # A door display: the room's status large; a clock and the room's day beside it (choose the room).
    "door": (
        lazy("Door display"),
        "1280x800",
        [(0, 0, 0.7, 1, "room_status"), (0.7, 0, 0.3, 0.375, "clock"), (0.7, 0.375, 0.3, 0.625, "meeting_list")],
    ),
    # A lobby board: every room's meetings under a clock, an image beside them.
    "lobby": (
        lazy("Lobby board"),
        "1920x1080",
        [(0, 0, 1, 0.15, "clock"), (0, 0.15, 0.7, 0.85, "meeting_list"), (0.7, 0.15, 0.3, 0.85, "image")],
    ),
    "fullscreen": (lazy("Full-screen media"), "1920x1080", [(0, 0, 1, 1, "image")]),
    "poster": (lazy("Portrait poster"), "1080x1920", [(0, 0, 1, 0.8, "image"), (0, 0.8, 1, 0.2, "clock")]),
}


class PlaylistOptions(BaseModel):
    model_config = {"extra": "forbid"}

    playlist_id: Id


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
    if widget_type == "playlist":
        try:
            options = PlaylistOptions.model_validate(options).model_dump()
        except ValidationError:
            raise Invalid(_("Choose a playlist for this region."), [{"field": "playlist_id"}]) from None
    else:
        options = widgets.validate(widget_type, options)
    return {**b.model_dump(), "widget": widget_type, "options": options}


def template_regions(key: str, width: int, height: int) -> list[dict]:
    """The regions of a starting template on a canvas of that size (unknown widget types left out)."""
    out = []
    for fx, fy, fw, fh, widget_type in TEMPLATES[key][2] if key in TEMPLATES else []:
        if widget_type not in widgets.REGISTRY:
            continue
        box = {"x": round(fx * width), "y": round(fy * height), "w": round(fw * width), "h": round(fh * height)}
        box["w"], box["h"] = min(box["w"], width - box["x"]), min(box["h"], height - box["y"])
        out.append({"id": uuid.uuid4().hex[:8], **box, "z": len(out), "widget": widget_type, "options": {}})
    return [{**r, "options": widgets.validate(r["widget"], {})} for r in out]


def canvas_size(form, template: str = "") -> tuple[int, int]:
    """The size chosen in the form; none chosen: the template's own size, else 1920x1080."""
    key = str(form.get("size") or (TEMPLATES[template][1] if template else "1920x1080"))
    if key == "custom":
        width, height = form_int(form, "width"), form_int(form, "height")
        if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
            raise Invalid(_("Width and height must be between 1 and %(max)s pixels.", max=MAX_SIDE), {"field": "width"})
        return width, height
    if key not in PRESETS:
        raise Invalid(_("Unknown screen size."), {"field": "size"})
    return PRESETS[key]


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


get_layout = publishing.get_layout


async def layouts_page(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        layouts = (await s.scalars(select(Layout).order_by(Layout.name))).all()
    ctx = {"layouts": layouts, "presets": PRESETS, "templates": TEMPLATES}
    return render(request, "layouts/list.html", ctx)


async def create_layout(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("name", "")).strip()
    if not name or len(name) > 200:
        raise Invalid(_("Give the layout a name (up to 200 characters)."), {"field": "name"})
    template = str(form.get("template", ""))
    if template and template not in TEMPLATES:
        raise Invalid(_("Unknown template."), {"field": "template"})
    width, height = canvas_size(form, template)
    async with request.app.state.db.begin() as s:
        layout = Layout(name=name, width=width, height=height, regions=template_regions(template, width, height))
        s.add(layout)
    await audit.record(request, "layout.create", f"layout:{layout.id}", reason=template)
    return RedirectResponse(f"/layouts/{layout.id}", status_code=303)


async def duplicate(request: Request) -> Response:
    async with request.app.state.db.begin() as s:
        source = await get_layout(s, request.path_params["id"])
        copy = Layout(
            name=_("%(name)s (copy)", name=source.name)[:200],
            width=source.width,
            height=source.height,
            regions=[{**r, "id": uuid.uuid4().hex[:8]} for r in source.regions],
        )
        s.add(copy)
    await audit.record(request, "layout.duplicate", f"layout:{copy.id}", reason=f"from layout:{source.id}")
    return RedirectResponse(f"/layouts/{copy.id}", status_code=303)


def region_fields(region: dict) -> list[dict]:
    if region["widget"] == "playlist":
        return []
    return widgets.form_fields(region["widget"], region["options"])


async def edit_page(request: Request, status_code: int = 200, error: AppError | None = None) -> Response:
    async with request.app.state.db.session() as s:
        layout = await get_layout(s, request.path_params["id"])
        media = (await s.scalars(select(Media).order_by(Media.name))).all()
        playlists = (await s.scalars(select(Playlist).order_by(Playlist.name))).all()
        versions = (
            await s.scalars(
                select(LayoutVersion).where(LayoutVersion.layout_id == layout.id).order_by(LayoutVersion.version.desc())
            )
        ).all()
    ctx = {
        "layout": layout,
        "regions": [{**r, "fields": region_fields(r)} for r in layout.regions],
        "media": media,
        "playlists": playlists,
        "versions": versions,
        "widget_types": widgets.REGISTRY,
        "labels": {k: _(w.label) for k, w in widgets.REGISTRY.items()} | {"playlist": _("Playlist")},
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
        await audit.record(
            request, "layout.edit", f"layout:{request.path_params['id']}", result="failure", reason=exc.message
        )
        return await edit_page(request, status_code=400, error=exc)
    await audit.record(request, "layout.edit", f"layout:{layout.id}")
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
        options = {"playlist_id": form_int(form, "playlist_id")} if widget_type == "playlist" else {}
        region = check_region(layout, {**box, "z": len(regions)}, widget_type, options)
        return regions + [{"id": uuid.uuid4().hex[:8], **region}]

    return await change_regions(request, change)


async def update_region(request: Request) -> Response:
    def change(layout, form, regions):
        i = find_region(regions, request.path_params["rid"])
        old = regions[i]
        box = {k: form_int(form, k) for k in ("x", "y", "w", "h", "z")}
        if old["widget"] == "playlist":
            options = {"playlist_id": form_int(form, "o.playlist_id")}
        else:
            options = form_options(form, old["widget"])
        regions[i] = {"id": old["id"], **check_region(layout, box, old["widget"], options)}
        return regions

    return await change_regions(request, change)


async def delete_region(request: Request) -> Response:
    def change(layout, form, regions):
        i = find_region(regions, request.path_params["rid"])
        return regions[:i] + regions[i + 1 :]

    return await change_regions(request, change)


async def publish(request: Request) -> Response:
    """Publish the draft, or with `version` (form or JSON) roll back to that earlier version."""
    layout_id = request.path_params["id"]
    api = "/api/" in request.url.path
    action = "layout.rollback" if request.url.path.endswith("/rollback") else "layout.publish"
    try:
        back_to = await rollback_target(request, api) if action == "layout.rollback" else None
        version = await publishing.publish_layout(request, layout_id, rollback_to=back_to)
    except AppError as exc:
        await audit.record(request, action, f"layout:{layout_id}", result="failure", reason=exc.message)
        if api:
            raise
        return await edit_page(request, status_code=exc.status, error=exc)
    reason = f"version {version.version}" + (f" (content of version {back_to})" if back_to else "")
    await audit.record(request, action, f"layout:{layout_id}", reason=reason)
    if api:
        # the layout shows its published version
        return created({"layout_id": layout_id, "version": version.version}, f"/api/v1/layouts/{layout_id}")
    return RedirectResponse(f"/layouts/{layout_id}", status_code=303)


async def rollback_target(request: Request, api: bool) -> int:
    if api:
        from signage.api import json_body

        raw = (await json_body(request)).get("version")
    else:
        raw = (await request.form()).get("version")
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():  # a form's field
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= MAX_ID:
        raise Invalid(_("Say which version to roll back to."), {"field": "version"})
    return raw


async def preview(request: Request) -> Response:
    """The draft, rendered exactly as the player renders a version."""
    async with request.app.state.db.session() as s:
        layout = await get_layout(s, request.path_params["id"])
    content = {"width": layout.width, "height": layout.height, "regions": layout.regions}
    rendered, _change = await playing.render_content(request.app.state.db, content)
    return render(request, "layouts/preview.html", {"layout": layout, "content": rendered})


routes = [
    route("/layouts", layouts_page, allow=EDITORS),
    route("/layouts", create_layout, methods=["POST"], allow=EDITORS),
    route("/layouts/{id:id}", edit_page, allow=EDITORS),
    route("/layouts/{id:id}/preview", preview, allow=EDITORS),
    route("/layouts/{id:id}/duplicate", duplicate, methods=["POST"], allow=EDITORS),
    route("/layouts/{id:id}/regions", add_region, methods=["POST"], allow=EDITORS),
    route("/layouts/{id:id}/regions/{rid}", update_region, methods=["POST"], allow=EDITORS),
    route("/layouts/{id:id}/regions/{rid}/delete", delete_region, methods=["POST"], allow=EDITORS),
    route("/layouts/{id:id}/publish", publish, methods=["POST"], allow=EDITORS),
    route("/layouts/{id:id}/rollback", publish, methods=["POST"], allow=EDITORS),
    route("/api/v1/layouts/{id:id}/publish", publish, methods=["POST"], allow=EDITORS),
    route("/api/v1/layouts/{id:id}/rollback", publish, methods=["POST"], allow=EDITORS),
]
