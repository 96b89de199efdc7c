"""What every widget type is made of, and the helpers that work on any of them."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from signage.errors import Invalid
from signage.i18n import gettext as _
from signage.i18n import lazy
from signage.templating import render_string

DataLoader = Callable[[BaseModel, Any], Awaitable[dict]]


async def no_data(options: BaseModel, db: Any) -> dict:
    return {}


async def media_item(db: Any, media_id: int | None, kind: str):
    """The media item a widget shows, or None (none chosen, deleted, or of another kind)."""
    from media.models import Media

    if media_id is None or db is None:
        return None
    async with db.session() as s:
        media = await s.get(Media, media_id)
    return media if media is not None and media.kind == kind else None


@dataclasses.dataclass(frozen=True)
class Widget:
    type: str
    label: str  # English; translated where shown
    options: type[BaseModel]
    data: DataLoader = no_data

    @property
    def template(self) -> str:
        return f"widgets/{self.type}.html"


def registry() -> dict[str, Widget]:
    from widgets import REGISTRY

    return REGISTRY


def get(widget_type: str) -> Widget:
    try:
        return registry()[widget_type]
    except (KeyError, TypeError):
        raise Invalid(_("Unknown widget type: %(type)s", type=str(widget_type)[:40]), {"field": "widget"}) from None


def validate(widget_type: str, options: Any) -> dict:
    """Options checked against the type's schema, defaults filled; Invalid with field errors."""
    widget = get(widget_type)
    if not isinstance(options, dict):
        raise Invalid(_("Widget options must be an object."), {"field": "options"})
    try:
        return widget.options.model_validate(options).model_dump(mode="json")
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]) or "options", "message": e["msg"]} for e in exc.errors()]
        raise Invalid(_("The widget options are not valid."), errors) from None


async def render(widget_type: str, options: dict, db: Any) -> str:
    """The widget's HTML. Options that no longer validate (a host taken off the allow-list,
    say) render a notice in the region rather than failing the whole screen."""
    from signage.i18n import current_locale

    widget = get(widget_type)
    try:
        opts = widget.options.model_validate(options)
    except ValidationError as exc:
        problems = [e["msg"] for e in exc.errors()]
        return render_string("widgets/_invalid.html", {"widget": widget, "problems": problems})
    ctx = {"o": opts, "locale": current_locale.get(), **(await widget.data(opts, db))}
    return render_string(widget.template, ctx)


CHOICE_LABELS = {  # what an option's value is called in the editor (English; translated where shown)
    "digital": lazy("Digital"),
    "analog": lazy("Analog"),
    "long": lazy("Long (Wednesday, 25 November 2026)"),
    "medium": lazy("Medium (25 Nov 2026)"),
    "short": lazy("Short (25/11/26)"),
    "iso": lazy("ISO (2026-11-25)"),
    "auto": lazy("The screen's language"),
    "zh_CN": lazy("Chinese"),
    "zh_cn": lazy("Chinese"),
    "en": lazy("English"),
    "contain": lazy("Fit inside"),
    "cover": lazy("Fill (crop)"),
    "left": lazy("Left"),
    "center": lazy("Centre"),
    "right": lazy("Right"),
    "metric": lazy("Metric (°C, m/s)"),
    "imperial": lazy("Imperial (°F, mph)"),
    "L": lazy("Low (7%)"),
    "M": lazy("Medium (15%)"),
    "Q": lazy("Quartile (25%)"),
    "H": lazy("High (30%)"),
}


def form_fields(widget_type: str, options: dict) -> list[dict]:
    """The fields of a type's option form, read from its schema.

    Each: {"name", "label", "kind": text|textarea|color|number|checkbox|select|media, "value", "choices",
    "labels", "media_kind"}; a media field names the kind of item it takes (image or video); a
    select's `labels` name its choices in the reader's language.
    """
    widget = get(widget_type)
    fields = []
    for name, info in widget.options.model_fields.items():
        extra = info.json_schema_extra or {}
        kind, choices = "text", []
        annotation = info.annotation
        if extra.get("kind"):
            kind = extra["kind"]
        elif annotation is bool:
            kind = "checkbox"
        elif annotation is int:
            kind = "number"
        elif getattr(annotation, "__origin__", None) is not None and str(annotation).startswith("typing.Literal"):
            kind, choices = "select", list(annotation.__args__)
        fields.append(
            {
                "name": name,
                "label": info.title or name,
                "kind": kind,
                "value": options.get(name, info.default),
                "choices": choices,
                "labels": {c: _(CHOICE_LABELS[c]) if c in CHOICE_LABELS else str(c) for c in choices},
                "media_kind": extra.get("media_kind", ""),
            }
        )
    return fields
