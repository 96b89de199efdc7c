"""The player in real Chromium: playlists without black gaps (pictures, and videos that
play through), pairing with a QR code, identify, proof of play, offline (secure origin with the service worker, and plain
http on a LAN address without one), the watchdog, and memory over a long run."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import threading
import time

import httpx
import pytest
from fixtures import PASSWORD, free_port, make_token, make_user, run_sync, server_settings, wait_for
from screens import CLOCK, add_image, add_layout, playlist
from sqlalchemy import func, select
from videos import make_video

from browser.conftest import LAN_NAME
from player.models import Play
from playlists.models import Layout, LayoutVersion
from signage.db import Database

pytestmark = pytest.mark.browser
OFFLINE_SECONDS = float(os.environ.get("SIGNAGE_TEST_OFFLINE_SECONDS", "8"))
RED, GREEN, BLUE, YELLOW = (220, 30, 30), (30, 200, 60), (30, 60, 220), (230, 200, 30)

# Counts animation frames where the playlist region shows nothing whole (a black gap),
# and the order in which items come on top.
SAMPLER = """() => {
  window.__gaps = 0; window.__frames = 0; window.__order = [];
  const whole = (el) => {
    const cs = getComputedStyle(el);
    if (cs.visibility !== 'visible' || parseFloat(cs.opacity) < 0.99) return false;
    if (cs.transform !== 'none' && Math.abs(new DOMMatrix(cs.transform).m41) > 1) return false;
    const img = el.querySelector('img');
    return !img || (img.complete && img.naturalWidth > 0);
  };
  (function sample() {
    const region = document.querySelector('#stage [data-region="p"]');
    if (region) {
      window.__frames++;
      if (!Array.from(region.children).some(whole)) window.__gaps++;
      const on = Array.from(region.querySelectorAll('.item.on')).sort((a, b) => b.style.zIndex - a.style.zIndex)[0];
      if (on && window.__order[window.__order.length - 1] !== on.dataset.item) window.__order.push(on.dataset.item);
    }
    requestAnimationFrame(sample);
  })();
}"""


def claim(page, server, headers, layout_id, name="Lobby screen", base: str | None = None) -> int:
    """Pair the player open in `page` (at `base`, default the server's address) with `layout_id`."""
    page.goto((base or server.url) + "/player")
    page.wait_for_function("/^\\d{6}$/.test(document.getElementById('code').textContent)")
    code = page.locator("#code").inner_text()
    r = httpx.post(
        f"{server.url}/api/v1/screens/claim", headers=headers, json={"code": code, "name": name, "layout_id": layout_id}
    )
    assert r.status_code == 201, r.text
    page.locator("#stage").wait_for(state="visible")
    return r.json()["id"]


def republish(server, headers, screen_id: int, layout_id: int, regions: list) -> int:
    """A new version with `regions` (as the schedules work will publish playlists), then the screen is told."""

    async def run() -> int:
        db = Database(server_settings(server).db_url)
        try:
            async with db.begin() as s:
                layout = await s.get(Layout, layout_id)
                layout.published_version += 1
                content = {"width": 640, "height": 360, "regions": regions}
                s.add(LayoutVersion(layout_id=layout_id, version=layout.published_version, content=content))
                return layout.published_version
        finally:
            await db.close()

    version = run_sync(run())
    r = httpx.post(f"{server.url}/screens/{screen_id}", headers=headers, data={"layout_id": str(layout_id)})
    assert r.status_code == 303, r.text
    return version


def setup(make_server, host="127.0.0.1", seconds=1.0):
    server = make_server(host=host)
    settings = server_settings(server)
    headers = make_token(settings, "editor")
    media = [add_image(settings, c) for c in (RED, GREEN, BLUE)]
    items = [(media[0], seconds, "fade"), (media[1], seconds, "slide"), (media[2], seconds, "none")]
    layout_id = add_layout(settings, regions=[CLOCK], publish=[playlist(items)])
    return server, settings, headers, layout_id, items


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the player does not depend on the database
def test_playlist_pairing_identify_and_proof_of_play(backend, make_server, browser):
    server, settings, headers, layout_id, _items = setup(make_server)
    ctx = browser.new_context(viewport={"width": 960, "height": 540})
    editor = browser.new_context()
    try:
        b = ctx.new_page()
        b.goto(server.url + "/player")
        b.wait_for_function("document.getElementById('qr').complete && document.getElementById('qr').naturalWidth > 0")
        screen_id = claim(b, server, headers, layout_id)
        b.evaluate(SAMPLER)
        b.wait_for_function("window.__order.length >= 5", timeout=10_000)
        order, gaps, frames = b.evaluate("[window.__order, window.__gaps, window.__frames]")
        assert order[:5] == ["i0", "i1", "i2", "i0", "i1"], order
        assert frames > 60 and gaps == 0, f"{gaps} of {frames} frames showed no whole item"
        # letterboxed: 640x360 scaled into 960x540
        assert b.evaluate("document.getElementById('stage').getBoundingClientRect().width") == pytest.approx(960, abs=1)

        # The editor sees it online and up to date, live, and asks it to identify itself.
        a = editor.new_page()
        email = make_user(settings, "editor")
        a.goto(server.url + "/login")
        a.fill("input[name=email]", email)
        a.fill("input[name=password]", PASSWORD)
        with a.expect_navigation():
            a.click("form[action='/login'] button")
        a.goto(server.url + "/screens")
        row = a.locator(f"tr[data-screen-id='{screen_id}']")
        row.locator(".applied").wait_for()
        assert row.locator(".status").inner_text() == "Online"
        assert "960x540" in row.inner_text()
        with a.expect_navigation():
            row.get_by_role("button", name="Identify").click()
        b.locator("#identify").wait_for(state="visible", timeout=2_000)
        assert b.locator("#identify").inner_text() == "Lobby screen"

        # A publish: the open screens page follows it live, from "not yet received" to "applied".
        a.evaluate("window.__marker = 1")
        r = httpx.post(f"{server.url}/api/v1/layouts/{layout_id}/publish", headers=headers)
        assert r.status_code == 201
        row.locator(".update", has_text="v2").locator(".applied").wait_for(timeout=5_000)
        assert a.evaluate("window.__marker") == 1
        assert b.locator("#stage").get_attribute("data-version") == "2"

        # Proof of play: what it played reaches the report (sent after a reload here).
        b.reload()
        b.locator("#stage").wait_for(state="visible")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            a.goto(server.url + "/screens/plays")
            if a.locator("table.plays td", has_text="i1").count():
                break
            time.sleep(0.5)
        report = a.locator("table.plays").inner_text()
        assert "Lobby screen" in report and "i0" in report and "i1" in report and "image" in report

        # Unpaired (its key revoked): the screen returns to a new pairing code by itself.
        b.evaluate("window.__marker = 1")
        assert httpx.delete(f"{server.url}/api/v1/screens/{screen_id}", headers=headers).status_code == 204
        b.locator("#pairing").wait_for(state="visible", timeout=5_000)
        b.wait_for_function("/^\\d{6}$/.test(document.getElementById('code').textContent)")
        assert b.evaluate("window.__marker") == 1 and b.locator("#stage").is_hidden()
        assert b.evaluate("localStorage.getItem('signage.state')") is None
    finally:
        ctx.close()
        editor.close()


# Installed before the player's page loads; from the stage's first frame on, at every
# animation frame:
# - a gap: no item is whole (fully opaque, in place) with its picture decoded or its video
#   holding a frame (readyState >= 2, not seeking); or an item seen at all (not under a
#   whole one) has no frame, so its black box or its poster shows;
# - each video seen is drawn into a canvas: its pixel must be its own colour, not black;
# - a video that plays while its item is not on (it would come on mid-way);
# - an item seen that is neither the one on top nor the one it came on over (stale);
# - kept: the order and time at which items come on top (and stages come in), the
#   `ended` events, and the currentTime of the video on top.
# And at every `seeking` event: a seen video that seeks (it shows a stale frame, then jumps),
# but for the video on top going round its loop.
VIDEO_SAMPLER = """(colors) => {
  const v = (window.__v = { frames: 0, drawn: 0, idle: [], gaps: [], wrong: [], jumps: [], stale: [], order: [], ended: [],
    times: [], stages: [] });
  let shown = null;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 4;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const look = (el, n) => {
    const cs = getComputedStyle(el), opacity = parseFloat(cs.opacity);
    const shift = cs.transform !== 'none' ? Math.abs(new DOMMatrix(cs.transform).m41) : 0;
    const seen = cs.visibility === 'visible' && opacity > 0 && shift < el.offsetWidth;
    const img = el.querySelector('img'), video = el.querySelector('video');
    const ready = img ? img.complete && img.naturalWidth > 0 : Boolean(video && video.readyState >= 2 && !video.seeking);
    const state = video ? `rs=${video.readyState}${video.seeking ? ' seeking' : ''} t=${video.currentTime.toFixed(2)}`
      : `img=${Boolean(img && img.complete)}`;
    return { el, item: el.dataset.item, z: Number(el.style.zIndex || 0), n, seen, ready, video,
      whole: seen && opacity >= 0.99 && shift <= 1, what: `${el.dataset.item} ${el.className} o=${opacity} x=${shift} ${state}` };
  };
  // The playlist's items, topmost first; `seen`: those not under a whole one.
  const survey = () => {
    const stage = document.getElementById('stage');
    const region = stage && !stage.hidden && stage.querySelector('[data-region="p"]');
    if (!region) return null;
    const items = Array.from(region.children, look).sort((a, b) => b.z - a.z || b.n - a.n);
    const cover = items.findIndex((i) => i.whole);
    const seen = items.filter((i, n) => i.seen && (cover < 0 || n <= cover));
    return { stage, items, seen, what: () => items.map((i) => i.what).join(' | ') };
  };
  document.addEventListener('ended', (e) => {
    const item = e.target.closest && e.target.closest('.item');
    v.ended.push([item ? item.dataset.item : '', performance.now()]);
  }, true);
  document.addEventListener('seeking', (e) => {
    const s = survey(), i = s && s.seen.find((i) => i.video === e.target);
    if (i && !(i === s.items[0] && e.target.loop)) v.jumps.push([performance.now(), i.item + ' seeks while seen: ' + s.what()]);
  }, true);
  (function sample() {
    requestAnimationFrame(sample);
    const s = survey();
    if (!s) return;
    const t = performance.now();
    if (s.stage !== shown) { shown = s.stage; v.stages.push([s.stage.dataset.version, t]); }
    v.frames++;
    if (!s.items.some((i) => i.whole && i.ready)) v.gaps.push([t, 'nothing whole: ' + s.what()]);
    for (const i of s.seen) {
      if (!i.ready) { v.gaps.push([t, i.item + ' seen without a frame: ' + s.what()]); continue; }
      if (!i.video) continue;
      ctx.clearRect(0, 0, 4, 4);  // drawn nothing: black
      ctx.drawImage(i.video, 0, 0, 4, 4);
      v.drawn++;
      const px = Array.from(ctx.getImageData(2, 2, 1, 1).data.slice(0, 3));
      if (px.some((c, k) => Math.abs(c - colors[i.item][k]) > 48)) v.wrong.push([t, i.item, px]);
    }
    for (const i of s.items) {  // a video plays only while its item is on
      if (i.video && !i.video.paused && !i.el.classList.contains('on')) v.idle.push([t, i.item, i.video.currentTime]);
    }
    const on = s.items.find((i) => i.el.classList.contains('on'));
    if (on && (!v.order.length || v.order[v.order.length - 1][0] !== on.item)) v.order.push([on.item, t]);
    const latest = v.order.slice(-2).map(([item]) => item);
    for (const i of s.seen) if (!latest.includes(i.item)) v.stale.push([t, i.item + ' seen, after ' + latest + ': ' + s.what()]);
    if (on && on.video) v.times.push([on.item, t, on.video.currentTime]);
  })();
}"""


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_playlist_of_videos_plays_them_through_without_black_gaps(backend, make_server, browser, tmp_path):
    """video, video, picture, video: two videos back to back (red to green, and yellow to
    red when it starts over), and videos next to a picture, for two full rounds."""
    server = make_server()
    settings = server_settings(server)
    headers = make_token(settings, "editor")
    h264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-an"]
    clips = {  # name: (colour, seconds)
        "red.mp4": (RED, 0.6),
        "green.mp4": (GREEN, 1.5),
        "yellow.mp4": (YELLOW, 1),
    }
    ids = {}
    for name, (color, seconds) in clips.items():  # through the real upload and its background job
        path = make_video(tmp_path / name, h264, seconds=seconds, color="0x{:02x}{:02x}{:02x}".format(*color))
        r = httpx.post(f"{server.url}/api/v1/media", headers=headers, files=[("files", (name, path.read_bytes()))])
        assert r.status_code == 201, r.text
        ids[name] = r.json()["items"][0]["id"]
    for media_id in ids.values():
        deadline = time.monotonic() + 30
        while (item := httpx.get(f"{server.url}/api/v1/media/{media_id}", headers=headers).json())["status"] == (
            "processing"
        ) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert item["status"] == "ready" and item["poster_url"], item
    items = [
        (ids["red.mp4"], None, "none", "video"),  # to its end (0.6 s: less than a transition), cut in over yellow
        (ids["green.mp4"], 1.0, "fade", "video"),  # 1 s of 1.5 s: fades in over red; ends under the picture
        (add_image(settings, BLUE), 1.0, "slide"),
        (ids["yellow.mp4"], None, "fade", "video"),  # to its end (1 s)
    ]
    colors = {"i0": RED, "i1": GREEN, "i2": BLUE, "i3": YELLOW}
    layout_id = add_layout(settings, regions=[CLOCK], publish=[playlist(items)])
    ctx = browser.new_context(viewport={"width": 640, "height": 360})
    errors: list[str] = []
    try:
        ctx.add_init_script(f"({VIDEO_SAMPLER})({json.dumps(colors)})")
        b = ctx.new_page()
        b.on("pageerror", lambda exc: errors.append(str(exc)))
        screen_id = claim(b, server, headers, layout_id)
        b.wait_for_function("window.__v.order.length >= 9", timeout=20_000)  # two rounds, and the first again
        # A new version comes in while it plays: in once its first video has a frame.
        version = republish(server, headers, screen_id, layout_id, [playlist(items)])
        b.wait_for_function(
            f"""() => {{ const s = window.__v.stages.find(([version]) => version === '{version}');
            return s && window.__v.order.some(([item, t]) => item === 'i1' && t > s[1]); }}""",
            timeout=10_000,
        )
        v = b.evaluate("window.__v")
        order = [item for item, _t in v["order"]]
        assert order[:9] == ["i0", "i1", "i2", "i3"] * 2 + ["i0"], order
        assert [version for version, _t in v["stages"]] == ["1", str(version)], v["stages"]
        assert v["frames"] > 200 and v["drawn"] > 150, (v["frames"], v["drawn"])
        assert not v["gaps"], f"{len(v['gaps'])} of {v['frames']} frames with a gap: {v['gaps']}"
        assert not v["jumps"], v["jumps"]
        assert not v["stale"], f"{len(v['stale'])} frames show an item gone before: {v['stale'][:3]}"
        assert not v["idle"], f"videos playing while not on: {v['idle'][:5]}"
        assert not v["wrong"], f"{len(v['wrong'])} frames of a video in another colour, first: {v['wrong'][:3]}"

        for (item, start), (_next, end) in zip(v["order"][:8], v["order"][1:9], strict=True):
            seconds = (end - start) / 1000
            ended = [t for i, t in v["ended"] if i == item and start < t <= end]
            times = [c for i, t, c in v["times"] if i == item and start <= t < end]
            if item in ("i0", "i3"):  # no duration: on until its video ends, then the next at once
                length = 0.6 if item == "i0" else 1.0
                assert ended, f"{item} went before its video ended ({seconds:.2f} s)"
                # the next follows its end, not some later tick (bounds generous: not a speed check)
                assert (end - ended[0]) / 1000 < 3, f"{item}: the next came {end - ended[0]:.0f} ms after its end"
                assert length - 0.1 < seconds < length + 3, (item, seconds)
                assert max(times) >= length - 0.1, (item, max(times))
            elif item == "i1":  # 1 s of a 1.5 s video: the duration decides
                assert not ended and 0.9 < seconds, (item, seconds, ended)  # not ended: not the video's 1.5 s
            else:
                assert 0.9 < seconds < 4, (item, seconds)
            if item != "i2":  # it plays, from its start: not a poster, not a still frame
                assert times and min(times) < 0.5 and max(times) - min(times) > 0.5 * seconds, (
                    item,
                    times[:3],
                    times[-3:],
                )
                assert all(y >= x for x, y in zip(times, times[1:], strict=False)), (
                    f"{item} went back while on: {times}"
                )
        assert not errors, errors
    finally:
        ctx.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the player does not depend on the database
@pytest.mark.parametrize("origin", ["loopback", "lan"])
def test_keeps_playing_offline_and_recovers(backend, make_server, browser, origin):
    """Secure origin (127.0.0.1): service worker, even a reload while offline plays on.
    Plain http on a LAN address (no service worker, no Cache API): localStorage and media held in memory."""
    server, settings, headers, layout_id, _items = setup(make_server, seconds=0.7)
    # the LAN variant: a name Chromium resolves to the server's 127.0.0.1 but, not being loopback, is no secure origin
    base = server.url if origin == "loopback" else f"http://{LAN_NAME}:{server.port}"
    ctx = browser.new_context(viewport={"width": 640, "height": 360})
    try:
        b = ctx.new_page()
        claim(b, server, headers, layout_id, base=base)
        secure = b.evaluate("window.isSecureContext")
        assert secure is (origin == "loopback")
        if secure:
            b.wait_for_function("navigator.serviceWorker.controller !== null", timeout=10_000)
            assert b.locator("body").get_attribute("data-storage") == "service-worker"
            # the worker has the media of the layout
            b.wait_for_function(
                "caches.open('signage-player-1').then(c => c.keys()).then(k => window.__cached = k.length)"
            )
            b.wait_for_function("window.__cached >= 6", timeout=10_000)  # shell (4) and at least 2 media
        else:
            assert b.evaluate("'serviceWorker' in navigator || 'caches' in window") is False
            assert b.locator("body").get_attribute("data-storage") == "local"
        assert b.evaluate("JSON.parse(localStorage.getItem('signage.state')).layout.version") == 1

        server.stop()
        offline_from = dt.datetime.now(dt.UTC)
        if secure:  # even a reload while the server is away comes back with the layout
            b.reload()
            b.locator("#stage").wait_for(state="visible")
            b.wait_for_function("document.querySelectorAll('#stage img.w-image').length === 3")
        b.evaluate(SAMPLER)
        b.evaluate("window.__marker = 1")
        time.sleep(OFFLINE_SECONDS)
        order, gaps = b.evaluate("[window.__order, window.__gaps]")
        assert len(order) >= OFFLINE_SECONDS / 0.7 * 0.6, f"the playlist stalled while offline: {order}"
        assert gaps == 0
        assert b.evaluate("Array.from(document.querySelectorAll('#stage img')).every(i => i.naturalWidth > 0)")

        server.start()
        r = httpx.post(f"{server.url}/api/v1/layouts/{layout_id}/publish", headers=headers)
        assert r.status_code == 201
        b.wait_for_function("document.getElementById('stage').dataset.version === '2'", timeout=20_000)
        assert b.evaluate("window.__marker") == 1, "the player reloaded instead of recovering"
        b.locator("#stage .w-clock-time").wait_for(state="visible")
        # what it played while the server was away was kept and has been sent since
        deadline = time.monotonic() + 15
        while played_since(server, offline_from) < 5 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert played_since(server, offline_from) >= 5
    finally:
        ctx.close()


def played_since(server, since) -> int:
    async def run() -> int:
        db = Database(server_settings(server).db_url)
        try:
            async with db.session() as s:
                return await s.scalar(select(func.count()).select_from(Play).where(Play.started_at >= since))
        finally:
            await db.close()

    return run_sync(run())


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_watchdog_reloads_a_stalled_player(backend, make_server, browser):
    server, settings, headers, layout_id, _items = setup(make_server)
    ctx = browser.new_context()
    try:
        b = ctx.new_page()
        b.goto(server.url + "/player?watchdog=3")
        b.wait_for_function("/^\\d{6}$/.test(document.getElementById('code').textContent)")
        r = httpx.post(
            f"{server.url}/api/v1/screens/claim",
            headers=headers,
            json={"code": b.locator("#code").inner_text(), "name": "W", "layout_id": layout_id},
        )
        assert r.status_code == 201
        b.locator("#stage").wait_for(state="visible")
        b.evaluate("window.__marker = 1")
        b.evaluate("() => { const t = Date.now(); while (Date.now() - t < 4500) {} }")  # rendering hangs
        b.wait_for_function("window.__marker === undefined", timeout=10_000)
        b.locator("#stage").wait_for(state="visible")
        assert b.url.endswith("/player?watchdog=3")
        # a remote reload from the fleet
        b.evaluate("window.__marker = 2")
        r = httpx.post(f"{server.url}/screens/{r.json()['id']}/reload", headers=headers, follow_redirects=False)
        assert r.status_code == 303
        b.wait_for_function("window.__marker === undefined", timeout=5_000)
        b.locator("#stage").wait_for(state="visible")
    finally:
        ctx.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_memory_does_not_grow_over_a_long_run(backend, make_server, browser):
    server, settings, headers, layout_id, items = setup(make_server, seconds=0.25)
    ctx = browser.new_context()
    try:
        b = ctx.new_page()
        screen_id = claim(b, server, headers, layout_id)
        cdp = ctx.new_cdp_session(b)
        cdp.send("Performance.enable")

        def metrics() -> dict:
            cdp.send("HeapProfiler.collectGarbage")
            return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}

        time.sleep(2)
        before = metrics()
        for _ in range(6):  # new versions while it plays: each rebuilds the stage
            version = republish(server, headers, screen_id, layout_id, [playlist(items)])
            b.wait_for_function(f"document.getElementById('stage').dataset.version === '{version}'")
            time.sleep(1.5)
        after = metrics()
        print({k: (before[k], after[k]) for k in ("JSHeapUsedSize", "Nodes", "JSEventListeners", "Documents")})
        assert after["Nodes"] <= before["Nodes"] * 1.1
        assert after["JSEventListeners"] <= before["JSEventListeners"] + 5
        assert after["JSHeapUsedSize"] <= before["JSHeapUsedSize"] * 1.25 + 512 * 1024
        assert b.evaluate("document.querySelectorAll('#stage .item').length") == 3
        assert len(b.evaluate("JSON.parse(localStorage.getItem('signage.plays') || '[]')")) < 500
    finally:
        ctx.close()


class Relay:
    """A TCP relay to a server whose wire can be cut: `cut()` drops every connection through
    it and refuses new ones (the page's network is gone, the server runs on), `mend()` lets
    connections through again. (Chromium's offline emulation, `context.set_offline`, fails
    new requests only: an open event stream outlives it.)"""

    def __init__(self, port: int):
        self.target, self.port = port, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.open = True
        self.pairs: set[tuple] = set()
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(asyncio.start_server(self.relay, "127.0.0.1", self.port))
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        started.wait()

    async def relay(self, reader, writer) -> None:
        if not self.open:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self.pairs.add(pair)

        async def pipe(source, sink) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except OSError:  # the other side is gone, or the wire was cut
                pass
            finally:
                sink.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self.pairs.discard(pair)

    def _call(self, fn) -> None:
        async def run():
            fn()

        asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def cut(self) -> None:
        def cut() -> None:
            self.open = False
            for pair in self.pairs:
                for writer in pair:
                    writer.transport.abort()

        self._call(cut)

    def mend(self) -> None:
        self._call(lambda: setattr(self, "open", True))

    def close(self) -> None:
        self.cut()
        self._call(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


# Installed in a playing page: every version the stage shows, with whether the player was
# connected (its stream's hello seen since the last error) and how often it had reconnected.
VERSIONS = """() => {
  window.__versions = [];
  (function sample() {
    const stage = document.getElementById('stage');
    const version = stage && !stage.hidden ? stage.dataset.version : null;
    const last = window.__versions[window.__versions.length - 1];
    if (!last || last[0] !== version) {
      window.__versions.push([version, Signage.player.online, Signage.player.reconnects]);
    }
    requestAnimationFrame(sample);
  })();
}"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("away", ["network", pytest.param("restart", marks=pytest.mark.slow)])
def test_a_publish_missed_while_disconnected_is_caught_up(backend, make_server, browser, away):
    """The real player.js, paired, misses a publish while disconnected and catches up by itself
    once it is back, without reloading: `network` cuts the page's connections to the server
    (a relay between them) while the server announces the publish live; `restart` stops the
    server, publishes through another process on the same database, and starts the server
    again on its port."""
    server, settings, headers, layout_id, _items = setup(make_server)
    relay = Relay(server.port) if away == "network" else None
    ctx = browser.new_context(viewport={"width": 640, "height": 360})
    try:
        b = ctx.new_page()
        screen_id = claim(b, server, headers, layout_id, base=relay.url if relay else None)
        b.wait_for_function("Signage.player.online && document.getElementById('stage').dataset.version === '1'")
        b.wait_for_function("document.querySelectorAll('#stage img.w-image').length === 3")
        b.evaluate(VERSIONS)
        b.evaluate("window.__marker = 1")

        publisher = server
        if relay:
            relay.cut()
        else:
            publisher = make_server()  # the same database and data dir
            server.stop()
        b.wait_for_function("!Signage.player.online", timeout=20_000)  # its stream broke: it knows it is away
        r = httpx.post(f"{publisher.url}/api/v1/layouts/{layout_id}/publish", headers=headers)
        assert r.status_code == 201, r.text
        assert r.json()["version"] == 2
        assert b.locator("#stage").get_attribute("data-version") == "1"  # missed: nothing reached the page
        if relay:
            relay.mend()
        else:
            publisher.stop()
            server.start()

        # back: version 2 (the draft: the clock alone, the playlist gone) comes in by itself
        b.wait_for_function("document.getElementById('stage').dataset.version === '2'", timeout=30_000)
        b.locator("#stage .w-clock-time").wait_for(state="visible")
        assert b.locator("#stage img.w-image").count() == 0
        assert b.evaluate("window.__marker") == 1, "the player reloaded instead of catching up"
        versions = b.evaluate("window.__versions")
        assert [v for v, _online, _n in versions] == ["1", "2"], versions
        _v, online, reconnects = versions[-1]
        assert online and reconnects >= 1, versions  # over a new stream, after reconnecting

        def applied():
            screens = httpx.get(f"{server.url}/api/v1/screens", headers=headers).json()
            return next(s for s in screens if s["id"] == screen_id)["applied_version"] == 2

        wait_for(applied)  # and the server knows the screen shows it
    finally:
        ctx.close()
        if relay:
            relay.close()
