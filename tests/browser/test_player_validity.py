"""The real player.js and an item whose validity starts later: published live (a `layout`
frame on the open stream), the item comes on by itself when its time comes, with no
other change (issue 23: the frame carried no `next_check` and the player kept its old one)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from fixtures import make_token, server_settings
from screens import CLOCK, add_layout

pytestmark = pytest.mark.browser
LATER_SECONDS = 3


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the player does not depend on the database
def test_an_item_valid_later_comes_on_by_itself_after_a_live_publish(backend, make_server, browser):
    server = make_server()
    settings = server_settings(server)
    headers = make_token(settings, "editor")
    # Version 1 plays a clock, nothing timed (its state has no next_check); the draft adds a
    # playlist, empty for now.
    r = httpx.post(f"{server.url}/api/v1/playlists", headers=headers, json={"name": "Soon", "items": []})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert httpx.post(f"{server.url}/api/v1/playlists/{pid}/publish", headers=headers).status_code == 201
    region = {
        "id": "p",
        "x": 0,
        "y": 0,
        "w": 640,
        "h": 180,
        "z": 1,
        "widget": "playlist",
        "options": {"playlist_id": pid},
    }
    layout_id = add_layout(settings, regions=[CLOCK, region], publish=[CLOCK])
    ctx = browser.new_context(viewport={"width": 640, "height": 360})
    try:
        page = ctx.new_page()
        page.goto(server.url + "/player")
        page.wait_for_function("/^\\d{6}$/.test(document.getElementById('code').textContent)")
        body = {"code": page.locator("#code").inner_text(), "name": "Soon", "layout_id": layout_id}
        assert httpx.post(f"{server.url}/api/v1/screens/claim", headers=headers, json=body).status_code == 201
        page.wait_for_function("document.getElementById('stage').dataset.version === '1'")
        assert page.evaluate("window.Signage.player.state.next_check") is None
        # The playlist's one item starts being valid in a few seconds (no screen shows it yet).
        later = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=LATER_SECONDS)).isoformat()
        items = [{"id": "later", "widget": "clock", "duration": 5, "valid_from": later}]
        r = httpx.put(f"{server.url}/api/v1/playlists/{pid}", headers=headers, json={"name": "Soon", "items": items})
        assert r.status_code == 200, r.text
        assert httpx.post(f"{server.url}/api/v1/playlists/{pid}/publish", headers=headers).status_code == 201
        r = httpx.post(f"{server.url}/api/v1/layouts/{layout_id}/publish", headers=headers)
        assert r.status_code == 201 and r.json()["version"] == 2, r.text
        page.wait_for_function("document.getElementById('stage').dataset.version === '2'", timeout=5_000)
        assert page.locator("#stage [data-region='p'] [data-item]").count() == 0  # not valid yet
        page.locator("#stage [data-region='p'] [data-item='later']").wait_for(
            state="attached", timeout=(LATER_SECONDS + 10) * 1000
        )
    finally:
        ctx.close()
