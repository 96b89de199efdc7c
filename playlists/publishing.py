"""Publishing: a draft becomes an immutable version, and every affected screen hears of it.

A layout version holds its playlists' items as they were published (a snapshot),
so a version always plays the same. Publishing a playlist makes a new version of
every published layout that shows it. Rolling back publishes an earlier version's
content again as the newest version.
"""

from __future__ import annotations

import copy

from sqlalchemy import func, select

import widgets
from media.models import Media
from player.models import Screen
from playlists.models import Emergency, Layout, LayoutVersion, Playlist, PlaylistVersion, Schedule
from signage import topics
from signage.errors import Conflict, NotFound
from signage.i18n import gettext as _


async def affected_screens(s, layout_ids: set[int]) -> set[int]:
    """Screens whose default layout, schedule entries or emergency override involve these layouts."""
    if not layout_ids:
        return set()
    ids = set((await s.scalars(select(Screen.id).where(Screen.layout_id.in_(layout_ids)))).all())
    rows = (
        await s.execute(select(Schedule.screen_id, Schedule.group_id).where(Schedule.layout_id.in_(layout_ids)))
    ).all()
    groups = {g for _sid, g in rows if g is not None}
    ids |= {sid for sid, _g in rows if sid is not None}
    emergencies = (
        await s.scalars(select(Emergency).where(Emergency.cleared_at.is_(None), Emergency.layout_id.in_(layout_ids)))
    ).all()
    if any(e.group_id is None for e in emergencies):
        return set((await s.scalars(select(Screen.id))).all())
    groups |= {e.group_id for e in emergencies}
    if groups:
        ids |= set((await s.scalars(select(Screen.id).where(Screen.group_id.in_(groups)))).all())
    return ids


async def screens_of(s, group_id: int | None) -> set[int]:
    query = select(Screen.id) if group_id is None else select(Screen.id).where(Screen.group_id == group_id)
    return set((await s.scalars(query)).all())


async def notify(request, screen_ids: set[int], **why) -> None:
    """Tells these screens to look at their layout again (`why`: what changed), in one batch
    (with Redis, pipelined)."""
    await request.app.state.bus.notify_many(topics.screens_told(screen_ids, "layout", **why))


async def check_media(s, items: list[dict]) -> None:
    """Conflict when any widget points at a media item that no longer exists."""
    wanted = {i["options"].get("media_id") for i in items if isinstance(i.get("options"), dict)} - {None}
    if wanted:
        found = set((await s.scalars(select(Media.id).where(Media.id.in_(wanted)))).all())
        if wanted - found:
            raise Conflict(_("The layout uses media that were deleted; choose other media first."))


async def freeze(s, layout: Layout) -> dict:
    """The draft checked and made self-contained: widget options validated, playlists snapshotted."""
    regions = []
    for r in layout.regions:
        if r["widget"] == "playlist":
            playlist = await s.get(Playlist, r["options"]["playlist_id"])
            if playlist is None:
                raise Conflict(_("A region shows a playlist that was deleted."))
            if playlist.published_version == 0:
                raise Conflict(_("Publish the playlist “%(name)s” first.", name=playlist.name))
            version = await s.scalar(
                select(PlaylistVersion).where(
                    PlaylistVersion.playlist_id == playlist.id, PlaylistVersion.version == playlist.published_version
                )
            )
            await check_media(s, version.items)
            regions.append({**r, "items": version.items})
        else:
            regions.append({**r, "options": widgets.validate(r["widget"], r["options"])})
    await check_media(s, [r for r in regions if r["widget"] != "playlist"])
    return {"width": layout.width, "height": layout.height, "regions": regions}


async def add_version(s, layout: Layout, content: dict, user_id: int | None) -> LayoutVersion:
    latest = await s.scalar(select(func.max(LayoutVersion.version)).where(LayoutVersion.layout_id == layout.id))
    version = LayoutVersion(layout_id=layout.id, version=(latest or 0) + 1, published_by=user_id, content=content)
    s.add(version)
    layout.published_version = version.version
    return version


async def get_layout(s, layout_id: int, lock: bool = False) -> Layout:
    layout = await s.get(Layout, layout_id, with_for_update=lock)
    if layout is None:
        raise NotFound(_("No such layout."))
    return layout


async def publish_layout(request, layout_id: int, rollback_to: int | None = None) -> LayoutVersion:
    """Freeze the draft (or an earlier version's content) as the newest version; tell the screens."""
    async with request.app.state.db.begin() as s:
        layout = await get_layout(s, layout_id, lock=True)
        if rollback_to is None:
            content = await freeze(s, layout)
        else:
            old = await s.scalar(
                select(LayoutVersion).where(LayoutVersion.layout_id == layout_id, LayoutVersion.version == rollback_to)
            )
            if old is None:
                raise NotFound(_("No such version."))
            await check_media(s, [r for r in old.content["regions"] if r["widget"] != "playlist"])
            content = copy.deepcopy(old.content)
        version = await add_version(s, layout, content, request.state.user.id)
        screens = await affected_screens(s, {layout.id})
    await notify(request, screens, layout_id=layout_id, version=version.version)
    return version


async def publish_playlist(request, playlist_id: int) -> PlaylistVersion:
    """Freeze the playlist's draft; every published layout showing it gets a new version."""
    async with request.app.state.db.begin() as s:
        playlist = await s.get(Playlist, playlist_id, with_for_update=True)
        if playlist is None:
            raise NotFound(_("No such playlist."))
        items = [{**i, "options": widgets.validate(i["widget"], i["options"])} for i in playlist.items]
        await check_media(s, items)
        latest = await s.scalar(
            select(func.max(PlaylistVersion.version)).where(PlaylistVersion.playlist_id == playlist.id)
        )
        version = PlaylistVersion(
            playlist_id=playlist.id, version=(latest or 0) + 1, items=items, published_by=request.state.user.id
        )
        s.add(version)
        playlist.published_version = version.version
        touched = await refresh_layouts(s, playlist.id, items, request.state.user.id)
        screens = await affected_screens(s, touched)
    await notify(request, screens, playlist_id=playlist_id)
    return version


async def refresh_layouts(s, playlist_id: int, items: list, user_id: int | None) -> set[int]:
    query = (
        select(Layout, LayoutVersion)
        .join(LayoutVersion, LayoutVersion.layout_id == Layout.id)
        .where(LayoutVersion.version == Layout.published_version, Layout.published_version > 0)
    )
    touched = set()
    for layout, current in (await s.execute(query)).all():
        regions = current.content["regions"]
        if not any(r["widget"] == "playlist" and r["options"]["playlist_id"] == playlist_id for r in regions):
            continue
        content = copy.deepcopy(current.content)
        for r in content["regions"]:
            if r["widget"] == "playlist" and r["options"]["playlist_id"] == playlist_id:
                r["items"] = items
        await add_version(s, layout, content, user_id)
        touched.add(layout.id)
    return touched
