"""Test helpers for screens: claimed screens and groups written straight into the database,
layouts straight into a database, and simulated screens that hold an event stream open and
keep the newest state, the way `player/static/player/player.js` does (reconnect with `?have=`)."""

from __future__ import annotations

import json
import secrets
import threading
import time

import httpx
from fixtures import in_app, run_sync

from player.models import Screen, ScreenGroup
from playlists.models import Layout, LayoutVersion
from signage.auth import hash_token
from signage.db import Database, utcnow

CLOCK = {"id": "c", "x": 0, "y": 0, "w": 640, "h": 360, "z": 0, "widget": "clock", "options": {}}


def add_layout(settings, name: str = "Lobby", regions: list | None = None, publish: dict | None = None) -> int:
    """A layout with a draft; with `publish` (content regions), also a published version 1."""

    async def run() -> int:
        db = Database(settings.db_url)
        try:
            async with db.begin() as s:
                layout = Layout(name=name, width=640, height=360, regions=regions or [CLOCK])
                s.add(layout)
                await s.flush()
                if publish is not None:
                    content = {"width": 640, "height": 360, "regions": publish}
                    s.add(LayoutVersion(layout_id=layout.id, version=1, content=content))
                    layout.published_version = 1
                return layout.id
        finally:
            await db.close()

    return run_sync(run())


def pair_and_claim(base: str, headers: dict, name: str = "Screen", layout_id: int | None = None) -> dict:
    pair = httpx.post(f"{base}/player/api/pair").json()
    body = {"code": pair["code"], "name": name, "layout_id": layout_id}
    r = httpx.post(f"{base}/api/v1/screens/claim", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return {"key": pair["key"], "id": r.json()["id"]}


class SimScreen:
    """A screen on a thread: keeps its stream open, applies `state`/`layout` events,
    reconnects with back-off saying what it has. `events` lists (name, time)."""

    def __init__(self, base: str, key: str):
        self.base, self.key = base, key
        self.have = ""
        self.events: list[tuple[str, float]] = []
        self.revoked = self.stopped = False
        self.connects = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    @property
    def version(self) -> int:
        return int(self.have.split(":")[1]) if self.have else 0

    def apply(self, event: str, data: str) -> None:
        self.events.append((event, time.monotonic()))
        if event == "state":
            layout = json.loads(data)["layout"]
            self.have = f"{layout['id']}:{layout['version']}" if layout else ""
        elif event == "layout":
            layout = json.loads(data)
            self.have = f"{layout['id']}:{layout['version']}"
        elif event == "revoked":
            self.revoked = True

    def run(self) -> None:
        pause = 0.2  # doubles while the server is away (to 1 s), as a player's back-off does
        while not self.stopped and not self.revoked:
            try:
                url = f"{self.base}/player/api/events"
                with httpx.stream("GET", url, params={"key": self.key, "have": self.have}, timeout=30) as r:
                    if r.status_code == 401:
                        self.events.append(("unauthorized", time.monotonic()))
                        self.revoked = True
                        return
                    self.connects += 1
                    pause = 0.2
                    event = ""
                    for line in r.iter_lines():
                        if self.stopped:
                            return
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:"):
                            self.apply(event, line[5:].strip())
            except httpx.HTTPError:
                pause = min(pause * 2, 1.0)
            time.sleep(pause)

    def wait(self, test, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if test(self):
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        self.stopped = True


def add_image(settings, color: tuple[int, int, int], size=(320, 180)) -> int:
    """A PNG of one colour in the media library (file and row); returns its media id."""
    import hashlib
    import io

    from PIL import Image

    from media.models import Media

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    path = settings.media_dir / sha[:2] / f"{sha}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)

    async def run() -> int:
        db = Database(settings.db_url)
        try:
            async with db.begin() as s:
                media = Media(
                    name=f"{sha[:6]}.png", kind="image", sha256=sha, ext="png", mime="image/png", size=len(data)
                )
                s.add(media)
                await s.flush()
                return media.id
        finally:
            await db.close()

    return run_sync(run())


def playlist(items: list[tuple], region_id: str = "p") -> dict:
    """A playlist region over the whole 640x360 canvas: (media id, seconds, transition) per item,
    or (media id, seconds or None, transition, widget) for a widget other than "image"
    (a video without seconds plays to its end)."""
    return {
        "id": region_id,
        "x": 0,
        "y": 0,
        "w": 640,
        "h": 360,
        "z": 0,
        "widget": "playlist",
        "items": [
            {
                "id": f"i{n}",
                "widget": widget,
                "options": {"media_id": m, "fit": "cover"},
                "duration": d,
                "transition": t,
            }
            for n, (m, d, t, widget) in enumerate((*item, "image")[:4] for item in items)
        ],
    }


def make_group(client, name: str) -> int:
    async def add():
        async with client.app.state.db.begin() as s:
            group = ScreenGroup(name=name)
            s.add(group)
        return group.id

    return in_app(client, add)


def make_screen(client, name: str = "Lobby", layout_id: int | None = None, group_id: int | None = None):
    """A claimed screen; returns (its id, the headers it authenticates with)."""
    key = secrets.token_urlsafe(32)

    async def add():
        async with client.app.state.db.begin() as s:
            screen = Screen(
                name=name, key_hash=hash_token(key), claimed_at=utcnow(), layout_id=layout_id, group_id=group_id
            )
            s.add(screen)
        return screen.id

    return in_app(client, add), {"X-Screen-Key": key}


def state(client, headers) -> dict:
    r = client.get("/player/api/state", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


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
