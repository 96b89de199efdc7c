"""Where a media item is used, and taking it out of those places.

A layout uses an item when one of its regions' options has `media_id` equal to
its id: in the draft (`Layout.regions`) or in the published version screens play
(`LayoutVersion.content`). Only the published use blocks a delete; with the
user's confirmation the regions are taken out of the draft and a new version is
published from the previous published content without them, so unrelated draft
edits are not published along.

Playlists (issue 4) add their own finder to FINDERS: `async (session, media_id) -> [Use]`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from playlists.models import Layout, LayoutVersion


@dataclasses.dataclass
class Use:
    kind: str  # "layout" (playlists add "playlist")
    id: int
    name: str
    url: str
    published: bool  # a published version screens play uses it
    draft: bool

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


def uses_media(regions: list, media_id: int) -> bool:
    return any((r.get("options") or {}).get("media_id") == media_id for r in regions or [])


async def layout_uses(s: AsyncSession, media_id: int) -> list[Use]:
    rows = (
        await s.execute(
            select(Layout, LayoutVersion.content).outerjoin(
                LayoutVersion,
                (LayoutVersion.layout_id == Layout.id) & (LayoutVersion.version == Layout.published_version),
            )
        )
    ).all()
    uses = []
    for layout, content in rows:
        published = uses_media((content or {}).get("regions", []), media_id)
        draft = uses_media(layout.regions, media_id)
        if published or draft:
            uses.append(Use("layout", layout.id, layout.name, f"/layouts/{layout.id}", published, draft))
    return uses


Finder = Callable[[AsyncSession, int], Awaitable[list[Use]]]
FINDERS: list[Finder] = [layout_uses]


async def where_used(s: AsyncSession, media_id: int) -> list[Use]:
    uses: list[Use] = []
    for finder in FINDERS:
        uses += await finder(s, media_id)
    return uses


async def take_out(s: AsyncSession, media_id: int, user_id: int | None) -> list[tuple[int, int]]:
    """Remove the item from every layout (in the caller's transaction); the (layout, version) published."""
    published = []
    for use in await layout_uses(s, media_id):
        layout = await s.get(Layout, use.id, with_for_update=True)
        layout.regions = [r for r in layout.regions if (r.get("options") or {}).get("media_id") != media_id]
        if not use.published:
            continue
        current = await s.scalar(
            select(LayoutVersion).where(
                LayoutVersion.layout_id == layout.id, LayoutVersion.version == layout.published_version
            )
        )
        latest = await s.scalar(select(func.max(LayoutVersion.version)).where(LayoutVersion.layout_id == layout.id))
        regions = [r for r in current.content["regions"] if (r.get("options") or {}).get("media_id") != media_id]
        version = LayoutVersion(
            layout_id=layout.id,
            version=(latest or 0) + 1,
            published_by=user_id,
            content={**current.content, "regions": regions},
        )
        s.add(version)
        layout.published_version = version.version
        published.append((layout.id, version.version))
    return published
