"""Clock: time zone, 12/24 h, digital or analog, date format, language; ticks in the browser every second."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, Field, field_validator

from signage import i18n
from signage.i18n import lazy
from widgets.base import Widget


@lru_cache(maxsize=1)
def zones() -> frozenset[str]:
    return frozenset(available_timezones())


class ClockOptions(BaseModel):
    model_config = {"extra": "forbid"}

    timezone: str = Field(default_factory=lambda: i18n.site_timezone.get(), title=lazy("Time zone"), max_length=64)
    hour12: bool = Field(False, title=lazy("12-hour clock"))
    show_date: bool = Field(True, title=lazy("Show the date"))
    style: Literal["digital", "analog"] = Field("digital", title=lazy("Style"))
    date_format: Literal["long", "medium", "short", "iso"] = Field("long", title=lazy("Date format"))
    language: Literal["auto", "zh_CN", "en"] = Field("auto", title=lazy("Language"))

    @field_validator("timezone")
    @classmethod
    def known_zone(cls, value: str) -> str:
        if value not in zones():
            raise ValueError(f"unknown time zone {value!r}")
        return value


widget = Widget(type="clock", label=lazy("Clock"), options=ClockOptions)
