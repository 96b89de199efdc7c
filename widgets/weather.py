"""Weather: current conditions from OpenWeatherMap (through pyowm), cached.

A reading is kept per place, units and language (`WeatherReading`) and reused
for CACHE_SECONDS. When the provider cannot be asked (no SIGNAGE_WEATHER_API_KEY,
no network, an unknown city) the widget says "unavailable" and shows the last
good reading with its time. After a failure the provider is left alone for
RETRY_SECONDS, so a screen is never slowed by a provider that is down.

SIGNAGE_WEATHER_URL points pyowm at another base URL (tests run a local fake).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from signage.db import utcnow
from signage.i18n import gettext as _
from signage.i18n import lazy
from signage.settings import Settings, site_settings
from widgets.base import Widget
from widgets.models import WeatherReading

log = logging.getLogger("signage.widgets")

CACHE_SECONDS = 600
RETRY_SECONDS = 60
TIMEOUT = 5
UNITS = {"metric": ("celsius", "°C", "meters_sec", "m/s"), "imperial": ("fahrenheit", "°F", "miles_hour", "mph")}
ICONS = {"01": "☀️", "02": "⛅", "03": "☁️", "04": "☁️", "09": "🌧️", "10": "🌦️", "11": "⛈️", "13": "❄️", "50": "🌫️"}
_failed: dict[str, float] = {}


class WeatherOptions(BaseModel):
    model_config = {"extra": "forbid"}

    city: str = Field("", title=lazy("City (e.g. Shanghai,CN)"), max_length=100)
    lat: float | None = Field(None, title=lazy("Latitude"), ge=-90, le=90)
    lon: float | None = Field(None, title=lazy("Longitude"), ge=-180, le=180)
    units: Literal["metric", "imperial"] = Field("metric", title=lazy("Units"))
    language: Literal["zh_cn", "en"] = Field("zh_cn", title=lazy("Language"))

    @model_validator(mode="after")
    def place_given(self):
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self

    @property
    def place(self) -> str:
        where = f"coords={self.lat:.3f},{self.lon:.3f}" if self.lat is not None else f"q={self.city.strip().lower()}"
        return f"{where}|{self.units}|{self.language}"


REASONS = {
    "no_key": lazy("no API key is set (SIGNAGE_WEATHER_API_KEY)"),
    "not_found": lazy("the place was not found"),
    "unauthorized": lazy("the API key was refused"),
    "no_connection": lazy("no connection to the weather service"),
    "timeout": lazy("the weather service did not answer in time"),
    "error": lazy("the weather service answered with an error"),
    "resting": lazy("the weather service did not answer"),
}


class Unavailable(Exception):
    """Why the provider could not be asked: a key of REASONS."""


def fetch(settings: Settings, options: WeatherOptions) -> dict:
    """Ask the provider (blocking); Unavailable with the reason when it cannot answer."""
    from pyowm import OWM
    from pyowm.commons import exceptions
    from pyowm.utils.config import get_default_config

    if not settings.weather_api_key:
        raise Unavailable("no_key")
    base = urlsplit(settings.weather_url)
    config = get_default_config()
    config["language"] = options.language
    config["connection"]["use_ssl"] = base.scheme == "https"
    config["connection"]["timeout_secs"] = TIMEOUT
    manager = OWM(settings.weather_api_key, config).weather_manager()
    manager.http_client.root_uri = base.netloc + base.path.rstrip("/")
    manager.http_client.admits_subdomains = False
    try:
        if options.lat is not None:
            observation = manager.weather_at_coords(options.lat, options.lon)
        else:
            observation = manager.weather_at_place(options.city.strip())
    except exceptions.NotFoundError:
        raise Unavailable("not_found") from None
    except exceptions.UnauthorizedError:
        raise Unavailable("unauthorized") from None
    except exceptions.InvalidSSLCertificateError:  # pyowm's name for every connection error
        raise Unavailable("no_connection") from None
    except exceptions.TimeoutError:
        raise Unavailable("timeout") from None
    except exceptions.PyOWMError:
        raise Unavailable("error") from None
    temp_unit, temp_sign, wind_unit, wind_sign = UNITS[options.units]
    w = observation.weather
    temps = w.temperature(temp_unit)
    return {
        "place": observation.location.name,
        "temp": round(temps["temp"]),
        "feels_like": round(temps.get("feels_like") or temps["temp"]),
        "temp_unit": temp_sign,
        "status": w.detailed_status,
        "icon": ICONS.get((w.weather_icon_name or "")[:2], "🌡️"),
        "humidity": w.humidity,
        "wind": round(w.wind(unit=wind_unit).get("speed", 0), 1),
        "wind_unit": wind_sign,
    }


async def weather_data(options: WeatherOptions, db: Any) -> dict:
    if not options.city.strip() and options.lat is None:
        return {"reading": None, "unavailable": True, "reason": _("No place chosen"), "at": None}
    cached = None
    if db is not None:
        async with db.session() as s:
            cached = await s.scalar(select(WeatherReading).where(WeatherReading.place == options.place))
    if cached and (utcnow() - cached.fetched_at).total_seconds() < CACHE_SECONDS:
        return {"reading": cached.data, "unavailable": False, "at": cached.fetched_at}
    if time.monotonic() - _failed.get(options.place, -RETRY_SECONDS) < RETRY_SECONDS:
        return unavailable(cached, "resting")
    try:
        reading = await asyncio.wait_for(run_in_threadpool(fetch, site_settings(), options), TIMEOUT + 1)
    except (Unavailable, TimeoutError, OSError) as exc:
        reason = exc.args[0] if isinstance(exc, Unavailable) else "timeout"
        log.warning("weather for %s unavailable: %s", options.place, reason)
        _failed[options.place] = time.monotonic()
        return unavailable(cached, reason)
    _failed.pop(options.place, None)
    if db is not None:
        await store(db, options.place, reading)
    return {"reading": reading, "unavailable": False, "at": utcnow()}


def unavailable(cached: WeatherReading | None, reason: str) -> dict:
    return {
        "reading": cached.data if cached else None,
        "unavailable": True,
        "reason": _(REASONS[reason]),
        "at": cached.fetched_at if cached else None,
    }


async def store(db: Any, place: str, reading: dict) -> None:
    from sqlalchemy.exc import IntegrityError

    try:
        async with db.begin() as s:
            row = await s.scalar(select(WeatherReading).where(WeatherReading.place == place))
            if row is None:
                s.add(WeatherReading(place=place, data=reading, fetched_at=utcnow()))
            else:
                row.data, row.fetched_at = reading, utcnow()
    except IntegrityError:  # another screen stored the same place at the same moment
        pass


widget = Widget(type="weather", label=lazy("Weather"), options=WeatherOptions, data=weather_data)
