"""The drag-and-drop editor, playlist reordering and the emergency override, in real
Chromium against a real server, with a player open in a second browser context.

Dragging uses the real mouse (page.mouse move/down/up), never a script call.
"""

from __future__ import annotations

import json
import secrets
import time

import pytest
from fixtures import PASSWORD, make_user, run_sync, server_settings

from player.models import Screen
from playlists.models import Layout
from signage.auth import hash_token
from signage.db import Database, utcnow

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


def add_screen(server, layout_id: int | None = None) -> str:
    """A claimed screen in the server's database; returns its key."""
    key = secrets.token_urlsafe(32)

    async def add():
        db = Database(server.env["SIGNAGE_DATABASE_URL"])
        try:
            async with db.begin() as s:
                s.add(Screen(name="Lobby", key_hash=hash_token(key), claimed_at=utcnow(), layout_id=layout_id))
        finally:
            await db.close()

    run_sync(add())
    return key


def layout_row(server, layout_id: int) -> Layout:
    async def get():
        db = Database(server.env["SIGNAGE_DATABASE_URL"])
        try:
            async with db.session() as s:
                return await s.get(Layout, layout_id)
        finally:
            await db.close()

    return run_sync(get())


def sign_in(page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.locator("form[action='/login'] button[type=submit]").click()


def open_player(ctx, base: str, key: str):
    ctx.add_init_script(f"localStorage.setItem('signage.screen-key', {json.dumps(key)})")
    page = ctx.new_page()
    page.goto(base + "/player")
    return page


def drag(page, source, target_x: float, target_y: float, steps: int = 12) -> None:
    """Press on `source`'s centre, move to the target in steps, release: a real mouse drag."""
    box = source.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(target_x, target_y, steps=steps)
    page.mouse.up()


def wait_saved(page) -> None:
    page.wait_for_function("document.getElementById('save-status').textContent === 'Saved'")


@pytest.fixture
def contexts(browser):
    made = []

    def make(**kw):
        ctx = browser.new_context(**kw)
        ctx.set_default_timeout(TIMEOUT_MS)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


def test_drag_a_clock_resize_set_time_zone_publish_and_see_it_on_the_player(make_server, contexts):
    server = make_server()
    base = server.url
    email = make_user(server_settings(server), "editor")
    a = contexts(viewport={"width": 1500, "height": 950}).new_page()
    errors: list[str] = []
    a.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(a, base, email)
    a.goto(base + "/layouts")
    a.fill("form.new-layout input[name=name]", "Lobby")
    with a.expect_navigation():
        a.locator("form.new-layout button[type=submit]").click()
    layout_id = int(a.url.rsplit("/", 1)[1])
    key = add_screen(server, layout_id)
    b = open_player(contexts(viewport={"width": 960, "height": 540}), base, key)
    b.on("pageerror", lambda exc: errors.append("player: " + str(exc)))
    b.locator("#waiting").wait_for(state="visible")

    # Drag a clock from the palette onto the canvas.
    canvas = a.locator("#canvas")
    cbox = canvas.bounding_box()
    drag(
        a,
        a.locator(".palette-item[data-widget=clock]"),
        cbox["x"] + cbox["width"] * 0.3,
        cbox["y"] + cbox["height"] * 0.3,
    )
    region = a.locator(".region-box[data-widget=clock]")
    region.wait_for()
    wait_saved(a)
    saved = layout_row(server, layout_id).regions
    assert len(saved) == 1 and saved[0]["widget"] == "clock"
    w0, h0 = saved[0]["w"], saved[0]["h"]
    a.locator("#panel form.region-panel[data-widget=clock]").wait_for()

    # Resize it by its bottom-right corner.
    rbox = region.bounding_box()
    a.mouse.move(rbox["x"] + rbox["width"] - 3, rbox["y"] + rbox["height"] - 3)
    a.mouse.down()
    a.mouse.move(rbox["x"] + rbox["width"] + 120, rbox["y"] + rbox["height"] + 60, steps=10)
    a.mouse.up()
    a.wait_for_function(f"Signage.editor.state().regions[0].w > {w0}")
    wait_saved(a)
    [resized] = layout_row(server, layout_id).regions
    assert resized["w"] > w0 and resized["h"] > h0 and resized["x"] == saved[0]["x"]
    a.locator(f".exact form.region[data-region='{resized['id']}'] input[name=w][value='{resized['w']}']").wait_for()
    assert saved[0]["x"] % 10 == 0 and saved[0]["y"] % 10 == 0 and resized["w"] % 10 == 0  # snapped to the grid

    # Arrow keys nudge; duplicate, z-order and delete from the keyboard and the toolbar.
    a.keyboard.press("ArrowRight")
    a.keyboard.press("Shift+ArrowDown")
    a.wait_for_function(f"Signage.editor.state().regions[0].x === {resized['x'] + 1}")
    a.wait_for_function(f"Signage.editor.state().regions[0].y === {resized['y'] + 10}")
    a.keyboard.press("Control+d")
    a.wait_for_function("Signage.editor.state().regions.length === 2")
    copy_id = a.evaluate("Signage.editor.state().selected")
    a.locator("[data-action=backward]").click()
    a.wait_for_function(f"Signage.editor.state().regions.find(r => r.id === {copy_id!r}).z === 0")
    a.keyboard.press("Delete")
    a.wait_for_function("Signage.editor.state().regions.length === 1")
    wait_saved(a)
    [nudged] = layout_row(server, layout_id).regions
    assert (nudged["x"], nudged["y"]) == (resized["x"] + 1, resized["y"] + 10)
    region.click()
    a.locator(
        f"#panel form.region-panel[data-region='{resized['id']}'] input[name=x][value='{resized['x'] + 1}']"
    ).wait_for()

    # Set its time zone in the side panel: the canvas shows the real widget with it.
    tz = a.locator("#panel input[name='o.timezone']")
    tz.fill("America/New_York")
    tz.press("Tab")
    a.locator("#canvas .w-clock[data-tz='America/New_York']").wait_for()
    assert layout_row(server, layout_id).regions[0]["options"]["timezone"] == "America/New_York"

    # A wrong time zone is refused inline and changes nothing.
    tz = a.locator("#panel input[name='o.timezone']")
    tz.fill("Mars/Olympus")
    tz.press("Tab")
    a.locator("#panel .field-error", has_text="unknown time zone").wait_for()
    assert layout_row(server, layout_id).regions[0]["options"]["timezone"] == "America/New_York"
    a.locator("#canvas .w-clock[data-tz='America/New_York']").wait_for()

    # Undo and redo the time zone.
    a.locator("#canvas").click(position={"x": 2, "y": 2})
    a.keyboard.press("Control+z")
    a.locator("#canvas .w-clock[data-tz='Asia/Shanghai']").wait_for()
    a.keyboard.press("Control+Shift+z")
    a.locator("#canvas .w-clock[data-tz='America/New_York']").wait_for()
    wait_saved(a)

    # Publish: the player shows it (without a reload; how fast is measured in bench/).
    with a.expect_navigation():
        a.locator("#publish-form button").click()
    published = time.monotonic()
    b.locator("#stage .w-clock[data-tz='America/New_York']").wait_for(timeout=10_000)
    took = time.monotonic() - published
    print(f"publish → player: {took * 1000:.0f} ms")
    assert b.locator("#stage").get_attribute("data-version") == "1"
    assert not errors, errors


def test_reorder_a_playlist_by_dragging(make_server, contexts):
    server = make_server()
    base = server.url
    email = make_user(server_settings(server), "editor")
    a = contexts(viewport={"width": 1400, "height": 900}).new_page()
    sign_in(a, base, email)
    zones = ["Europe/London", "Asia/Tokyo", "America/New_York"]
    csrf = a.locator("meta[name=csrf-token]").get_attribute("content")
    items = [{"widget": "clock", "options": {"timezone": z}, "duration": 5} for z in zones]
    r = a.request.post(
        base + "/api/v1/playlists", data={"name": "Loop", "items": items}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status == 201, r.text()
    playlist = r.json()
    region = {"x": 0, "y": 0, "w": 1920, "h": 1080, "widget": "playlist", "options": {"playlist_id": playlist["id"]}}
    r = a.request.post(
        base + "/api/v1/layouts", data={"name": "L", "regions": [region]}, headers={"X-CSRF-Token": csrf}
    )
    layout_id = r.json()["id"]
    key = add_screen(server, layout_id)

    a.goto(f"{base}/playlists/{playlist['id']}")
    labels = a.locator("#items .playlist-item")
    assert labels.count() == 3
    # Drag the last item (New York) above the first.
    first = labels.nth(0).bounding_box()
    drag(a, labels.nth(2).locator(".handle"), first["x"] + 20, first["y"] + 5)
    ids = [i["id"] for i in playlist["items"]]
    want = [ids[2], ids[0], ids[1]]
    a.wait_for_function(
        "want => [...document.querySelectorAll('#items .playlist-item')].map(x => x.dataset.itemId).join() === want",
        arg=",".join(want),
    )
    # The page saves the new order in the background: wait for it to be stored.
    deadline = time.monotonic() + 5
    while True:
        r = a.request.get(f"{base}/api/v1/playlists/{playlist['id']}")
        if [i["id"] for i in r.json()["items"]] == want or time.monotonic() > deadline:
            break
        a.wait_for_timeout(100)
    assert [i["id"] for i in r.json()["items"]] == want
    a.reload()
    assert [x.get_attribute("data-item-id") for x in a.locator("#items .playlist-item").all()] == want

    with a.expect_navigation():
        a.locator("form[action$='/publish'] button").click()
    r = a.request.post(f"{base}/api/v1/layouts/{layout_id}/publish", headers={"X-CSRF-Token": csrf})
    assert r.status == 201, r.text()
    b = open_player(contexts(), base, key)
    got = b.evaluate(
        "async () => (await (await fetch('/player/api/state', {headers: {'X-Screen-Key':"
        " localStorage.getItem('signage.screen-key')}})).json()).layout.regions[0].items.map(i => i.id)"
    )
    assert got == want


def test_emergency_override_reaches_the_player_and_clears(make_server, contexts):
    server = make_server()
    base = server.url
    email = make_user(server_settings(server), "editor")
    a = contexts(viewport={"width": 1300, "height": 900}).new_page()
    sign_in(a, base, email)
    csrf = a.locator("meta[name=csrf-token]").get_attribute("content")
    clock = {"x": 0, "y": 0, "w": 1920, "h": 1080, "widget": "clock", "options": {}}
    r = a.request.post(base + "/api/v1/layouts", data={"name": "L", "regions": [clock]}, headers={"X-CSRF-Token": csrf})
    layout_id = r.json()["id"]
    a.request.post(f"{base}/api/v1/layouts/{layout_id}/publish", headers={"X-CSRF-Token": csrf})
    b = open_player(contexts(viewport={"width": 960, "height": 540}), base, add_screen(server, layout_id))
    b.locator("#stage .w-clock").wait_for()

    a.goto(base + "/emergency")
    a.fill("form.start-emergency textarea[name=message]", "Please leave the building by the nearest exit")
    with a.expect_navigation():
        a.locator("form.start-emergency button[type=submit]").click()
    started = time.monotonic()
    b.locator("#stage .w-emergency", has_text="nearest exit").wait_for(timeout=10_000)
    took = time.monotonic() - started
    print(f"emergency → player: {took * 1000:.0f} ms")
    assert a.locator(".emergency-active").count() == 1

    with a.expect_navigation():
        a.locator(".emergency-active button").click()
    b.locator("#stage .w-clock").wait_for(timeout=5_000)
    assert b.locator("#stage .w-emergency").count() == 0
    assert a.locator(".emergency-active").count() == 0
