"""The statistics page in Chromium (issue 17): its three charts draw (Apache ECharts, SVG),
and each table holds what `GET /api/v1/stats/rooms` answers for the same range."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from bookings_helpers import at
from fixtures import sign_in_page

from browser.test_door_screen import TIMEOUT_MS, Site

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


def api(site, **params) -> dict:
    r = httpx.get(site.base + "/api/v1/stats/rooms", params=params, headers=site.headers)
    assert r.status_code == 200, r.text
    return r.json()


def value(v) -> str:
    return "" if v is None else str(v)


def test_the_charts_draw_and_the_tables_match_the_api(make_server, browser):
    site = Site(make_server(SIGNAGE_TEST_CLOCK="1"))
    orchid = site.post("/api/v1/rooms", {"name": "Orchid", "capacity": 8, "opens_at": "08:00", "closes_at": "20:00"})
    site.post("/api/v1/rooms", {"name": "Lotus", "capacity": 4, "building": "East", "floor": "3F"})
    used = site.book(orchid["id"], at(10, 0, 1), "Review")
    site.book(orchid["id"], at(14, 0, 1), "Nobody came")
    site.go_to(at(10, 5, 1))
    site.post(f"/api/v1/bookings/{used['id']}/check-in")
    site.go_to(at(16, 0, 1))
    day = at(0, 0, 1).date()
    start, end = (day - dt.timedelta(days=3)).isoformat(), (day + dt.timedelta(days=3)).isoformat()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_page(page, site.base, site.email)
    page.goto(f"{site.base}/stats?from={start}&to={end}&group=room")
    for chart in ("heat", "bars", "line"):
        page.locator(f"#chart-{chart}[data-drawn='1'] svg").wait_for()
    assert page.locator("#chart-bars svg path").count() > 4  # bars and axes
    assert page.locator("#chart-heat svg path").count() > 24

    rooms = api(site, **{"from": start, "to": end, "group": "room"})
    orchid_row = next(r for r in rooms["rows"] if r["label"] == "Orchid")
    assert (orchid_row["meetings"], orchid_row["no_shows"], orchid_row["checked_in"]) == (2, 1, 1)
    for row in [*rooms["rows"], rooms["total"]]:
        key = row["key"] or "total"
        cells = page.locator(f"#table-main tr[data-key='{key}'] td")
        got = dict(zip(cells.evaluate_all("tds => tds.map(td => td.dataset.col)"),
                       cells.evaluate_all("tds => tds.map(td => td.dataset.value)"), strict=True))
        assert got == {name: value(row[name]) for name in got}, key
    assert "%" in page.locator("#table-main tr[data-key='total'] td[data-col='utilization']").inner_text()

    hours = api(site, **{"from": start, "to": end, "group": "hour"})
    heat = page.locator("#table-heat td").evaluate_all("tds => tds.map(td => [td.dataset.key, td.dataset.value])")
    assert heat == [[row["key"], value(row["utilization"])] for row in hours["rows"]]

    days = api(site, **{"from": start, "to": end, "group": "day"})
    booked = page.locator("#table-days td[data-col='booked_hours']").evaluate_all("tds => tds.map(td => td.dataset.value)")
    assert booked == [value(row["booked_hours"]) for row in days["rows"]]
    assert days["rows"][3]["booked_hours"] == 2.0

    # a preset, and the page in Chinese
    page.locator("a.stats-preset", has_text="Last 30 days").click()
    page.locator("#chart-bars[data-drawn='1']").wait_for()
    assert "preset=30" in page.url
    page.goto(site.base + "/lang/zh_CN?next=/stats")
    assert page.locator("h1").inner_text() == "统计分析"
    page.locator("#chart-line[data-drawn='1']").wait_for()
    assert errors == []
