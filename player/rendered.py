"""Published layout versions rendered for the player: once per version and process.

Every way a version reaches a screen takes its rendering from here: the `state` of a
screen (`/player/api/state`, a stream's catch-up, a reconnect storm through the batched
state reads) and the `layout` frame a publish sends to every open stream. A rendering
is kept under its (layout id, version) for at most `CACHE_SECONDS` (widget data inside
it is never older), and never past the moment one of its playlist items starts or stops
being valid (`change_at`); it says how long it stays right (`seconds_left`), which the
`layout` frame carries as `next_check` (the player then looks again at that moment).
A rendering is shared by every screen, so it is made in the site's language
(SIGNAGE_DEFAULT_LOCALE), never in that of whoever's request made it first.
"""

from __future__ import annotations

import json
import time

from sqlalchemy import select

from playlists import playing
from playlists.models import LayoutVersion
from signage import i18n
from signage.batching import TimedCache

CACHE_SECONDS = 30
SIZE = 64  # versions kept per process


class Rendering:
    """One version as the player gets it: `content` (width, height, regions), `layout`
    (the same with id, version and emergency: False) and `change_at` (monotonic time, or None)."""

    __slots__ = ("content", "layout", "change_at", "_frame", "_head")

    def __init__(self, layout_id: int, version: int, content: dict, change_at: float | None):
        self.content, self.change_at = content, change_at
        self.layout = {"id": layout_id, "version": version, **content, "emergency": False}
        text = json.dumps(self.layout, separators=(",", ":"), ensure_ascii=False)
        if change_at is None:  # the frame is the same whenever it is sent
            self._frame, self._head = f"event: layout\ndata: {text}\n\n".encode(), b""
        else:  # the frame ends with the seconds left at the time it is sent
            self._frame, self._head = b"", f"event: layout\ndata: {text[:-1]}".encode()

    def seconds_left(self) -> float | None:
        """Seconds until an item's validity changes (None: never), counted from now."""
        return None if self.change_at is None else max(self.change_at - time.monotonic(), 0.0)

    def frame(self) -> bytes:
        """The `layout` event of this version; with `next_check` when an item's validity changes later."""
        if self._frame:
            return self._frame
        return self._head + b',"next_check":%.3f}\n\n' % self.seconds_left()


class Gone(Exception):
    """The version asked for is not in the database (not kept, so a later ask reads again)."""


class Renderings:
    """The renderings of one app (`renderings(app)`), shared by every screen of the process."""

    def __init__(self, db, seconds: float = CACHE_SECONDS, size: int = SIZE, locale: str = "zh_CN"):
        self.db, self.locale = db, locale
        self.cache = TimedCache(seconds, size, until=lambda r: r.change_at)

    def ready(self, layout_id, version) -> Rendering | None:
        """The rendering if it is at hand and still right; else None (never waits)."""
        return self.cache.ready((layout_id, version))

    async def of(self, row: LayoutVersion) -> Rendering:
        """The rendering of a version whose row is at hand."""
        return await self.cache.get((row.layout_id, row.version), lambda: self._render(row))

    async def get(self, layout_id: int, version: int) -> Rendering | None:
        """The rendering of a version by its number (None: no such version)."""

        async def make() -> Rendering:
            async with self.db.session() as s:
                row = await s.scalar(
                    select(LayoutVersion).where(LayoutVersion.layout_id == layout_id, LayoutVersion.version == version)
                )
            if row is None:
                raise Gone()
            return await self._render(row)

        try:
            return await self.cache.get((layout_id, version), make)
        except Gone:
            return None

    async def content(self, row: LayoutVersion) -> tuple[dict, float | None]:
        """What `playing.screen_layouts` asks of a renderer: (content, seconds until an item's validity changes)."""
        rendering = await self.of(row)
        return rendering.content, rendering.seconds_left()

    async def _render(self, row: LayoutVersion) -> Rendering:
        started = time.monotonic()  # `change` is counted from when rendering began
        token = i18n.current_locale.set(self.locale)  # shared by every screen: the site's language
        try:
            content, change = await playing.render_content(self.db, row.content)
        finally:
            i18n.current_locale.reset(token)
        change_at = None if change is None else started + change
        return Rendering(row.layout_id, row.version, content, change_at)


def renderings(app) -> Renderings:
    """The app's renderings (made on first use)."""
    found = getattr(app.state, "player_renderings", None)
    if found is None:
        found = app.state.player_renderings = Renderings(app.state.db, locale=app.state.settings.default_locale)
    return found
