"""Playlists: items with durations, transitions, enabled and validity; reorder; publish
into the layouts that show them; the player's playlist regions."""

import datetime as dt
import time

import pytest
from fixtures import api_token, csrf, login, rows
from images import png
from screens import make_screen, state
from sqlalchemy import select

from media.models import Media
from playlists.models import LayoutVersion, Playlist

pytestmark = pytest.mark.one_database  # not about the database: SQLite only (tests/conftest.py)

UTC = dt.UTC


def upload(client, name="a.png", color=(200, 0, 0)) -> int:
    token = csrf(client)
    r = client.post("/media", files={"files": (name, png(color=color), "image/png")}, data={"csrf_token": token})
    assert r.status_code in (200, 303), r.text
    return rows(client, select(Media).where(Media.name == name))[0].id


def playlist_region(pid):
    return {"x": 0, "y": 0, "w": 1920, "h": 1080, "widget": "playlist", "options": {"playlist_id": pid}}


def test_items_reorder_publish_and_play(client):
    login(client, "editor")
    headers = {"X-CSRF-Token": csrf(client)}
    a, b = upload(client, "a.png", (200, 0, 0)), upload(client, "b.png", (0, 0, 200))
    r = client.post("/playlists", data={"name": "Lobby loop", "csrf_token": csrf(client)}, follow_redirects=False)
    pid = int(r.headers["location"].rsplit("/", 1)[1])
    for data in ({"media_id": a}, {"media_id": b}, {"widget": "clock"}):
        assert client.post(f"/playlists/{pid}/items", data={**data, "csrf_token": csrf(client)}).status_code == 200
    items = rows(client, select(Playlist))[0].items
    assert [i["widget"] for i in items] == ["image", "image", "clock"]
    assert [i["duration"] for i in items] == [10, 10, 10]
    first, second, clock = (i["id"] for i in items)
    form = {"duration": "5", "transition": "fade", "enabled": "on", "valid_from": "", "valid_until": ""}
    r = client.post(f"/playlists/{pid}/items/{second}", data={**form, "csrf_token": csrf(client)})
    assert r.status_code == 200
    r = client.post(
        f"/playlists/{pid}/items/{clock}",
        data={
            **form,
            "duration": "10",
            "transition": "none",
            "o.timezone": "Europe/Berlin",
            "csrf_token": csrf(client),
        },
    )
    assert r.status_code == 200 and 'value="Europe/Berlin"' in r.text
    r = client.post(
        f"/playlists/{pid}/items/{clock}", data={**form, "o.timezone": "Atlantis", "csrf_token": csrf(client)}
    )
    assert r.status_code == 400 and "unknown time zone" in r.text
    assert rows(client, select(Playlist))[0].items[1]["options"]["media_id"] == b
    order = f"{clock},{second},{first}"
    r = client.post(f"/playlists/{pid}/order", data={"order": order}, headers={**headers, "HX-Request": "true"})
    assert r.status_code == 200 and 'id="items-block"' in r.text and "<html" not in r.text
    assert [i["id"] for i in rows(client, select(Playlist))[0].items] == [clock, second, first]

    r = client.post("/api/v1/layouts", headers=headers, json={"name": "Loop", "regions": [playlist_region(pid)]})
    lid = r.json()["id"]
    r = client.post(f"/api/v1/layouts/{lid}/publish", headers=headers)
    assert r.status_code == 409 and "Publish the playlist" in r.json()["message"]
    assert client.post(f"/api/v1/playlists/{pid}/publish", headers=headers).status_code == 201
    assert client.post(f"/api/v1/layouts/{lid}/publish", headers=headers).status_code == 201
    _sid, key = make_screen(client, layout_id=lid)
    [region] = state(client, key)["layout"]["regions"]
    assert region["widget"] == "playlist" and region["loop"] is True
    assert [(i["id"], i["duration"], i["transition"]) for i in region["items"]] == [
        (clock, 10, "none"),
        (second, 5, "fade"),
        (first, 10, "none"),
    ]
    assert 'data-tz="Europe/Berlin"' in region["items"][0]["html"] and "<img" in region["items"][1]["html"]

    # Publishing the playlist again makes a new layout version the screen plays.
    client.post(f"/playlists/{pid}/order", data={"order": f"{first},{second},{clock}"}, headers=headers)
    client.post(f"/api/v1/playlists/{pid}/publish", headers=headers)
    shown = state(client, key)["layout"]
    assert shown["version"] == 2 and [i["id"] for i in shown["regions"][0]["items"]] == [first, second, clock]
    assert len(rows(client, select(LayoutVersion))) == 2


def test_disabled_and_out_of_date_items_are_skipped_with_a_timer(client):
    headers = api_token(client, "editor")
    soon = dt.datetime.now(UTC) + dt.timedelta(minutes=30)
    items = [
        {"id": "clock001", "widget": "clock", "duration": 8},
        {"id": "clock002", "widget": "clock", "enabled": False},
        {"id": "clock003", "widget": "clock", "valid_from": soon.isoformat()},
        {"id": "clock004", "widget": "clock", "valid_until": (soon - dt.timedelta(hours=2)).isoformat()},
    ]
    r = client.post("/api/v1/playlists", headers=headers, json={"name": "Mixed", "items": items})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    client.post(f"/api/v1/playlists/{pid}/publish", headers=headers)
    lid = client.post("/api/v1/layouts", headers=headers, json={"name": "L", "regions": [playlist_region(pid)]})
    lid = lid.json()["id"]
    client.post(f"/api/v1/layouts/{lid}/publish", headers=headers)
    _sid, key = make_screen(client, layout_id=lid)
    got = state(client, key)
    assert [i["id"] for i in got["layout"]["regions"][0]["items"]] == ["clock001"]
    assert 29 * 60 < got["next_check"] <= 30 * 60


def test_a_shared_rendering_never_outlives_an_item_s_validity(client):
    """Screens share one rendering of a version (player.rendered), but an item
    that stops being valid is gone from the next state asked for after that moment."""
    headers = api_token(client, "editor")
    until = dt.datetime.now(UTC) + dt.timedelta(seconds=6)  # what comes next takes over 2 s on a busy machine
    items = [
        {"id": "clock001", "widget": "clock", "duration": 8},
        {"id": "clock002", "widget": "clock", "duration": 8, "valid_until": until.isoformat()},
    ]
    pid = client.post("/api/v1/playlists", headers=headers, json={"name": "Brief", "items": items}).json()["id"]
    client.post(f"/api/v1/playlists/{pid}/publish", headers=headers)
    lid = client.post("/api/v1/layouts", headers=headers, json={"name": "B", "regions": [playlist_region(pid)]})
    lid = lid.json()["id"]
    client.post(f"/api/v1/layouts/{lid}/publish", headers=headers)
    _sid, first = make_screen(client, "First", layout_id=lid)
    _sid, second = make_screen(client, "Second", layout_id=lid)
    got = state(client, first)
    assert [i["id"] for i in got["layout"]["regions"][0]["items"]] == ["clock001", "clock002"]
    assert 0 < got["next_check"] <= 6
    again = state(client, second)  # the same rendering, its timer counted from now
    assert again["layout"] == got["layout"] and again["next_check"] <= got["next_check"]
    time.sleep(max((until - dt.datetime.now(UTC)).total_seconds(), 0) + 0.2)
    for key in (first, second):
        assert [i["id"] for i in state(client, key)["layout"]["regions"][0]["items"]] == ["clock001"]


def test_bad_playlists_are_refused_and_change_nothing(client):
    headers = api_token(client, "editor")
    pid = client.post("/api/v1/playlists", headers=headers, json={"name": "Keep", "items": []}).json()["id"]
    now = dt.datetime.now(UTC)
    cases = [
        ({"widget": "hologram"}, "Unknown widget type"),
        ({"widget": "clock", "options": {"timezone": "Mars/Base"}}, "widget options are not valid"),
        ({"widget": "clock", "duration": None}, "only a video may play without a duration"),
        ({"widget": "clock", "duration": 0}, "Some fields are not valid"),
        ({"widget": "clock", "transition": "spin"}, "Some fields are not valid"),
        ({"widget": "image", "options": {"media_id": 4242}}, "media that do not exist"),
        (
            {"widget": "clock", "valid_from": now.isoformat(), "valid_until": (now - dt.timedelta(1)).isoformat()},
            "must be after",
        ),
    ]
    for item, message in cases:
        r = client.put(f"/api/v1/playlists/{pid}", headers=headers, json={"name": "Changed", "items": [item]})
        assert r.status_code == 400 and message in r.json()["message"], (item, r.text)
    assert client.get(f"/api/v1/playlists/{pid}", headers=headers).json() == {
        "id": pid,
        "name": "Keep",
        "published_version": 0,
        "items": [],
    }
    login(client, "editor")
    r = client.post(f"/playlists/{pid}/order", data={"order": "nope", "csrf_token": csrf(client)})
    assert r.status_code == 400 and "every item once" in r.text


def test_publishing_a_playlist_whose_media_was_deleted_is_refused(client):
    login(client, "editor")
    headers = {"X-CSRF-Token": csrf(client)}
    a = upload(client)
    pid = client.post("/api/v1/playlists", headers=headers, json={"name": "P", "items": []}).json()["id"]
    client.post(f"/playlists/{pid}/items", data={"media_id": a, "csrf_token": csrf(client)})

    async def drop():
        async with client.app.state.db.begin() as s:
            await s.delete(await s.get(Media, a))

    client.portal.call(drop)
    r = client.post(f"/api/v1/playlists/{pid}/publish", headers=headers)
    assert r.status_code == 409 and "deleted" in r.json()["message"]
    assert rows(client, select(Playlist))[0].published_version == 0
