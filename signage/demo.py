"""Demo data: a user per role, a generated image, a lobby layout with it and a clock,
and rooms with today's meetings, one with attendees, materials and minutes.

Idempotent: running it again changes nothing but the demo users' passwords.
"""

from __future__ import annotations

import io
import os

from PIL import Image, ImageDraw
from sqlalchemy import func, select

from signage.db import Database
from signage.settings import Settings
from signage.users.store import create_or_update

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
    await _rooms(settings, ids["room_admin"], ids["member"])
    await _meeting_files(settings, ids)
    await _organisation(settings, ids)
    from booking_api.doors.layouts import demo_layouts

    await demo_layouts(settings, ids["editor"])
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


DEMO_ROOMS = [
    # name, floor, capacity, equipment, needs approval, buffer minutes
    ("Everest 珠峰", "3F", 12, ["projector", "video"], False, 10),
    ("Huangshan 黄山", "3F", 6, ["tv"], False, 0),
    ("Taishan 泰山", "3F", 4, [], False, 0),
    ("Board room 董事会议室", "5F", 20, ["projector", "video", "phone"], True, 15),
    ("Lushan 庐山", "5F", 8, ["tv", "whiteboard"], False, 0),
    ("Emei 峨眉", "2F", 10, ["projector"], False, 5),
]


DEMO_RATES = [  # the rentable room's card: tenants pay less; peak, then any other time
    {"label": "Tenant 租户价", "weekdays": [1, 2, 3, 4, 5, 6, 7], "from": "00:00", "to": "24:00", "min_minutes": 0,
     "max_minutes": None, "unit_minutes": 60, "unit_price": 8000, "minimum": 0, "rounding": "up", "who": "tenant"},
    {"label": "Peak 高峰", "weekdays": [1, 2, 3, 4, 5], "from": "09:00", "to": "18:00", "min_minutes": 0,
     "max_minutes": None, "unit_minutes": 30, "unit_price": 6000, "minimum": 0, "rounding": "up", "who": None},
    {"label": "Off-peak 非高峰", "weekdays": [1, 2, 3, 4, 5, 6, 7], "from": "00:00", "to": "24:00", "min_minutes": 0,
     "max_minutes": None, "unit_minutes": 60, "unit_price": 8000, "minimum": 8000, "rounding": "up", "who": None},
]  # fmt: skip


async def _rate_card(s, room_id: int, owner_id: int) -> None:
    from booking_api.billing.models import RateCard, RateCardVersion

    card = RateCard(room_id=room_id, version=1, currency="CNY", rules=DEMO_RATES, cancel_free_hours=24,
                    cancel_percent=50, updated_by=owner_id)  # fmt: skip
    s.add(card)
    await s.flush()
    s.add(RateCardVersion(card_id=card.id, version=1, currency="CNY", rules=DEMO_RATES, cancel_free_hours=24,
                          cancel_percent=50, created_by=owner_id))  # fmt: skip


def plan_image(boxes: list[tuple[int, int, int, int]]) -> bytes:
    """A simple floor plan: outer walls, a corridor, and a box per room (1200x600)."""
    im = Image.new("RGB", (1200, 600), "#f8fafc")
    draw = ImageDraw.Draw(im)
    draw.rectangle([20, 20, 1180, 580], outline="#334155", width=6)
    draw.rectangle([20, 270, 1180, 330], fill="#e2e8f0")  # the corridor
    for box in boxes:
        draw.rectangle(box, fill="#ffffff", outline="#64748b", width=3)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _floor_plans(s, settings: Settings, rooms: list) -> None:
    """A plan of each demo floor, its rooms placed along the corridor."""
    import hashlib

    from booking_api.models import FloorPlan

    folder = settings.data_dir / "floorplans"
    folder.mkdir(parents=True, exist_ok=True)
    floors: dict[str, list] = {}
    for room in rooms:
        floors.setdefault(room.floor, []).append(room)
    for floor, on_floor in floors.items():
        boxes = []
        for i, room in enumerate(on_floor):  # alternately above and below the corridor
            left = 60 + (i // 2) * 380
            top = 60 if i % 2 == 0 else 370
            boxes.append((left, top, left + 320, top + 170))
            room.plan_x = round((left + 160) / 1200 * 100, 2)
            room.plan_y = round((top + 85) / 600 * 100, 2)
        data = plan_image(boxes)
        name = hashlib.sha256(data).hexdigest() + ".png"
        (folder / name).write_bytes(data)
        s.add(FloorPlan(building=on_floor[0].building, floor=floor, image=name, width=1200, height=600))


async def _rooms(settings: Settings, owner_id: int, member_id: int) -> None:
    """Rooms on three floors and today's meetings around now: ended, running, coming, one pending."""
    import datetime as dt

    from booking_api.desk.models import ServiceTask
    from booking_api.models import Booking, CheckIn, Room, RoomOwner

    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    now -= dt.timedelta(minutes=now.minute % 15)
    db = Database(settings.db_url)
    try:
        async with db.begin() as s:
            if await s.scalar(select(func.count()).select_from(Room)):
                return
            rooms = []
            for name, floor, capacity, equipment, approval, buffer in DEMO_ROOMS:
                room = Room(
                    name=name,
                    building="A",
                    floor=floor,
                    capacity=capacity,
                    equipment=equipment,
                    needs_approval=approval,
                    buffer_minutes=buffer,
                    opens_at=7 * 60,
                    closes_at=22 * 60,
                )
                rooms.append(room)
            s.add_all(rooms)
            await s.flush()
            s.add_all(RoomOwner(room_id=r.id, user_id=owner_id) for r in rooms)
            _floor_plans(s, settings, rooms)
            await _rate_card(s, rooms[5].id, owner_id)  # Emei is rented by the hour
            meetings = [  # room index, minutes from now, length, title, status
                (0, -180, 60, "Weekly sync 周例会", "confirmed"),
                (0, -30, 90, "Product review 产品评审", "confirmed"),
                (0, 120, 60, "Customer call 客户电话会", "confirmed"),
                (1, -120, 45, "1:1", "confirmed"),
                (1, 60, 30, "Interview 面试", "confirmed"),
                (3, 180, 120, "Budget 2027 预算会", "pending"),
                (4, 0, 60, "Design sprint 设计冲刺", "confirmed"),
                (5, 240, 60, "Training 培训", "confirmed"),
            ]
            ended: dict[int, int] = {}
            for index, offset, length, title, status in meetings:
                room = rooms[index]
                start = now + dt.timedelta(minutes=offset)
                end = start + dt.timedelta(minutes=length)
                booking = Booking(
                    room_id=room.id,
                    title=title,
                    organizer_id=member_id,
                    start_at=start,
                    end_at=end,
                    blocked_until=end + dt.timedelta(minutes=room.buffer_minutes),
                    status=status,
                    private=title == "Interview 面试",  # others see only "busy"
                )
                s.add(booking)
                if offset < 0 and status == "confirmed":  # they came: the room timer keeps them
                    await s.flush()
                    s.add(CheckIn(booking_id=booking.id, at=start, via="door"))
                    ended[index] = booking.id if end <= now else ended.get(index)
            # The service desk (/desk): a call for tea from the running review, the room of
            # the ended 1:1 waiting to be cleaned.
            s.add(ServiceTask(room_id=rooms[0].id, kind="tea", note="6 cups 六杯", origin="door", created_at=now))
            s.add(
                ServiceTask(
                    room_id=rooms[1].id,
                    kind="cleaning",
                    origin="meeting_end",
                    after_booking_id=ended[1],
                    created_at=now,
                )
            )
    finally:
        await db.close()


DEMO_ORG = """employee_no,name,email,mobile,department_path,title
E1001,张伟,zhangwei@example.com,13800000001,总部/研发部,研发总监
E1002,王芳,wangfang@example.com,13800000002,总部/研发部/平台组,工程师
E1003,李娜,lina@example.com,13800000003,总部/研发部/平台组;总部/工会,工程师
E1004,刘洋,liuyang@example.com,,总部/研发部/移动组,工程师
E1005,陈静,chenjing@example.com,,总部/市场部,市场经理
E1006,杨磊,yanglei@example.com,,总部/市场部,
E1007,赵敏,zhaomin@example.com,,总部/行政部,行政主管
E1008,Li Lei,lilei@example.com,,总部/销售部/华东区,Sales
E1009,Han Meimei,hanmeimei@example.com,,总部/销售部/华南区,Sales
"""


async def _organisation(settings: Settings, ids: dict) -> None:
    """The organisation as if uploaded from a CSV file (the directory's sources page), and the
    demo accounts placed in it; attendee pickers find 张伟 by "zw"."""
    from signage.directory import sync
    from signage.directory.models import Department, Membership
    from signage.directory.sources import upload

    db = Database(settings.db_url)
    try:
        await sync.run(db, "csv", upload.snapshot(DEMO_ORG.encode()), by="demo")
        async with db.begin() as s:
            found = await s.execute(select(Department.external_id, Department.id).where(Department.source == "csv"))
            depts = dict(found.all())
            places = {"editor": "总部/市场部", "room_admin": "总部/行政部", "service": "总部/行政部", "member": "总部/研发部"}
            for role, path in places.items():
                found = await s.get(Membership, (ids[role], depts[path]))
                if found is None:
                    s.add(Membership(user_id=ids[role], department_id=depts[path]))
    finally:
        await db.close()


def agenda_pdf(title: str, lines: list[str]) -> bytes:
    """A two-page A4-shaped PDF with some text (a meeting's agenda), made with Pillow."""
    from PIL import ImageFont

    pages = []
    for n in (1, 2):
        im = Image.new("RGB", (595, 842), "white")
        draw = ImageDraw.Draw(im)
        draw.rectangle([0, 0, 595, 90], fill="#0b5cad")
        draw.text((40, 30), title if n == 1 else f"{title} ({n})", fill="white", font=ImageFont.load_default(28))
        for i, line in enumerate(lines):
            draw.text((40, 130 + i * 40), line, fill="#101828", font=ImageFont.load_default(20))
        pages.append(im)
    buf = io.BytesIO()
    pages[0].save(buf, "PDF", save_all=True, append_images=pages[1:])
    return buf.getvalue()


async def _meeting_files(settings: Settings, ids: dict) -> None:
    """The product review: attendees with their answers, an agenda and a chart before it; the
    weekly sync (ended): its minutes."""
    from starlette.datastructures import UploadFile

    from booking_api.meetings.models import Material
    from booking_api.meetings.store import take_in
    from booking_api.models import Attendee, Booking, Reply

    db = Database(settings.db_url)
    try:
        async with db.session() as s:
            if await s.scalar(select(func.count()).select_from(Material)):
                return
            review = await s.scalar(select(Booking).where(Booking.title == "Product review 产品评审"))
            sync = await s.scalar(select(Booking).where(Booking.title == "Weekly sync 周例会"))
        if review is None or sync is None:
            return
        files = [
            (review.id, "before", "Agenda 议程.pdf", agenda_pdf("Product review", AGENDA), ids["member"]),
            (review.id, "before", "Roadmap.png", demo_image(), ids["room_admin"]),
            (sync.id, "minutes", "Minutes 会议纪要.txt", MINUTES.encode(), ids["member"]),
        ]
        stored = []
        for booking_id, kind, name, data, by in files:
            f, _created = await take_in(db, settings, UploadFile(io.BytesIO(data), filename=name))
            stored.append(Material(booking_id=booking_id, file_id=f.id, name=name, kind=kind, uploaded_by=by))
        async with db.begin() as s:
            s.add_all(stored)
            s.add_all(
                [
                    Attendee(booking_id=review.id, user_id=ids["room_admin"], name="Room Admin",
                             email="roomadmin@example.com", phone="13800000001", role="chair"),
                    Attendee(booking_id=review.id, user_id=ids["editor"], name="Marketing Editor",
                             email="editor@example.com", phone="13800000002", role="required"),
                    Attendee(booking_id=review.id, name="Zhang Wei 张伟", email="zhang.wei@example.cn", role="optional"),
                    Reply(booking_id=review.id, user_id=ids["room_admin"], answer="accepted"),
                    Reply(booking_id=review.id, user_id=ids["editor"], answer="declined"),
                ]
            )  # fmt: skip
    finally:
        await db.close()


AGENDA = ["1. Last release: what shipped", "2. Door screens: feedback", "3. Roadmap for Q1", "4. Decisions"]
MINUTES = """Weekly sync 周例会 — minutes 会议纪要

1. Release 3.2 ships on Friday. 3.2 版本周五发布。
2. Decision: the lobby screens move to the new layout. 决议：大堂屏幕改用新版式。
3. Actions: Li Lei — door screen feedback by Wednesday. 李雷周三前汇总门牌屏反馈。
"""
