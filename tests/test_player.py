"""A screen: pairs, is claimed, fetches its layout, hears about publishes live."""

import threading
import time

import httpx
from conftest import api_token, csrf, login, make_token, rows, server_settings
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


def read_events(url: str, found: list, stop: threading.Event):
    """Append (event name, arrival time) of an SSE stream until told to stop or the server goes."""
    try:
        with httpx.stream("GET", url, timeout=10) as r:
            for line in r.iter_lines():
                if line.startswith("event:"):
                    found.append((line.split(":", 1)[1].strip(), time.monotonic()))
                if stop.is_set():
                    return
    except httpx.HTTPError:
        return


def test_publish_reaches_the_screen_stream_live(make_server):
    server = make_server()
    with httpx.Client(base_url=server.url) as c:
        screen = c.post("/player/api/pair").json()
    found, stop = [], threading.Event()
    t = threading.Thread(
        target=read_events, args=(f"{server.url}/player/api/events?key={screen['key']}", found, stop), daemon=True
    )
    t.start()
    deadline = time.monotonic() + 5
    while not found and time.monotonic() < deadline:
        time.sleep(0.02)
    assert found and found[0][0] == "hello"
    # Claiming over the API is an event for that screen.
    settings = server_settings(server)
    headers = make_token(settings, "editor")
    sent = time.monotonic()
    r = httpx.post(f"{server.url}/api/v1/screens/claim", headers=headers, json={"code": screen["code"], "name": "Live"})
    assert r.status_code == 201
    while len(found) < 2 and time.monotonic() < sent + 2:
        time.sleep(0.01)
    stop.set()
    assert [e for e, _t in found[:2]] == ["hello", "changed"]
    assert found[1][1] - sent < 1.0
