"""What a screen plays now: an emergency override, else the winning schedule entry,
else its default layout (docs/schedules.md). Rendered as the player contract says.

    layout, next_check = await screen_layout(db, screen)
    layout = {"id", "version", "width", "height", "regions": [...], "emergency": bool} or None
    next_check = seconds until the answer may change without an event, or None
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select

import widgets
from player.models import Screen
from playlists import rules
from playlists.models import Emergency, Layout, LayoutVersion, Schedule
from signage.db import utcnow
from signage.templating import render_string

MESSAGE_SIZE = (1920, 1080)


def entry_of(row: Schedule, screen_id: int | None) -> rules.Entry:
    return rules.Entry(
        id=row.id,
        layout_id=row.layout_id,
        start_date=row.start_date,
        end_date=row.end_date,
        weekdays=tuple(row.weekdays),
        start_minute=row.start_minute,
        end_minute=row.end_minute,
        timezone=row.timezone,
        priority=row.priority,
        for_screen=row.screen_id is not None and row.screen_id == screen_id,
    )


async def entries_for(s, screen: Screen) -> list[rules.Entry]:
    aim = [Schedule.screen_id == screen.id]
    if screen.group_id is not None:
        aim.append(Schedule.group_id == screen.group_id)
    rows = (await s.scalars(select(Schedule).where(or_(*aim)))).all()
    return [entry_of(r, screen.id) for r in rows]


async def emergency_for(s, group_id: int | None) -> Emergency | None:
    aim = Emergency.group_id.is_(None)
    if group_id is not None:
        aim = or_(aim, Emergency.group_id == group_id)
    query = select(Emergency).where(Emergency.cleared_at.is_(None), aim).order_by(Emergency.id.desc()).limit(1)
    return (await s.scalars(query)).first()


async def published(s, layout_id: int | None) -> LayoutVersion | None:
    if layout_id is None:
        return None
    query = (
        select(LayoutVersion)
        .join(Layout, Layout.id == LayoutVersion.layout_id)
        .where(Layout.id == layout_id, LayoutVersion.version == Layout.published_version)
    )
    return (await s.execute(query)).scalar_one_or_none()


async def screen_layout(
    db, screen: Screen, now: dt.datetime | None = None, render=None
) -> tuple[dict | None, float | None]:
    """The layout a screen plays now (rendered) and the seconds until that may change.

    `render(version)` → (content, seconds until an item's validity changes) renders a
    published version; the player passes one that shares renderings between screens.
    """
    return (await screen_layouts(db, [screen], now, render))[0]


async def screen_layouts(db, screens: list[Screen], now: dt.datetime | None = None, render=None) -> list[tuple]:
    """`screen_layout` for many screens with three queries in all (a reconnect storm)."""
    now = now or utcnow()
    if not screens:
        return []
    ids = [sc.id for sc in screens]
    groups = sorted({sc.group_id for sc in screens if sc.group_id is not None})
    async with db.session() as s:
        alerts = (
            await s.scalars(select(Emergency).where(Emergency.cleared_at.is_(None)).order_by(Emergency.id.desc()))
        ).all()
        aim = Schedule.screen_id.in_(ids)
        if groups:
            aim = or_(aim, Schedule.group_id.in_(groups))
        schedules = (await s.scalars(select(Schedule).where(aim))).all()
        entries_of: dict[int, list[rules.Entry]] = {}
        for sc in screens:
            entries_of[sc.id] = [
                entry_of(r, sc.id)
                for r in schedules
                if r.screen_id == sc.id or (sc.group_id is not None and r.group_id == sc.group_id)
            ]
        wanted: dict[int, int | None] = {}
        emergencies: dict[int, Emergency] = {}
        for sc in screens:
            emergency = next((e for e in alerts if e.group_id is None or e.group_id == sc.group_id), None)
            if emergency is not None:
                emergencies[sc.id] = emergency
                continue
            entry = rules.winner(entries_of[sc.id], now)
            wanted[sc.id] = entry.layout_id if entry else sc.layout_id
        layout_ids = sorted({v for v in wanted.values() if v is not None})
        versions = {}
        if layout_ids:
            query = (
                select(LayoutVersion)
                .join(Layout, Layout.id == LayoutVersion.layout_id)
                .where(Layout.id.in_(layout_ids), LayoutVersion.version == Layout.published_version)
            )
            versions = {v.layout_id: v for v in (await s.scalars(query)).all()}
        done = {
            sc.id: await emergency_layout(db, s, emergencies[sc.id], sc, now) for sc in screens if sc.id in emergencies
        }
    out = []
    for sc in screens:
        if sc.id in done:
            out.append((done[sc.id], None))
            continue
        entries = entries_of[sc.id]
        change = rules.next_change(entries, now)
        # No change within the horizon: still look again then (an entry may start later).
        next_check = (change - now).total_seconds() if change else rules.HORIZON.total_seconds() if entries else None
        version = versions.get(wanted[sc.id])
        if version is None:
            out.append((None, next_check))
            continue
        if render is not None:
            content, item_change = await render(version)
        else:
            content, item_change = await render_content(db, version.content, now)
        if item_change is not None:
            next_check = min(next_check or item_change, item_change)
        out.append(({"id": version.layout_id, "version": version.version, **content, "emergency": False}, next_check))
    return out


async def emergency_layout(db, s, emergency: Emergency, screen: Screen, now: dt.datetime) -> dict:
    version = await published(s, emergency.layout_id)
    if version is not None:
        content, _change = await render_content(db, version.content, now)
        return {"id": f"emergency:{emergency.id}", "version": version.version, **content, "emergency": True}
    base = await s.get(Layout, screen.layout_id) if screen.layout_id else None
    width, height = (base.width, base.height) if base else MESSAGE_SIZE
    html = render_string("emergency/message.html", {"message": emergency.message})
    region = {"id": "emergency", "x": 0, "y": 0, "w": width, "h": height, "z": 0, "widget": "message", "html": html}
    return {
        "id": f"emergency:{emergency.id}",
        "version": 1,
        "width": width,
        "height": height,
        "regions": [region],
        "emergency": True,
    }


def item_is_valid(item: dict, now: dt.datetime) -> bool:
    start, end = item.get("valid_from"), item.get("valid_until")
    if start and dt.datetime.fromisoformat(start) > now:
        return False
    return not (end and dt.datetime.fromisoformat(end) <= now)


def item_change(items: list[dict], now: dt.datetime) -> float | None:
    """Seconds until the next item becomes valid or stops being valid."""
    times = [dt.datetime.fromisoformat(i[k]) for i in items for k in ("valid_from", "valid_until") if i.get(k)]
    later = [(t - now).total_seconds() for t in times if t > now]
    return min(later) if later else None


async def render_content(db, content: dict, now: dt.datetime | None = None) -> tuple[dict, float | None]:
    """A version's content as the player gets it: each region's widget (or playlist items) rendered."""
    now = now or utcnow()
    regions, change = [], None
    for r in sorted(content["regions"], key=lambda r: r.get("z", 0)):
        out = {k: r[k] for k in ("id", "x", "y", "w", "h", "z", "widget")}
        if r["widget"] == "playlist":
            items = r.get("items", [])
            playing = [i for i in items if i.get("enabled", True) and item_is_valid(i, now)]
            out["loop"] = True
            out["items"] = [await render_item(db, i) for i in playing]
            soon = item_change(items, now)
            if soon is not None:
                change = min(change or soon, soon)
        else:
            out["html"] = await widgets.render(r["widget"], r["options"], db)
        regions.append(out)
    return {"width": content["width"], "height": content["height"], "regions": regions}, change


async def render_item(db, item: dict) -> dict:
    return {
        "id": item["id"],
        "widget": item["widget"],
        "html": await widgets.render(item["widget"], item["options"], db),
        "duration": item.get("duration"),
        "transition": item.get("transition", "none"),
    }
