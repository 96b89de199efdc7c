"""The widget registry (SPEC A2). One widget type, one module: its option schema,
the data it needs, and its template `widgets/templates/widgets/<type>.html`.

    validate("clock", {"timezone": "Europe/Paris"})  → {"timezone": "Europe/Paris", "hour12": False, ...}
    await render("clock", options, db)             → "<div class=\"w-clock\" ...>"

The same `render` serves the editor preview and the player.
"""

from __future__ import annotations

from widgets import clock, image, meeting_list, qrcode, room_status, text, video, waiting_room, weather, webpage
from widgets.base import Widget, form_fields, render, validate

REGISTRY: dict[str, Widget] = {
    w.type: w
    for w in (
        clock.widget,
        weather.widget,
        image.widget,
        video.widget,
        text.widget,
        qrcode.widget,
        webpage.widget,
        room_status.widget,
        meeting_list.widget,
        waiting_room.widget,
    )
}

__all__ = ["REGISTRY", "Widget", "form_fields", "render", "validate"]
