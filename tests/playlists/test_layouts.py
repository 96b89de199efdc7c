"""Layouts from plain forms: regions, validation, publishing."""

import pytest
from fixtures import api_token, csrf, login, rows
from images import png
from sqlalchemy import select

from media.models import Media
from playlists.models import Layout, LayoutVersion

pytestmark = pytest.mark.one_database  # not about the database: SQLite only (tests/conftest.py)


def new_layout(client, name="Lobby", size="1920x1080"):
    r = client.post("/layouts", data={"name": name, "size": size, "csrf_token": csrf(client)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def add_region(client, layout_id, widget, x=0, y=0, w=100, h=100):
    return client.post(
        f"/layouts/{layout_id}/regions",
        data={"widget": widget, "x": x, "y": y, "w": w, "h": h, "csrf_token": csrf(client)},
        follow_redirects=False,
    )


def layout(client, layout_id):
    [lo] = rows(client, select(Layout).where(Layout.id == layout_id))
    return lo


def test_build_and_publish_a_layout(client):
    login(client, "editor")
    client.post("/media", data={"csrf_token": csrf(client)}, files=[("files", ("a.png", png(), "image/png"))])
    [media] = rows(client, select(Media))
    lid = new_layout(client)
    assert add_region(client, lid, "image", 0, 0, 1280, 1080).status_code == 303
    assert add_region(client, lid, "clock", 1280, 0, 640, 1080).status_code == 303
    image_region, clock_region = layout(client, lid).regions
    r = client.post(
        f"/layouts/{lid}/regions/{image_region['id']}",
        data={
            "x": 0,
            "y": 0,
            "w": 1280,
            "h": 1080,
            "z": 0,
            "o.media_id": media.id,
            "o.fit": "cover",
            "csrf_token": csrf(client),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(
        f"/layouts/{lid}/regions/{clock_region['id']}",
        data={
            "x": 1280,
            "y": 0,
            "w": 640,
            "h": 1080,
            "z": 1,
            "o.timezone": "Europe/Paris",
            "o.hour12": "on",
            "o.style": "analog",
            "csrf_token": csrf(client),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    regions = layout(client, lid).regions
    assert regions[0]["options"] == {"media_id": media.id, "fit": "cover"}
    assert regions[1]["options"] == {
        "timezone": "Europe/Paris",
        "hour12": True,
        "show_date": False,
        "style": "analog",
        "date_format": "long",
        "language": "auto",
    }
    preview = client.get(f"/layouts/{lid}/preview").text
    assert media.url in preview and 'data-tz="Europe/Paris"' in preview
    assert (
        client.post(f"/layouts/{lid}/publish", data={"csrf_token": csrf(client)}, follow_redirects=False).status_code
        == 303
    )
    [version] = rows(client, select(LayoutVersion))
    assert version.version == 1 and version.content["regions"] == regions
    assert layout(client, lid).published_version == 1


def test_bad_regions_are_refused_and_change_nothing(client):
    login(client, "editor")
    lid = new_layout(client, size="1280x800")
    cases = [
        (dict(widget="clock", x=1200, y=0, w=200, h=100), "inside the 1280x800 canvas"),
        (dict(widget="clock", x=-5, y=0, w=100, h=100), "position or size is not valid"),
        (dict(widget="clock", x=0, y=0, w=0, h=100), "position or size is not valid"),
        (dict(widget="marquee", x=0, y=0, w=10, h=10), "Unknown widget type: marquee"),
        (dict(widget="clock", x="abc", y=0, w=10, h=10), "x must be a whole number"),
    ]
    for data, message in cases:
        r = add_region(client, lid, **data)
        assert r.status_code == 400, data
        assert message in r.text, (data, r.text[-800:])
    assert layout(client, lid).regions == []


def test_invalid_widget_options_are_refused(client):
    login(client, "editor")
    lid = new_layout(client)
    add_region(client, lid, "clock")
    [region] = layout(client, lid).regions
    r = client.post(
        f"/layouts/{lid}/regions/{region['id']}",
        data={"x": 0, "y": 0, "w": 100, "h": 100, "z": 0, "o.timezone": "Mars/Olympus", "csrf_token": csrf(client)},
    )
    assert r.status_code == 400 and "unknown time zone" in r.text
    assert layout(client, lid).regions == [region]


def test_publish_refused_when_media_was_deleted(client):
    login(client, "editor")
    lid = new_layout(client)
    add_region(client, lid, "image")
    [region] = layout(client, lid).regions

    async def point_at_missing():
        async with client.app.state.db.begin() as s:
            lo = await s.get(Layout, lid)
            lo.regions = [{**region, "options": {"media_id": 4242, "fit": "contain"}}]

    client.portal.call(point_at_missing)
    r = client.post(f"/layouts/{lid}/publish", data={"csrf_token": csrf(client)})
    assert r.status_code == 409 and "deleted" in r.text
    assert rows(client, select(LayoutVersion)) == []


def test_layout_api_lists_and_publishes(client):
    headers = api_token(client, "editor")
    client.cookies.clear()
    login(client, "editor")
    lid = new_layout(client)
    client.cookies.clear()
    [item] = client.get("/api/v1/layouts", headers=headers).json()
    assert item["id"] == lid and item["published_version"] == 0
    r = client.post(f"/api/v1/layouts/{lid}/publish", headers=headers)
    assert r.status_code == 201 and r.json() == {"layout_id": lid, "version": 1}
    assert client.post("/api/v1/layouts/999/publish", headers=headers).status_code == 404


def test_names_and_sizes_are_checked(client):
    login(client, "editor")
    r = client.post("/layouts", data={"name": " ", "size": "1920x1080", "csrf_token": csrf(client)})
    assert r.status_code == 400 and "Give the layout a name" in r.text
    r = client.post("/layouts", data={"name": "x", "size": "7x7", "csrf_token": csrf(client)})
    assert r.status_code == 400 and "Unknown screen size" in r.text
    assert rows(client, select(Layout)) == []
