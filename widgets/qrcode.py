"""QR code: any text or link, drawn as inline SVG by segno, with an optional caption."""

from __future__ import annotations

from typing import Any, Literal

import segno
from markupsafe import Markup
from pydantic import BaseModel, Field, model_validator

from signage.i18n import lazy
from widgets.base import Widget
from widgets.text import COLOR


class QrOptions(BaseModel):
    model_config = {"extra": "forbid"}

    data: str = Field("https://example.com", title=lazy("Link or text"), min_length=1, max_length=1000)
    caption: str = Field("", title=lazy("Caption"), max_length=200)
    error: Literal["L", "M", "Q", "H"] = Field("M", title=lazy("Error correction"))
    dark: str = Field("#000000", title=lazy("Dark colour"), pattern=COLOR, json_schema_extra={"kind": "color"})
    light: str = Field("#ffffff", title=lazy("Light colour"), pattern=COLOR, json_schema_extra={"kind": "color"})

    @model_validator(mode="after")
    def _fits(self) -> QrOptions:
        try:
            segno.make(self.data, error=self.error.lower(), micro=False, boost_error=False)
        except segno.DataOverflowError:
            raise ValueError("the text is too long for a QR code with this error correction") from None
        return self


async def qr_data(options: QrOptions, db: Any) -> dict:
    qr = segno.make(options.data, error=options.error.lower(), micro=False)
    svg = qr.svg_inline(scale=10, border=2, dark=options.dark, light=options.light, omitsize=True)
    return {"svg": Markup(svg)}  # segno writes only its own path data; the text is encoded, not embedded


widget = Widget(type="qrcode", label=lazy("QR code"), options=QrOptions, data=qr_data)
