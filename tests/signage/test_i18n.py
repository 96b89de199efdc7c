"""Two languages: catalogs complete, picked from the browser, switchable, remembered."""

import datetime as dt
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po
from fixtures import login, rows, table_rows
from sqlalchemy import select

from signage import i18n
from signage.models import AuditEntry

pytestmark = pytest.mark.one_database  # not about the database: SQLite only (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[2]  # tests/signage/ → the project


def test_every_message_has_a_chinese_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "lazy",
            "-o",
            str(pot),
            "signage",
            "media",
            "widgets",
            "playlists",
            "player",
            "booking_api",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    with (ROOT / "signage/locale/zh_CN/LC_MESSAGES/messages.po").open("rb") as f:
        catalog = read_po(f, locale="zh_CN")
    translated = {m.id for m in catalog if m.id and done(m)}
    missing = sorted(wanted - translated, key=str)
    assert not missing, (
        f"run scripts/i18n and translate (fuzzy entries and empty plural forms count as missing): {missing}"
    )
    wrong = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]  # Babel: placeholders, plural count
    assert not wrong, wrong
    assert len(wanted) > 50


def done(message) -> bool:
    """Translated: every form filled in (a plural has several), and not marked fuzzy."""
    forms = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(forms) and not message.fuzzy


def test_accept_language_picks_the_language(client):
    assert "登录" in client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert "Sign in" in client.get("/login", headers={"Accept-Language": "en-US,en;q=0.8"}).text
    # Neither offered: the site's default (English in tests, Chinese by default).
    assert "Sign in" in client.get("/login", headers={"Accept-Language": "fr"}).text


def test_default_language_is_simplified_chinese(make_client):
    c = make_client(default_locale="zh_CN")
    assert "登录" in c.get("/login", headers={"Accept-Language": ""}).text


def test_switch_is_remembered_over_accept_language(client):
    login(client, "editor")
    r = client.get("/lang/zh_CN", params={"next": "/layouts"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/layouts"
    page = client.get("/layouts", headers={"Accept-Language": "en"}).text
    assert "新建布局" in page and '<html lang="zh-CN">' in page
    # The user's choice is kept on the account too: a new browser gets it after signing in.
    client.cookies.delete("lang")
    assert "新建布局" in client.get("/layouts", headers={"Accept-Language": "en"}).text


def test_error_messages_are_translated_in_the_api(client):
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer x", "Accept-Language": "zh-CN"})
    assert r.status_code == 401 and r.json()["message"] == "API 令牌无效。"


def test_times_are_shown_in_the_site_time_zone():
    moment = dt.datetime(2026, 11, 25, 8, 30, tzinfo=dt.UTC)
    tz = i18n.site_timezone.set("Asia/Shanghai")
    loc = i18n.current_locale.set("en")
    try:
        assert i18n.format_datetime(moment) == "Nov 25, 2026, 16:30:00"  # one clock in every language (issue 22)
        assert i18n.format_datetime(moment, "short") == "11/25/26, 16:30"
        assert "PM" not in i18n.format_datetime(moment, "full") and "16:30" in i18n.format_datetime(moment, "full")
        i18n.current_locale.set("zh_CN")
        assert "16:30:00" in i18n.format_datetime(moment) and "2026年11月25日" in i18n.format_datetime(moment)
        assert i18n.format_datetime(moment, "short") == "2026/11/25 16:30"
    finally:
        i18n.site_timezone.reset(tz)
        i18n.current_locale.reset(loc)


def test_audit_page_shows_local_time(make_client):
    c = make_client(timezone="America/New_York")
    login(c, "admin")
    shown = [row["Time"] for row in table_rows(c.get("/admin/audit").text)]
    stored = rows(c, select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()))
    assert shown == [e.at.astimezone(ZoneInfo("America/New_York")).strftime("%b %-d, %Y, %H:%M:%S") for e in stored]  # the 24-hour clock in every language
