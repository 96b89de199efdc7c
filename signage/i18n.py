"""Two languages: Simplified Chinese and English.

English is the source language; `signage/locale/zh_CN/LC_MESSAGES/messages.po`
is the catalog (extract with `pybabel extract -F babel.cfg`). Catalogs are compiled
in memory at start, so the `.po` file is the only one kept.

The language of a request: the `lang` cookie (set by the switcher), else the
signed-in user's choice, else Accept-Language, else SIGNAGE_DEFAULT_LOCALE.
Times are stored in UTC and shown in the site's time zone (SIGNAGE_TIMEZONE).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import io
import re
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, dates, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES = ("zh_CN", "en")
LOCALE_NAMES = {"zh_CN": "简体中文", "en": "English"}
LOCALE_DIR = Path(__file__).parent / "locale"

current_locale: contextvars.ContextVar[str] = contextvars.ContextVar("locale", default="zh_CN")
site_timezone: contextvars.ContextVar[str] = contextvars.ContextVar("timezone", default="Asia/Shanghai")


@cache
def translations(locale: str) -> NullTranslations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def gettext(message: str, **params) -> str:
    text = translations(current_locale.get()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params) -> str:
    text = translations(current_locale.get()).ngettext(singular, plural, n)
    return text % {"num": n, **params}


def lazy(message: str) -> str:
    """Mark a string for extraction where it is defined; translate it where shown."""
    return message


def negotiate(accept_language: str, default: str) -> str:
    wanted = []
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if tag and tag != "*":
            wanted.append(tag)
    return negotiate_locale(wanted, LOCALES, sep="_", aliases={"zh": "zh_CN", "en": "en"}) or default


def pick_locale(cookie: str | None, user_locale: str | None, accept_language: str, default: str) -> str:
    for choice in (cookie, user_locale):
        if choice in LOCALES:
            return choice
    return negotiate(accept_language, default)


def local_time(value: dt.datetime) -> dt.datetime:
    return value.astimezone(ZoneInfo(site_timezone.get()))


NAMED = ("short", "medium", "long", "full")


def clock_24h(pattern: str) -> str:
    """A time pattern on the 24-hour clock: `h:mm:ss a` → `HH:mm:ss`."""
    return re.sub(r"\s*\ba\b", "", re.sub(r"h+", "HH", pattern)).strip()


@functools.lru_cache(maxsize=64)
def datetime_pattern(format: str, locale: str) -> str:
    """The locale's date-and-time pattern of a named format, its time on the 24-hour clock:
    one clock in every language (en `Nov 25, 2026, 16:30:00`, zh_CN `2026年11月25日 16:30:00`)."""
    loc = Locale.parse(locale)
    time = clock_24h(loc.time_formats[format].pattern)
    if format in ("long", "full"):  # their times name the zone ("16:30:00 CST"): the site's zone is known
        time = clock_24h(loc.time_formats["medium"].pattern)
    joined = str(loc.datetime_formats[format])
    return joined.replace("{1}", loc.date_formats[format].pattern).replace("{0}", time)


def format_datetime(value: dt.datetime | None, format: str = "medium") -> str:
    """`2026-11-25 08:00 UTC` → `2026年11月25日 16:00:00` (zh_CN, Asia/Shanghai); a named
    format ("short", "medium" …) on the 24-hour clock in every language."""
    if value is None:
        return ""
    locale = current_locale.get()
    pattern = datetime_pattern(format, locale) if format in NAMED else format
    return dates.format_datetime(local_time(value), format=pattern, locale=locale)


def format_size(n: int | None) -> str:
    """A file's size in the reader's language: 49 byte, 40.2 kB, 3.1 MB (1 kB = 1000 bytes)."""
    from babel.units import format_unit

    n = n or 0
    for unit, step in (("digital-megabyte", 1e6), ("digital-kilobyte", 1e3)):
        if n >= step:
            return format_unit(round(n / step, 1), unit, length="short", locale=current_locale.get())
    return format_unit(n, "digital-byte", length="short", locale=current_locale.get())


def format_date(value: dt.date | dt.datetime | None, format: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = local_time(value).date()
    return dates.format_date(value, format=format, locale=current_locale.get())
