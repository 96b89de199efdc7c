"""The layouts API the drag-and-drop editor calls: drafts, the side panel, templates,
duplicates, publishing and rolling back."""

import pytest
from fixtures import api_token, csrf, login, rows
from screens import make_screen, state
from sqlalchemy import select

from playlists.models import Layout, LayoutVersion
from signage.models import AuditEntry

pytestmark = pytest.mark.one_database  # not about the database: SQLite only (tests/conftest.py)

CLOCK = {"x": 0, "y": 0, "w": 640, "h": 360, "z": 0, "widget": "clock", "options": {"timezone": "Europe/London"}}


def new_layout(client, headers, **body):
    r = client.post("/api/v1/layouts", headers=headers, json={"name": "Lobby", **body})
    assert r.status_code == 201, r.text
    return r.json()


def test_draft_round_trip_with_previews(client):
    headers = api_token(client, "editor")
    layout = new_layout(client, headers, width=1280, height=800)
    r = client.put(f"/api/v1/layouts/{layout['id']}?preview=1", headers=headers, json={"regions": [CLOCK]})
    assert r.status_code == 200, r.text
    [region] = r.json()["regions"]
    assert region["options"] == {
        "timezone": "Europe/London",
        "hour12": False,
        "show_date": True,
        "style": "digital",
        "date_format": "long",
        "language": "auto",
    }
    assert len(region["id"]) == 8 and 'data-tz="Europe/London"' in region["html"]
    got = client.get(f"/api/v1/layouts/{layout['id']}", headers=headers).json()
    assert got["regions"] == [{k: v for k, v in region.items() if k != "html"}]
    assert [x["id"] for x in client.get("/api/v1/layouts", headers=headers).json()] == [layout["id"]]


def test_bad_drafts_are_refused_and_change_nothing(client):
    headers = api_token(client, "editor")
    lid = new_layout(client, headers, width=1280, height=800)["id"]
    client.put(f"/api/v1/layouts/{lid}", headers=headers, json={"regions": [CLOCK]})
    before = client.get(f"/api/v1/layouts/{lid}", headers=headers).json()["regions"]
    cases = [
        ({**CLOCK, "x": 1000}, "must lie inside the 1280x800 canvas"),
        ({**CLOCK, "w": -10}, "position or size is not valid"),
        ({**CLOCK, "h": 0}, "position or size is not valid"),
        ({**CLOCK, "widget": "marquee"}, "Unknown widget type: marquee"),
        ({**CLOCK, "options": {"timezone": "Mars/Olympus"}}, "widget options are not valid"),
        ({**CLOCK, "widget": "playlist", "options": {"playlist_id": 77}}, "no such playlist"),
        ({**CLOCK, "x": "left"}, "Some fields are not valid"),
    ]
    for region, message in cases:
        r = client.put(f"/api/v1/layouts/{lid}", headers=headers, json={"regions": [CLOCK, region]})
        assert r.status_code == 400, (region, r.text)
        assert message in r.json()["message"], (region, r.json())
    twins = [{**CLOCK, "id": "same0001"}, {**CLOCK, "id": "same0001"}]
    r = client.put(f"/api/v1/layouts/{lid}", headers=headers, json={"regions": twins})
    assert r.status_code == 400 and "same id" in r.json()["message"]
    assert client.get(f"/api/v1/layouts/{lid}", headers=headers).json()["regions"] == before
    failures = rows(client, select(AuditEntry).where(AuditEntry.result == "failure"))
    assert len(failures) == len(cases) + 1 and {f.action for f in failures} == {"layout.edit"}


def test_panel_saves_options_and_shows_errors_inline(client):
    login(client, "editor")
    headers = {"X-CSRF-Token": csrf(client)}
    r = client.post("/api/v1/layouts", headers=headers, json={"name": "Door", "regions": [CLOCK]})
    lid, [region] = r.json()["id"], r.json()["regions"]
    panel = client.get(f"/layouts/{lid}/regions/{region['id']}/panel")
    assert 'name="o.timezone"' in panel.text and 'value="Europe/London"' in panel.text
    form = {"x": 10, "y": 20, "w": 300, "h": 200, "z": 0, "o.timezone": "Asia/Tokyo", "o.style": "analog"}
    r = client.post(f"/layouts/{lid}/regions/{region['id']}/panel", headers=headers, data=form)
    assert r.status_code == 200 and r.headers["HX-Trigger"] == "layout-saved"
    [saved] = client.get(f"/api/v1/layouts/{lid}").json()["regions"]
    assert saved["options"]["timezone"] == "Asia/Tokyo" and saved["options"]["style"] == "analog"
    assert (saved["x"], saved["y"], saved["w"], saved["h"]) == (10, 20, 300, 200)
    bad = {**form, "o.timezone": "Nowhere/Atlantis"}
    r = client.post(f"/layouts/{lid}/regions/{region['id']}/panel", headers=headers, data=bad)
    assert r.status_code == 400
    assert 'class="field-error"' in r.text and "unknown time zone" in r.text and 'value="Nowhere/Atlantis"' in r.text
    r = client.post(f"/layouts/{lid}/regions/{region['id']}/panel", headers=headers, data={**form, "w": 5000})
    assert r.status_code == 400 and "inside the 1920x1080 canvas" in r.text
    assert client.get(f"/api/v1/layouts/{lid}").json()["regions"] == [saved]


def test_templates_custom_sizes_and_duplicates(client):
    login(client, "editor")
    token = csrf(client)
    r = client.post("/layouts", data={"name": "Door 3F", "size": "1280x800", "template": "door", "csrf_token": token})
    assert r.status_code == 200
    door = rows(client, select(Layout))[0]
    assert [r["widget"] for r in door.regions] == ["room_status", "clock", "meeting_list"]
    assert all(r["x"] + r["w"] <= 1280 and r["y"] + r["h"] <= 800 for r in door.regions)
    client.post("/layouts", data={"name": "Poster", "size": "", "template": "poster", "csrf_token": token})
    poster = rows(client, select(Layout).where(Layout.name == "Poster"))[0]
    assert (poster.width, poster.height) == (1080, 1920) and poster.regions[0]["h"] == 1536
    data = {"name": "Kiosk", "size": "custom", "width": "768", "height": "1366", "template": "poster"}
    client.post("/layouts", data={**data, "csrf_token": token})
    kiosk = rows(client, select(Layout).where(Layout.name == "Kiosk"))[0]
    assert (kiosk.width, kiosk.height) == (768, 1366) and len(kiosk.regions) == 2
    r = client.post("/layouts", data={**data, "width": "0", "csrf_token": token})
    assert r.status_code == 400 and "between 1 and 7680" in r.text
    r = client.post("/layouts", data={**data, "template": "disco", "csrf_token": token})
    assert r.status_code == 400 and "Unknown template" in r.text
    r = client.post(f"/layouts/{door.id}/duplicate", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    twin = rows(client, select(Layout).where(Layout.name == "Door 3F (copy)"))[0]
    assert [(x["widget"], x["x"], x["w"]) for x in twin.regions] == [
        (x["widget"], x["x"], x["w"]) for x in door.regions
    ]
    assert {x["id"] for x in twin.regions}.isdisjoint({x["id"] for x in door.regions})
    assert len(rows(client, select(Layout))) == 4


def test_publish_then_roll_back_reaches_the_screen(client):
    headers = api_token(client, "editor")
    lid = new_layout(client, headers, regions=[CLOCK])["id"]
    _sid, key = make_screen(client, layout_id=lid)
    assert state(client, key)["layout"] is None
    assert client.post(f"/api/v1/layouts/{lid}/publish", headers=headers).json() == {"layout_id": lid, "version": 1}
    tokyo = {**CLOCK, "options": {"timezone": "Asia/Tokyo"}}
    client.put(f"/api/v1/layouts/{lid}", headers=headers, json={"regions": [tokyo]})
    assert 'data-tz="Europe/London"' in state(client, key)["layout"]["regions"][0]["html"]
    client.post(f"/api/v1/layouts/{lid}/publish", headers=headers)
    shown = state(client, key)["layout"]
    assert shown["version"] == 2 and 'data-tz="Asia/Tokyo"' in shown["regions"][0]["html"]
    r = client.post(f"/api/v1/layouts/{lid}/rollback", headers=headers, json={"version": 1})
    assert r.status_code == 201 and r.json()["version"] == 3
    shown = state(client, key)["layout"]
    assert shown["version"] == 3 and 'data-tz="Europe/London"' in shown["regions"][0]["html"]
    assert shown["emergency"] is False
    r = client.post(f"/api/v1/layouts/{lid}/rollback", headers=headers, json={"version": 9})
    assert r.status_code == 404
    assert [v.version for v in rows(client, select(LayoutVersion))] == [1, 2, 3]
    events = rows(client, select(AuditEntry).where(AuditEntry.action.in_(["layout.publish", "layout.rollback"])))
    assert [(e.action, e.result) for e in events] == [
        ("layout.publish", "success"),
        ("layout.publish", "success"),
        ("layout.rollback", "success"),
        ("layout.rollback", "failure"),
    ]


def test_every_api_operation_is_described_and_routed(client):
    """`playlists.api.OPENAPI` lists each operation once, each has a route, and its models make JSON schemas."""
    from pydantic import TypeAdapter
    from starlette.routing import Route

    from playlists.api import OPENAPI

    routed = {
        (m.lower(), r.path.replace(":id}", "}"))
        for r in client.app.routes
        if isinstance(r, Route)
        for m in r.methods - {"HEAD"}
    }
    described = [(method, path) for method, path, *_rest in OPENAPI]
    assert len(described) == len(set(described))
    assert set(described) <= routed, set(described) - routed
    ours = {(m, p) for m, p in routed if p.startswith(("/api/v1/layouts", "/api/v1/playlists", "/api/v1/schedules"))}
    ours |= {(m, p) for m, p in routed if p.startswith("/api/v1/emergency") or p.endswith("/playing")}
    assert ours <= set(described), ours - set(described)
    for _method, _path, summary, body, answer in OPENAPI:
        assert summary
        for model in (body, answer):
            if model is not None:
                assert TypeAdapter(model).json_schema()


def test_a_widgets_choices_are_named_in_the_readers_language(client):
    """Issue 22 point 9: the option form shows a clock's style and date format by name, in
    Chinese on a Chinese page; the values sent stay the schema's."""
    from signage import i18n
    from widgets.base import form_fields

    token = i18n.current_locale.set("zh_CN")
    try:
        fields = {f["name"]: f for f in form_fields("clock", {})}
    finally:
        i18n.current_locale.reset(token)
    assert fields["style"]["choices"] == ["digital", "analog"]
    assert fields["style"]["labels"] == {"digital": "数字", "analog": "指针"}
    assert fields["date_format"]["labels"]["iso"] == "ISO（2026-11-25）"
    assert all(label != value for value, label in fields["language"]["labels"].items())
