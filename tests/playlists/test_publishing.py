"""Publishing reaches every affected screen's event stream at once (pushed; the stream sends
nothing else but pings): a screen that plays the layout through a group schedule entry, and
screens under an emergency override."""

import secrets
import threading

import httpx
from fixtures import make_token, run_sync, server_settings, wait_for
from screens import read_events

from player.models import Screen, ScreenGroup
from signage.auth import hash_token
from signage.db import Database, utcnow

CLOCK = {"x": 0, "y": 0, "w": 100, "h": 100, "widget": "clock", "options": {}}


def screen_in_a_group(database_url: str) -> tuple[str, int]:
    key = secrets.token_urlsafe(32)

    async def add():
        db = Database(database_url)
        try:
            async with db.begin() as s:
                group = ScreenGroup(name="Lobbies")
                s.add(group)
                await s.flush()
                s.add(Screen(name="Lobby 1", key_hash=hash_token(key), claimed_at=utcnow(), group_id=group.id))
            return group.id
        finally:
            await db.close()

    return key, run_sync(add())


def listen(server, key):
    found, stop = [], threading.Event()
    url = f"{server.url}/player/api/events?key={key}"
    threading.Thread(target=read_events, args=(url, found, stop), daemon=True).start()
    wait_for(lambda: found, timeout=10)
    assert found[0][0] == "hello"
    return found, stop


def heard(found, n) -> None:
    """The stream has sent `n` events (arrival within a generous timeout: speed is for bench/)."""
    wait_for(lambda: len(found) >= n, timeout=10)


def test_scheduled_and_overridden_screens_hear_at_once(make_server):
    server = make_server()
    headers = make_token(server_settings(server), "editor")
    key, group = screen_in_a_group(server.env["SIGNAGE_DATABASE_URL"])
    found, stop = listen(server, key)
    try:
        with httpx.Client(base_url=server.url, headers=headers) as c:
            lid = c.post("/api/v1/layouts", json={"name": "L", "regions": [CLOCK]}).json()["id"]
            r = c.post("/api/v1/schedules", json={"layout_id": lid, "group_id": group, "start_date": "2026-01-01"})
            assert r.status_code == 201, r.text
            heard(found, 2)  # the new entry
            assert c.post(f"/api/v1/layouts/{lid}/publish").status_code == 201
            heard(found, 3)  # the publish, through the group's entry
            state = c.get("/player/api/state", headers={"X-Screen-Key": key}).json()
            assert state["layout"]["id"] == lid
            eid = c.post("/api/v1/emergency", json={"message": "Evacuate"}).json()["id"]
            heard(found, 4)
            c.post(f"/api/v1/emergency/{eid}/clear")
            heard(found, 5)
    finally:
        stop.set()
    assert [e for e, _t in found[:5]] == ["hello", "state", "state", "state", "state"]
