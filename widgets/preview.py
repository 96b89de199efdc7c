"""The widget preview: pick a type, set its options, see it rendered live.

`GET /widgets/preview?widget=clock` shows the form of that type's option schema;
the form asks `GET /widgets/preview/render?widget=…&o.<option>=…` (htmx, on every
change) and shows the HTML the player would show, or the option errors.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

import widgets
from media.models import Media
from signage.auth import route
from signage.errors import Invalid
from signage.templating import render

EDITORS = ("editor",)


def options_from(params, widget_type: str) -> dict:
    """The options a form sent (`o.<name>` fields), as the schema will read them."""
    options: dict = {}
    for field in widgets.form_fields(widget_type, {}):
        raw = params.get("o." + field["name"])
        if field["kind"] == "checkbox":
            options[field["name"]] = raw is not None and raw != ""
        elif raw is None or (
            raw == "" and field["kind"] in ("number", "media", "text") and field["value"] in (None, "")
        ):
            continue
        else:
            options[field["name"]] = raw
    return options


async def preview_page(request: Request) -> Response:
    widget_type = request.query_params.get("widget") or "clock"
    widgets.base.get(widget_type)
    options = widgets.validate(widget_type, {})
    async with request.app.state.db.session() as s:
        media = (await s.scalars(select(Media).where(Media.status == "ready").order_by(Media.name))).all()
    ctx = {
        "widget_type": widget_type,
        "types": widgets.REGISTRY,
        "fields": widgets.form_fields(widget_type, options),
        "media": media,
        "html": await widgets.render(widget_type, options, request.app.state.db),
    }
    return render(request, "widgets/preview.html", ctx)


async def preview_render(request: Request) -> Response:
    widget_type = request.query_params.get("widget") or ""
    try:
        options = widgets.validate(widget_type, options_from(request.query_params, widget_type))
    except Invalid as exc:
        return render(request, "widgets/preview.html", {"error": exc}, status_code=200, block="rendered_error")
    html = await widgets.render(widget_type, options, request.app.state.db)
    return render(request, "widgets/preview.html", {"html": html, "options": options}, block="rendered")


routes = [
    route("/widgets/preview", preview_page, allow=EDITORS),
    route("/widgets/preview/render", preview_render, allow=EDITORS),
]
