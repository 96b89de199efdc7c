"""Where a media item is used, and taking it out of those places.

A layout uses an item when one of its regions' options has `media_id` equal to
its id: in the draft (`Layout.regions`) or in the published version screens play
(`LayoutVersion.content`). Only the published use blocks a delete; with the
user's confirmation the regions are taken out of the draft and a new version is
published from the previous published content without them, so unrelated draft
edits are not published along.

A playlist uses an item when one of its items' options has that `media_id`, in
its draft or its published version; a published layout holds a snapshot of its
playlists' items (regions of widget "playlist" with "items"), searched too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from playlists.models import Layout, LayoutVersion, Playlist, PlaylistVersion


@dataclasses.dataclass
class Use:
    kind: str  # "layout" or "playlist"
    id: int
    name: str
    url: str
    published: bool  # a published version screens play uses it
    draft: bool

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


def _is(part: dict, media_id: int) -> bool:
    return (part.get("options") or {}).get("media_id") == media_id


def uses_media(regions: list, media_id: int) -> bool:
    """Regions (or playlist items) that show the item, directly or in a playlist snapshot."""
    return any(_is(r, media_id) or uses_media(r.get("items") or [], media_id) for r in regions or [])


def without(regions: list, media_id: int) -> list:
    """The regions (or items) with the item taken out, also from playlist snapshots."""
    out = []
    for r in regions:
        if _is(r, media_id):
            continue
        if r.get("items"):
            r = {**r, "items": without(r["items"], media_id)}
        out.append(r)
    return out


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


async def playlist_uses(s: AsyncSession, media_id: int) -> list[Use]:
    rows = (
        await s.execute(
            select(Playlist, PlaylistVersion.items).outerjoin(
                PlaylistVersion,
                (PlaylistVersion.playlist_id == Playlist.id) & (PlaylistVersion.version == Playlist.published_version),
            )
        )
    ).all()
    uses = []
    for playlist, items in rows:
        published, draft = uses_media(items or [], media_id), uses_media(playlist.items, media_id)
        if published or draft:
            uses.append(Use("playlist", playlist.id, playlist.name, f"/playlists/{playlist.id}", published, draft))
    return uses


Finder = Callable[[AsyncSession, int], Awaitable[list[Use]]]
FINDERS: list[Finder] = [layout_uses, playlist_uses]


async def where_used(s: AsyncSession, media_id: int) -> list[Use]:
    uses: list[Use] = []
    for finder in FINDERS:
        uses += await finder(s, media_id)
    return uses


async def take_out(s: AsyncSession, media_id: int, user_id: int | None) -> list[tuple[int, int]]:
    """Remove the item from every playlist and layout (in the caller's transaction).

    Published playlists and layouts that showed it get a new version without it;
    returns the (layout, version) pairs published.
    """
    for use in await playlist_uses(s, media_id):
        playlist = await s.get(Playlist, use.id, with_for_update=True)
        playlist.items = without(playlist.items, media_id)
        if use.published:
            current = await s.scalar(
                select(PlaylistVersion).where(
                    PlaylistVersion.playlist_id == playlist.id, PlaylistVersion.version == playlist.published_version
                )
            )
            s.add(
                PlaylistVersion(
                    playlist_id=playlist.id,
                    version=playlist.published_version + 1,
                    items=without(current.items, media_id),
                    published_by=user_id,
                )
            )
            playlist.published_version += 1
    published = []
    for use in await layout_uses(s, media_id):
        layout = await s.get(Layout, use.id, with_for_update=True)
        layout.regions = without(layout.regions, media_id)
        if not use.published:
            continue
        current = await s.scalar(
            select(LayoutVersion).where(
                LayoutVersion.layout_id == layout.id, LayoutVersion.version == layout.published_version
            )
        )
        latest = await s.scalar(select(func.max(LayoutVersion.version)).where(LayoutVersion.layout_id == layout.id))
        version = LayoutVersion(
            layout_id=layout.id,
            version=(latest or 0) + 1,
            published_by=user_id,
            content={**current.content, "regions": without(current.content["regions"], media_id)},
        )
        s.add(version)
        layout.published_version = version.version
        published.append((layout.id, version.version))
    return published
