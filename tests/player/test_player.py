"""A screen: pairs, is claimed, fetches its layout, hears about publishes live."""

import threading

import httpx
from fixtures import api_token, csrf, login, make_token, rows, server_settings, wait_for
from screens import read_events
from sqlalchemy import select

from player.models import Screen


def pair(client):
    r = client.post("/player/api/pair")
    assert r.status_code == 201
    body = r.json()
    assert len(body["code"]) == 6 and body["code"].isdigit() and len(body["key"]) > 30
    return body


def demo_layout(client):
    login(client, "editor")
    r = client.post(
        "/layouts", data={"name": "Door", "size": "1280x800", "csrf_token": csrf(client)}, follow_redirects=False
    )
    lid = int(r.headers["location"].rsplit("/", 1)[1])
    client.post(
        f"/layouts/{lid}/regions",
        data={"widget": "clock", "x": 0, "y": 0, "w": 1280, "h": 800, "csrf_token": csrf(client)},
    )
    client.post(f"/layouts/{lid}/publish", data={"csrf_token": csrf(client)})
    return lid


def test_pair_then_claim_then_state(client):
    lid = demo_layout(client)
    screen = pair(client)
    key = {"X-Screen-Key": screen["key"]}
    state = client.get("/player/api/state", headers=key).json()
    assert state == {
        "screen": {"id": state["screen"]["id"], "name": "", "claimed": False},
        "code": screen["code"],
        "layout": None,
        "next_check": None,
    }
    r = client.post(
        "/screens/claim",
        data={"code": screen["code"], "name": "Room 301 door", "layout_id": lid, "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    state = client.get("/player/api/state", headers=key).json()
    assert state["screen"]["claimed"] and state["code"] is None
    assert state["layout"]["id"] == lid and state["layout"]["version"] == 1
    [region] = state["layout"]["regions"]
    assert 'data-widget="clock"' in region["html"] and region["w"] == 1280
    assert client.post("/player/api/ack", headers=key, json={"version": 1}).status_code == 200
    [row] = rows(client, select(Screen))
    assert row.applied_version == 1 and row.last_seen is not None and row.name == "Room 301 door"
    assert "Room 301 door" in client.get("/screens").text


def test_claim_api_and_fleet_list(client):
    lid = demo_layout(client)
    headers = api_token(client, "editor")
    screen = pair(client)
    client.cookies.clear()
    r = client.post(
        "/api/v1/screens/claim", headers=headers, json={"code": screen["code"], "name": "Lobby", "layout_id": lid}
    )
    assert r.status_code == 201 and r.json()["name"] == "Lobby"
    [listed] = client.get("/api/v1/screens", headers=headers).json()
    assert listed["name"] == "Lobby" and listed["layout_id"] == lid
    # a code works once
    r = client.post("/api/v1/screens/claim", headers=headers, json={"code": screen["code"], "name": "Again"})
    assert r.status_code == 400 and r.json()["detail"] == {"field": "code"}


def test_wrong_or_missing_screen_key(client):
    assert client.get("/player/api/state").status_code == 401
    r = client.get("/player/api/state", headers={"X-Screen-Key": "forged"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert client.get("/player/api/events", params={"key": "forged"}).status_code == 401


def test_claim_with_unknown_layout_changes_nothing(client):
    login(client, "editor")
    screen = pair(client)
    r = client.post(
        "/screens/claim", data={"code": screen["code"], "name": "X", "layout_id": "777", "csrf_token": csrf(client)}
    )
    assert r.status_code == 400 and "No such layout." in r.text
    [row] = rows(client, select(Screen))
    assert row.claimed_at is None and row.pairing_code == screen["code"]


def test_publish_reaches_the_screen_stream_live(make_server):
    server = make_server()
    with httpx.Client(base_url=server.url) as c:
        screen = c.post("/player/api/pair").json()
    found, stop = [], threading.Event()
    t = threading.Thread(
        target=read_events, args=(f"{server.url}/player/api/events?key={screen['key']}", found, stop), daemon=True
    )
    t.start()
    wait_for(lambda: found, timeout=10)
    assert found[0][0] == "hello"
    # Claiming over the API is an event for that screen.
    settings = server_settings(server)
    headers = make_token(settings, "editor")
    r = httpx.post(f"{server.url}/api/v1/screens/claim", headers=headers, json={"code": screen["code"], "name": "Live"})
    assert r.status_code == 201
    wait_for(lambda: len(found) >= 3, timeout=10)  # pushed: the stream sends nothing else but pings (comments)
    stop.set()
    # hello, then the state it has (unclaimed), then the claimed state
    assert [e for e, _t in found[:3]] == ["hello", "state", "state"]


def test_playlist_region_follows_the_contract(client):
    """A playlist region put straight into a version renders each item by its widget."""
    from screens import add_layout

    items = [
        {"id": "a", "widget": "clock", "options": {}, "duration": 5, "transition": "fade"},
        {"id": "b", "widget": "clock", "options": {"hour12": True}, "duration": None, "transition": "slide"},
    ]
    region = {"id": "p", "x": 0, "y": 0, "w": 640, "h": 360, "z": 0, "widget": "playlist", "items": items}
    lid = add_layout(client.app.state.settings, publish=[region])
    headers = api_token(client, "editor")
    screen = pair(client)
    client.post("/api/v1/screens/claim", headers=headers, json={"code": screen["code"], "name": "P", "layout_id": lid})
    layout = client.get("/player/api/state", headers={"X-Screen-Key": screen["key"]}).json()["layout"]
    assert layout["emergency"] is False and (layout["id"], layout["version"]) == (lid, 1)
    [r] = layout["regions"]
    assert r["widget"] == "playlist" and r["loop"] is True
    assert [(i["id"], i["duration"], i["transition"]) for i in r["items"]] == [("a", 5, "fade"), ("b", None, "slide")]
    assert all('data-widget="clock"' in i["html"] for i in r["items"])


def test_ack_heartbeat_and_plays_check_their_input(client):
    screen = pair(client)
    key = {"X-Screen-Key": screen["key"]}
    assert client.post("/player/api/ack", headers=key, content=b"nope").status_code == 400
    r = client.post("/player/api/ack", headers=key, json={"version": "x"})
    assert r.status_code == 400 and r.json()["detail"] == {"field": "version"}
    r = client.post("/player/api/heartbeat", headers=key, json={"resolution": "x" * 99})
    assert r.status_code == 400
    r = client.post(
        "/player/api/plays", headers=key, json={"plays": [{"seconds": -1, "started_at": "2026-01-01T00:00Z"}]}
    )
    assert r.status_code == 400
    [row] = rows(client, select(Screen))
    assert row.applied_version == 0 and row.resolution == "" and row.last_seen is None
    r = client.post("/player/api/heartbeat", headers=key, json={"resolution": "1920x1080", "player_version": "1.1.0"})
    assert r.status_code == 200
    assert client.post("/player/api/ack", headers=key, json={"received": 4}).status_code == 200
    assert client.post("/player/api/ack", headers=key, json={"version": 3, "layout": "9"}).status_code == 200
    [row] = rows(client, select(Screen))
    assert (row.resolution, row.player_version, row.received_version, row.applied_version, row.applied_layout) == (
        "1920x1080",
        "1.1.0",
        4,
        3,
        "9",
    )


def test_pairing_qr_links_to_the_claim_page(client):
    r = client.get("/player/qr.svg", params={"code": "123456"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.startswith("<svg") and "http://www.w3.org/2000/svg" in r.text and "<path" in r.text
    import io

    import resvg_py
    import zxingcpp
    from PIL import Image

    drawn = Image.open(io.BytesIO(resvg_py.svg_to_bytes(svg_string=r.text)))  # read as a phone's camera would
    assert [(c.format.name, c.text) for c in zxingcpp.read_barcodes(drawn)] == [
        ("QRCode", "http://testserver/screens?code=123456")
    ]
    assert client.get("/player/qr.svg", params={"code": "<x>"}).status_code == 400
    login(client, "editor")
    page = client.get("/screens", params={"code": "123456"}).text
    assert 'name="code" inputmode="numeric" required maxlength="12" value="123456"' in page


def test_service_worker_is_served_for_the_player_scope(client):
    r = client.get("/player/sw.js")
    assert r.status_code == 200 and r.headers["service-worker-allowed"] == "/player"
    assert "javascript" in r.headers["content-type"] and "caches.open" in r.text
