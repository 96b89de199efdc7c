"""Text, or a scrolling ticker: escaped, with simple formatting.

**bold**  *italic*  and line breaks; nothing else: every other character is shown as typed.

formatted("<b>Hi</b> **there**") → "&lt;b&gt;Hi&lt;/b&gt; <strong>there</strong>"
"""

from __future__ import annotations

import re
from typing import Any, Literal

from markupsafe import Markup, escape
from pydantic import BaseModel, Field

from signage.i18n import lazy
from widgets.base import Widget

COLOR = r"^#[0-9a-fA-F]{6}$"
BOLD = re.compile(r"\*\*(.+?)\*\*")
ITALIC = re.compile(r"\*(.+?)\*")


def formatted(text: str) -> Markup:
    html = str(escape(text))
    html = BOLD.sub(r"<strong>\1</strong>", html)
    html = ITALIC.sub(r"<em>\1</em>", html)
    return Markup(html.replace("\r\n", "\n").replace("\n", "<br>"))


class TextOptions(BaseModel):
    model_config = {"extra": "forbid"}

    text: str = Field("", title=lazy("Text"), max_length=2000, json_schema_extra={"kind": "textarea"})
    scroll: bool = Field(False, title=lazy("Scroll as a ticker"))
    speed: int = Field(80, title=lazy("Scroll speed (pixels per second)"), ge=10, le=1000)
    size: int = Field(48, title=lazy("Font size (pixels)"), ge=8, le=400)
    color: str = Field("#ffffff", title=lazy("Text colour"), pattern=COLOR, json_schema_extra={"kind": "color"})
    background: str = Field("#000000", title=lazy("Background"), pattern=COLOR, json_schema_extra={"kind": "color"})
    align: Literal["left", "center", "right"] = Field("center", title=lazy("Alignment"))


async def text_data(options: TextOptions, db: Any) -> dict:
    return {"html": formatted(options.text)}


widget = Widget(type="text", label=lazy("Text / ticker"), options=TextOptions, data=text_data)
