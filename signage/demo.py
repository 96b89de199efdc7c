"""Demo data: a user per role, a generated image, and a lobby layout with it and a clock.

Idempotent: running it again changes nothing but the demo users' passwords.
"""

from __future__ import annotations

import io
import os

from PIL import Image, ImageDraw
from sqlalchemy import func, select

from signage.db import Database
from signage.settings import Settings
from signage.users import create_or_update

DEMO_PASSWORD = "signage-demo"
USERS = [
    ("admin@example.com", "admin", "Admin"),
    ("editor@example.com", "editor", "Marketing Editor"),
    ("roomadmin@example.com", "room_admin", "Room Admin"),
    ("service@example.com", "service", "Front Desk"),
    ("member@example.com", "member", "Employee"),
]


def demo_image() -> bytes:
    im = Image.new("RGB", (1280, 1080), "#0b5cad")
    draw = ImageDraw.Draw(im)
    for i in range(0, 1280, 80):
        draw.rectangle([i, 0, i + 40, 1080], fill="#0e6ccc")
    draw.ellipse([340, 240, 940, 840], fill="#ffb000")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


async def load(settings: Settings) -> str:
    password = os.environ.get("SIGNAGE_DEMO_PASSWORD", DEMO_PASSWORD)
    ids = {}
    for email, role, name in USERS:
        ids[role], _created = await create_or_update(settings, email, password, role, name)
    await _content(settings, ids["editor"])
    return password


async def _content(settings: Settings, editor_id: int) -> None:
    import hashlib

    from media import images
    from media.models import Media
    from playlists.models import Layout

    data = demo_image()
    sha = hashlib.sha256(data).hexdigest()
    folder = settings.media_dir / sha[:2]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha}.png"
    if not path.exists():
        path.write_bytes(data)
        images.thumbnail(path, folder / f"{sha}.thumb.webp")
    db = Database(settings.db_url)
    try:
        async with db.begin() as s:
            media = await s.scalar(select(Media).where(Media.sha256 == sha))
            if media is None:
                media = Media(
                    name="welcome.png",
                    kind="image",
                    sha256=sha,
                    ext="png",
                    mime="image/png",
                    size=len(data),
                    width=1280,
                    height=1080,
                    uploaded_by=editor_id,
                )
                s.add(media)
                await s.flush()
            if not await s.scalar(select(func.count()).select_from(Layout)):
                await s.flush()
                await _lobby_layout(s, settings, media.id, editor_id)
    finally:
        await db.close()


async def _lobby_layout(s, settings: Settings, media_id: int, editor_id: int) -> None:
    """An image beside a clock, published as version 1."""
    from playlists.models import Layout, LayoutVersion

    clock = {"timezone": settings.timezone, "hour12": False, "show_date": True, "style": "digital"}
    regions = [
        {
            "id": "img1",
            "x": 0,
            "y": 0,
            "w": 1280,
            "h": 1080,
            "z": 0,
            "widget": "image",
            "options": {"media_id": media_id, "fit": "cover"},
        },
        {"id": "clk1", "x": 1280, "y": 0, "w": 640, "h": 1080, "z": 1, "widget": "clock", "options": clock},
    ]
    layout = Layout(name="Lobby welcome", width=1920, height=1080, regions=regions, published_version=1)
    s.add(layout)
    await s.flush()
    content = {"width": layout.width, "height": layout.height, "regions": regions}
    s.add(LayoutVersion(layout_id=layout.id, version=1, content=content, published_by=editor_id))
