"""Web page: another site in an iframe, only from hosts the admin allows (SIGNAGE_WEBPAGE_HOSTS).

A host on the list allows itself; `*.example.com` allows every subdomain of example.com.
The page is checked when the options are saved and again when it is shown, so
removing a host from the list takes it off the screens.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from signage.i18n import lazy
from signage.settings import site_settings
from widgets.base import Widget


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    for rule in allowed:
        if rule.startswith("*.") and host.endswith(rule[1:]):
            return True
        if host == rule:
            return True
    return False


class WebpageOptions(BaseModel):
    model_config = {"extra": "forbid"}

    url: str = Field("", title=lazy("Address (https://…)"), max_length=2000)
    refresh: int = Field(0, title=lazy("Reload every (minutes, 0 = never)"), ge=0, le=1440)
    zoom: int = Field(100, title=lazy("Zoom (percent)"), ge=25, le=400)

    @field_validator("url")
    @classmethod
    def allowed_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the address must start with http:// or https://")
        if not host_allowed(parts.hostname, site_settings().webpage_hosts):
            raise ValueError(f"{parts.hostname} is not on the list of allowed hosts (SIGNAGE_WEBPAGE_HOSTS)")
        return value


async def webpage_data(options: WebpageOptions, db: Any) -> dict:
    host = urlsplit(options.url).hostname or ""
    return {"allowed": bool(options.url) and host_allowed(host, site_settings().webpage_hosts), "host": host}


widget = Widget(type="webpage", label=lazy("Web page"), options=WebpageOptions, data=webpage_data)
