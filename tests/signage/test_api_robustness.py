"""Bad input to the JSON API gets a clear 4xx, never a 5xx, and never a half record.

Every operation of /api/v1/openapi.json (SQLite, an admin's token) is sent junk, built
from the document itself: path ids ("abc", "-1", "0", 20 digits, a real id); bodies
(none, null, [], "x", {}, broken JSON, non-UTF-8, and per property of the request
schema, nested ones included: wrong types, huge numbers, long / NUL / lone-surrogate
strings, impossible dates, ...); junk in its query parameters and headers.

Each answer must be < 500 (an answer missing for 30 s is a hang), and a 4xx must be JSON with "error"
and "message". An answer >= 400 must leave the domain tables as they were (the audit
log may grow), and whatever a write accepted must still read back (GET, publish, a
screen's state) without a 5xx. Failures list every input with the server's
traceback (its last frames in this repository).

The world (rooms, bookings, a layout, a playlist, media, a screen, a schedule, an
emergency) is made once; each operation's test runs the `client` fixture on a copy of
it (this module's `database_url`), so what one operation breaks no other one sees.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import signal
import sqlite3
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bookings_helpers import TZ, at, iso
from fixtures import api_token, create_tables, make_token
from images import png
from starlette.testclient import TestClient

from signage.app import create_app
from signage.settings import Settings

ROOT = Path(__file__).resolve().parents[2]  # tests/signage/ → the project
TIMEOUT = 30  # seconds without an answer that count as a hang (not a speed check)
SKIP = {("get", "/api/v1/openapi.json")}
# Tables that may change while a request is refused: the audit log records refusals,
# tokens and users note their use, background workers keep their own books (the notify
# consumer its calendar state and users' notices for the changes before, with email off too;
# webhook deliveries: queued and tried by the webhooks worker, for events of earlier requests).
VOLATILE_TABLES = {
    *("audit_log", "api_tokens", "users", "media_jobs", "plays", "weather_readings", "event_consumers"),
    *("notify_invitations", "notify_occurrences", "notify_reminders", "notify_notices", "webhook_deliveries"),
}

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


# ---------------------------------------------------------------- the operations


def documented_operations() -> list[tuple[str, str]]:
    """Every (method, path) the OpenAPI document describes, known at collection time."""
    from signage import openapi
    from signage.app import all_routes

    all_routes()  # imports every module, which registers its operations
    doc = openapi.document()
    found = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if (method, path) in SKIP or streams(op):
                continue
            found.append((method, path))
    return sorted(found, key=lambda mp: (mp[1], mp[0]))


def streams(op: dict) -> bool:
    contents = [r.get("content", {}) for r in op.get("responses", {}).values()]
    return any("text/event-stream" in c for c in contents)


OPERATIONS = documented_operations()


# ---------------------------------------------------------------- junk values


@dataclasses.dataclass(frozen=True)
class Raw:
    """JSON text sent as is (json.dumps cannot write 1e400 or NaN)."""

    text: str


TYPE_JUNK: list[tuple[str, Any]] = [
    ("str", "x"),
    ("int", 1),
    ("float", 1.5),
    ("bool", True),
    ("null", None),
    ("list", []),
    ("object", {}),
]
TYPE_SHORT = [v for v in TYPE_JUNK if v[0] in ("str", "int", "null", "list", "object")]
NUM_JUNK: list[tuple[str, Any]] = [
    ("2**31", 2**31),  # over PostgreSQL's INTEGER
    ("2**63", 2**63),  # over SQLite's and PostgreSQL's BIGINT
    ("2**64-1", 2**64 - 1),
    ("2**70", 2**70),
    ("-2**63-1", -(2**63) - 1),
    ("-1", -1),
    ("0", 0),
    ("1.0", 1.0),
    ("1e300", 1e300),
    ("raw 1e400", Raw("1e400")),
    ("raw NaN", Raw("NaN")),
    ("numeric string", "12"),
]
STR_JUNK: list[tuple[str, Any]] = [
    ("empty", ""),
    ("spaces", "   "),
    ("NaN text", "NaN"),
    ("100k chars", "a" * 100_000),
    ("NUL", "a\u0000b"),
    ("lone surrogate", "\ud800"),
    ("astral", "\U0001f600" * 3),
    ("control chars", "\u202e\x1b[31m\x7f"),
    ("format string", "%s %(x)s {0} {x}"),
]
NUM_SHORT = [v for v in NUM_JUNK if v[0] in ("2**31", "2**63", "2**64-1", "2**70", "-1", "1e300", "raw 1e400")]
STR_SHORT = [v for v in STR_JUNK if v[0] in ("empty", "100k chars", "NUL", "lone surrogate")]
DATETIME_JUNK: list[tuple[str, Any]] = [
    ("no offset", "2030-03-01T10:00:00"),
    ("feb 30", "2030-02-30T10:00:00+08:00"),
    ("date only", "2030-03-01"),
    ("time only", "10:00"),
    ("year 1 +14:00", "0001-01-01T00:00:00+14:00"),
    ("year 9999 -14:00", "9999-12-31T23:59:59-14:00"),
    ("year 10000", "10000-01-01T00:00:00Z"),
    ("offset +25:00", "2030-03-01T10:00:00+25:00"),
    ("hour 24", "2030-03-01T24:00:00+08:00"),
    ("epoch int", 1893456000),
    ("far future", "2999-01-01T10:00:00+08:00"),
    ("1970", "1970-01-01T00:00:00Z"),
    ("lower case", "2030-03-01t10:00:00z"),
]
DATE_JUNK: list[tuple[str, Any]] = [
    ("feb 30", "2030-02-30"),
    ("month 13", "2030-13-01"),
    ("year 1", "0001-01-01"),
    ("year 9999", "9999-12-31"),
    ("year 10000", "10000-01-01"),
    ("datetime", "2030-03-01T10:00:00+08:00"),
    ("no offset datetime", "2030-03-01T10:00:00"),
    ("compact", "20300301"),
]
TIME_JUNK: list[tuple[str, Any]] = [
    ("24:00", "24:00"),
    ("24:01", "24:01"),
    ("23:60", "23:60"),
    ("99:99", "99:99"),
    ("00:00", "00:00"),
    ("9:00", "9:00"),
    ("10:00:00", "10:00:00"),
]
NAMED_JUNK: dict[str, list[tuple[str, Any]]] = {
    "rrule": [
        ("unbounded daily", "FREQ=DAILY"),
        ("secondly", "FREQ=SECONDLY;COUNT=100000"),
        ("minutely", "FREQ=MINUTELY;COUNT=500"),
        ("count 0", "FREQ=DAILY;COUNT=0"),
        ("count -1", "FREQ=DAILY;COUNT=-1"),
        ("count huge", "FREQ=DAILY;COUNT=99999999999999999999"),
        ("interval 0", "FREQ=DAILY;INTERVAL=0;COUNT=3"),
        ("bymonth 13", "FREQ=YEARLY;BYMONTH=13;COUNT=2"),
        ("byday junk", "FREQ=WEEKLY;BYDAY=XX;COUNT=2"),
        ("until far", "FREQ=YEARLY;UNTIL=99991231T000000Z"),
        ("until before start", "FREQ=DAILY;UNTIL=20000101T000000Z"),
        ("until no Z", "FREQ=DAILY;UNTIL=20300101T000000"),
        ("count and until", "FREQ=DAILY;COUNT=2;UNTIL=20300101T000000Z"),
        ("RRULE: prefix", "RRULE:FREQ=DAILY;COUNT=2"),
        ("two lines", "FREQ=DAILY;COUNT=2\nEXDATE:20300101T000000Z"),
        ("DTSTART inside", "DTSTART:20300101T000000Z\nRRULE:FREQ=DAILY;COUNT=2"),
        ("feb 30 monthly", "FREQ=MONTHLY;BYMONTHDAY=30;BYMONTH=2;COUNT=2"),
        ("bysetpos 0", "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0;COUNT=2"),
        ("garbage", ";;;="),
    ],
    "timezone": [
        ("unknown zone", "Mars/Olympus"),
        ("path", "../../../etc/passwd"),
        ("absolute path", "/etc/localtime"),
        ("lower case", "asia/shanghai"),
        ("offset", "+08:00"),
        ("NUL", "UTC\u0000"),
        ("posix", "EST5EDT"),
        ("localtime", "localtime"),
    ],
    "photo_url": [("javascript", "javascript:alert(1)"), ("file", "file:///etc/passwd"), ("data", "data:,x")],
    "url": [
        ("javascript", "javascript:alert(1)"),
        ("file", "file:///etc/passwd"),
        ("bad ipv6", "http://[::1"),
        ("port 99999", "http://example.com:99999/"),
        ("no host", "https://"),
        ("long", "https://example.com/" + "a" * 1980),
    ],
    "data": [("astral 1000", "\U0001f600" * 1000), ("han 1000", "\u6c49" * 1000), ("NUL 1000", "\u0000" * 1000)],
    "dark": [("short", "#000"), ("name", "red"), ("bad hex", "#GGGGGG")],
    "light": [("short", "#fff"), ("name", "white"), ("bad hex", "#GGGGGG")],
    "color": [("short", "#fff"), ("name", "white"), ("bad hex", "#GGGGGG")],
    "background": [("short", "#000"), ("name", "black"), ("bad hex", "#GGGGGG")],
    "email": [("no at", "nobody"), ("unicode", "\u00e9@\u00e9.example"), ("two ats", "a@b@c")],
    "code": [("lower", "abcdef"), ("used", "USED"), ("long", "A" * 1000)],
    "widget": [("unknown", "bogus"), ("playlist", "playlist"), ("dunder", "__class__")],
}
ARRAY_JUNK: list[tuple[str, Any]] = [
    ("[null]", [None]),
    ("[[]]", [[]]),
    ("[{}]", [{}]),
    ("10001 ints", list(range(10_001))),
]
QUERY_JUNK: list[tuple[str, str]] = [
    ("empty", ""),
    ("abc", "abc"),
    ("-1", "-1"),
    ("0", "0"),
    ("1.5", "1.5"),
    ("NaN", "NaN"),
    ("20 digits", "99999999999999999999"),
    ("superscript two", "%C2%B2"),
    ("arabic-indic digits", "%D9%A1%D9%A2"),
    ("feb 30 date", "2030-02-30"),
    ("feb 30 datetime", "2030-02-30T10:00:00%2B08:00"),
    ("no offset", "2030-03-01T10:00:00"),
    ("year 1 +14:00", "0001-01-01T00:00:00%2B14:00"),
    ("year 9999 -14:00", "9999-12-31T23:59:59-14:00"),
    ("year 1", "0001-01-01"),
    ("year 9999", "9999-12-31"),
    ("year 10000", "10000-01-01"),
    ("60k chars", "a" * 60_000),  # the client refuses URLs over 64 KiB
    ("NUL", "a%00b"),
    ("bad utf-8", "%FF%FE"),
    ("lone surrogate utf-8", "%ED%A0%80"),
    ("percent alone", "%"),
    ("like", "%25_"),
    ("json", "%7B%7D"),
    ("true", "true"),
]
HEADER_JUNK: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("spaces", b"   "),
    ("latin-1", b"\xe9t\xe9"),
    ("10k chars", b"k" * 10_000),
    ("201 chars", b"k" * 201),
]
PATH_JUNK = ["abc", "-1", "0", "99999999999999999999"]
# Sent instead of the admin's token and the usual headers (every operation gets these).
AUTH_JUNK: list[tuple[str, dict]] = [
    ("no token", {}),
    ("Bearer junk", {"Authorization": b"Bearer junk"}),
    ("Bearer empty", {"Authorization": b"Bearer "}),
    ("Basic", {"Authorization": b"Basic YTpi"}),
    ("latin-1 token", {"Authorization": b"Bearer \xe9\xff"}),
    ("10k token", {"Authorization": b"Bearer " + b"t" * 10_000}),
]
# Sent beside the admin's token.
ENV_JUNK: list[tuple[str, dict]] = [
    ("Accept-Language junk", {"Accept-Language": b"*;q=abc, zh-CN;q=2, ;;, \xff"}),
    ("lang cookie junk", {"Cookie": b"lang=\xff../../x; signage_session=junk"}),
]


# ---------------------------------------------------------------- requests


@dataclasses.dataclass
class Case:
    label: str
    method: str
    url: str
    body: Any = dataclasses.field(default=None)  # a JSON value, or bytes as they are, or None: no body
    raw: bool = False  # body is bytes
    headers: dict = dataclasses.field(default_factory=dict)
    files: Any = None
    data: Any = None
    auth: bool = True  # send the admin's token


def dumps(value: Any) -> bytes:
    """JSON text of `value` (ASCII: NUL and lone surrogates become \\u escapes); Raw kept as is."""
    raws: list[str] = []

    def hide(v):
        if isinstance(v, Raw):
            raws.append(v.text)
            return f"@@RAW{len(raws) - 1}@@"
        if isinstance(v, dict):
            return {k: hide(x) for k, x in v.items()}
        if isinstance(v, list):
            return [hide(x) for x in v]
        return v

    text = json.dumps(hide(value))
    for i, r in enumerate(raws):
        text = text.replace(f'"@@RAW{i}@@"', r)
    return text.encode("ascii")


class Hang(Exception):
    pass


@contextlib.contextmanager
def alarm_handler() -> Iterator[None]:
    def on_alarm(signum, frame):
        raise Hang()

    old = signal.signal(signal.SIGALRM, on_alarm)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def app_frames(exc: BaseException, count: int = 4) -> str:
    """The exception and its last frames in this repository's code."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.startswith(str(ROOT)) and "/.venv/" not in f.filename and "/tests/" not in f.filename
    ]
    where = " <- ".join(f"{Path(f.filename).relative_to(ROOT)}:{f.lineno} {f.name}" for f in reversed(frames[-count:]))
    message = str(exc).replace("\n", " ")
    if len(message) > 160:
        message = message[:160] + "..."
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {message} @ {where or '(no app frame)'}"


class Fingerprint:
    """What the domain tables hold, read beside the app through SQLite's own file."""

    def __init__(self, db_file: Path):
        self.conn = sqlite3.connect(db_file, isolation_level=None, check_same_thread=False)
        self.tables = [
            r[0]
            for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
            if r[0] not in VOLATILE_TABLES and r[0] != "alembic_version"
        ]
        self.version = -1
        self.digests: dict[str, str] = {}
        self.refresh()

    def refresh(self) -> dict[str, str]:
        """The tables that changed since the last call (re-reading only when something was committed)."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self.version:
            return {}
        self.version = version
        changed = {}
        for table in self.tables:
            rows = self.conn.execute(f'SELECT * FROM "{table}"').fetchall()
            digest = hashlib.sha1(repr(sorted(rows, key=repr)).encode()).hexdigest()
            if self.digests.get(table) not in (None, digest):
                changed[table] = f"{len(rows)} rows"
            self.digests[table] = digest
        return changed

    def close(self) -> None:
        self.conn.close()


class Prober:
    """Sends cases, checks every answer, collects failures."""

    def __init__(self, client, headers: dict, caplog, db_file: Path):
        self.client, self.headers, self.caplog = client, headers, caplog
        self.failures: list[str] = []
        self.sent = 0
        self.tables = Fingerprint(db_file)
        self.unsettled = True  # an accepted write since the last settle(): background work may follow

    def send(self, case: Case, check_tables: bool = True):
        headers = {**(self.headers if case.auth else {}), **case.headers}
        kwargs: dict = {}
        if case.files is not None or case.data is not None:
            kwargs.update(files=case.files, data=case.data)
        elif case.body is not None or case.raw:
            kwargs["content"] = case.body if case.raw else dumps(case.body)
            headers.setdefault("Content-Type", "application/json")
        if self.unsettled:
            self.settle()
        self.tables.refresh()  # writes of the test's own making (a pairing code, say) are not the request's
        self.caplog.clear()
        self.sent += 1
        signal.setitimer(signal.ITIMER_REAL, TIMEOUT)
        try:
            r = self.client.request(case.method, case.url, headers=headers, **kwargs)
        except Hang:
            self.fail(case, f"no answer within {TIMEOUT} s")
            return None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        problems = []
        if r.status_code >= 500:
            problems.append(f"HTTP {r.status_code}")
        elif r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = None
            if not isinstance(body, dict) or not body.get("message") or not body.get("error"):
                problems.append(f"HTTP {r.status_code} without a JSON error/message: {r.text[:200]!r}")
        errors = [rec for rec in self.caplog.records if rec.levelno >= logging.ERROR]
        for rec in errors:
            if rec.exc_info and rec.exc_info[1] is not None:
                problems.append(f"logged {app_frames(rec.exc_info[1])}")
            elif r.status_code < 500:
                problems.append(f"logged {rec.getMessage()[:200]}")
        changed = self.tables.refresh() if check_tables else {}
        self.unsettled |= r.status_code < 400 and case.method != "get"
        if changed and r.status_code >= 400:
            problems.append(f"HTTP {r.status_code} but wrote {changed}")
        if problems:
            self.fail(case, "; ".join(problems))
        return r

    def settle(self, timeout: float = 10) -> None:
        """Wait until the server's background work on earlier requests is done: the room
        timer asleep with no change waiting, every event consumer at the end of the log. An
        accepted write (an "End now", say) has the desk consumer and the timer write a
        cleaning task and its event a moment later; without this they were counted as the
        writes of the next, refused request (seen in CI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = self.client.get("/healthz").json()
            timer = health.get("room_timer") or {"idle": True}
            consumers = (health.get("event_log") or {}).get("consumers", {}).values()
            if timer["idle"] and all(c["behind"] == 0 or c["failures"] for c in consumers):
                self.unsettled = False
                return
            time.sleep(0.02)

    def fail(self, case: Case, what: str) -> None:
        url = case.url if len(case.url) < 120 else case.url[:120] + "..."
        self.failures.append(f"{case.method.upper()} {url} [{case.label}]: {what}")


# ---------------------------------------------------------------- a world to poke at


@dataclasses.dataclass
class Seed:
    room: int = 0
    approval_room: int = 0
    booking: int = 0
    series: int = 0
    series_id: int = 0  # the recurring meeting `series` is an occurrence of
    pending: int = 0
    current: int = 0
    layout: int = 0
    playlist: int = 0
    media: int = 0
    screen: int = 0
    screen_key: str = ""
    schedule: int = 0
    emergency: int = 0
    sensor_token: str = ""
    terminal_token: str = ""
    staff: str = ""  # the seeding admin's email: whom the terminal identifies
    webhook: int = 0
    importer: int = 0
    door: int = 0
    service_call: int = 0
    member: dict = dataclasses.field(default_factory=dict)  # a member's token headers
    n: int = 0  # a counter: each booking body gets a slot of its own

    def next(self) -> int:
        self.n += 1
        return self.n


REGION = {"id": "r1", "x": 0, "y": 0, "w": 640, "h": 360, "z": 0, "widget": "clock", "options": {}}


def seed_world(client, headers: dict) -> Seed:
    def ok(r, *codes):
        assert r.status_code in (codes or (200, 201)), f"seeding: {r.request.method} {r.request.url}: {r.text}"
        return r.json() if r.content else None

    seed = Seed()
    seed.room = ok(
        client.post(
            "/api/v1/rooms",
            json={"name": "Seed room", "capacity": 8, "building": "HQ", "floor": "3", "equipment": ["tv"]},
            headers=headers,
        )
    )["id"]
    seed.approval_room = ok(
        client.post(
            "/api/v1/rooms", json={"name": "Approval room", "capacity": 4, "needs_approval": True}, headers=headers
        )
    )["id"]
    people = [{"name": "Ann", "email": "ann@example.com", "role": "chair"}]
    seed.booking = ok(
        client.post(
            "/api/v1/bookings",
            json={"room_id": seed.room, "title": "Seed", "start": iso(at(10)), "end": iso(at(11)), "attendees": people},
            headers=headers,
        )
    )["id"]
    seed.series = ok(
        client.post(
            "/api/v1/bookings",
            json={
                "room_id": seed.room,
                "title": "Series",
                "start": iso(at(10, days=3)),
                "end": iso(at(11, days=3)),
                "rrule": "FREQ=DAILY;COUNT=3",
            },
            headers=headers,
        )
    )["occurrences"][1]["id"]
    seed.series_id = client.get(f"/api/v1/bookings/{seed.series}", headers=headers).json()["series_id"]
    now = dt.datetime.now(TZ).replace(second=0, microsecond=0)
    seed.current = ok(
        client.post(
            "/api/v1/bookings",
            json={
                "room_id": seed.room,
                "title": "Now",
                "start": iso(now - dt.timedelta(minutes=5)),
                "end": iso(now + dt.timedelta(minutes=55)),
            },
            headers=headers,
        )
    )["id"]
    # checked in: else the room timer releases it as a no-show 10 minutes from now, and an
    # operation probed after that would see the bookings change under it
    ok(client.post(f"/api/v1/bookings/{seed.current}/check-in", headers=headers))
    seed.member = api_token(client, "member")
    seed.pending = ok(
        client.post(
            "/api/v1/bookings",
            json={"room_id": seed.approval_room, "title": "Pending", "start": iso(at(14)), "end": iso(at(15))},
            headers=seed.member,
        )
    )["id"]
    upload = client.post("/api/v1/media", files={"files": ("seed.png", png(), "image/png")}, headers=headers)
    seed.media = ok(upload)["items"][0]["id"]
    for _ in range(100):
        if client.get(f"/api/v1/media/{seed.media}", headers=headers).json()["status"] != "processing":
            break
        time.sleep(0.05)
    seed.playlist = ok(
        client.post(
            "/api/v1/playlists",
            json={"name": "Seed", "items": [{"widget": "image", "options": {"media_id": seed.media}}]},
            headers=headers,
        )
    )["id"]
    ok(client.post(f"/api/v1/playlists/{seed.playlist}/publish", headers=headers))
    seed.layout = ok(
        client.post(
            "/api/v1/layouts",
            json={
                "name": "Seed",
                "width": 1280,
                "height": 720,
                "regions": [
                    REGION,
                    {**REGION, "id": "r2", "x": 640, "widget": "playlist", "options": {"playlist_id": seed.playlist}},
                ],
            },
            headers=headers,
        )
    )["id"]
    ok(client.post(f"/api/v1/layouts/{seed.layout}/publish", headers=headers))
    pair = ok(client.post("/player/api/pair"))
    seed.screen_key = pair["key"]
    seed.screen = ok(
        client.post(
            "/api/v1/screens/claim",
            json={"code": pair["code"], "name": "Seed screen", "layout_id": seed.layout},
            headers=headers,
        )
    )["id"]
    seed.schedule = ok(
        client.post(
            "/api/v1/schedules",
            json={"layout_id": seed.layout, "screen_id": seed.screen, "start_date": str(dt.datetime.now(TZ).date())},
            headers=headers,
        )
    )["id"]
    seed.emergency = ok(client.post("/api/v1/emergency", json={"message": "Seed drill"}, headers=headers))["id"]
    seed.sensor_token = ok(client.post(f"/api/v1/rooms/{seed.room}/sensor-token", json={}, headers=headers))["token"]
    seed.terminal_token = ok(client.post(f"/api/v1/rooms/{seed.room}/terminal-token", json={}, headers=headers))["token"]
    seed.staff = ok(client.get("/api/v1/me", headers=headers))["email"]
    seed.webhook = client.portal.call(seed_webhook, client.app.state.db)
    seed.importer = client.portal.call(seed_importer, client.app.state.db)
    seed.door = client.portal.call(seed_door, client.app.state.db, seed.room)
    call = client.post(f"/api/v1/rooms/{seed.room}/service-calls", json={"kind": "tea"}, headers=headers)
    seed.service_call = ok(call)["id"]
    return seed


async def seed_door(db, room_id: int) -> int:
    """A door whose controller never resolves (`.invalid`): openings are reported as failed."""
    from booking_api.integrations.models import DoorController

    async with db.begin() as s:
        door = DoorController(room_id=room_id, name="Front", kind="relay", url="http://door.invalid", target="r1")
        s.add(door)
        await s.flush()
        return door.id


async def seed_importer(db) -> int:
    """An importer of an OA API that never resolves (`.invalid`): its runs record the failure."""
    from sqlalchemy import select

    from booking_api.integrations.models import ImportSource
    from signage.models import User

    async with db.begin() as s:
        admin = await s.scalar(select(User.id).where(User.role == "admin").limit(1))
        mapping = {"external_id": "id", "room": "room", "title": "title", "start": "start", "end": "end"}
        source = ImportSource(
            name="seed", kind="http", url="http://oa.invalid/api", mapping=mapping, organizer_id=admin
        )
        s.add(source)
        await s.flush()
        return source.id


async def seed_webhook(db) -> int:
    """A subscription to a name that never resolves (`.invalid`): made in the database, since
    the API refuses a URL it cannot resolve; its deliveries fail quietly, as they would."""
    from signage.webhooks.deliveries import new_secret
    from signage.webhooks.models import Endpoint

    async with db.begin() as s:
        ep = Endpoint(url="http://oa.invalid/hooks", events=["booking.*"], secret=new_secret())
        s.add(ep)
        await s.flush()
        return ep.id


def real_id(path: str, seed: Seed) -> int:
    if path.startswith("/api/v1/bookings/{id}/"):
        action = path.rsplit("/", 1)[1]
        return seed.pending if action in ("approve", "reject") else seed.current
    for prefix, value in (
        ("/api/v1/bookings/", seed.series),
        ("/api/v1/rooms/", seed.room),
        ("/api/v1/layouts/", seed.layout),
        ("/api/v1/playlists/", seed.playlist),
        ("/api/v1/schedules/", seed.schedule),
        ("/api/v1/screens/", seed.screen),
        ("/api/v1/media/", seed.media),
        ("/api/v1/emergency/", seed.emergency),
        ("/api/v1/webhooks/", seed.webhook),
        ("/api/v1/imports/", seed.importer),
        ("/api/v1/doors/", seed.door),
        ("/api/v1/service-calls/", seed.service_call),
        ("/api/v1/stats/ghosts/", seed.series_id),
    ):
        if path.startswith(prefix):
            return value
    raise AssertionError(f"no real id known for {path}: add it to real_id")


def fresh_id(client, headers: dict, method: str, path: str, seed: Seed) -> int:
    """The id a case with a real id goes to: a new object where the operation uses its
    object up (cancel, approve, reject), so each case meets one as seeded; else the seeded one."""
    if (method, path) in (("delete", "/api/v1/bookings/{id}"), ("post", "/api/v1/bookings/{id}/cancel")):
        body = {**booking_body(seed), "start": iso(at(9, days=200 + 3 * seed.next())), "rrule": "FREQ=DAILY;COUNT=3"}
        body["end"] = iso(dt.datetime.fromisoformat(body["start"]) + dt.timedelta(minutes=30))
        r = client.post("/api/v1/bookings", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()["occurrences"][1]["id"]
    if path.startswith("/api/v1/service-calls/{id}/"):  # accept and done use a call up: a new one each
        r = client.post(f"/api/v1/rooms/{seed.room}/service-calls", json={"kind": "tea"}, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()["id"]
    if path in ("/api/v1/bookings/{id}/approve", "/api/v1/bookings/{id}/reject"):
        start = at(14, days=200 + seed.next())
        end = start + dt.timedelta(hours=1)
        body = {"room_id": seed.approval_room, "title": "Pending", "start": iso(start), "end": iso(end)}
        r = client.post("/api/v1/bookings", json=body, headers=seed.member)
        assert r.status_code == 201, r.text
        return r.json()["id"]
    return real_id(path, seed)


def booking_body(seed: Seed, room: int | None = None) -> dict:
    """A valid new booking, each call in a slot of its own (so conflicts do not hide deeper checks)."""
    n = seed.next()
    start = at(8, days=30 + n // 12) + dt.timedelta(hours=n % 12)
    return {
        "room_id": room or seed.room,
        "title": "Fuzz",
        "start": iso(start),
        "end": iso(start + dt.timedelta(minutes=30)),
        "attendees": [{"name": "Bo", "email": "bo@example.com", "phone": "123", "role": "optional", "user_id": None}],
        "notes": "n",
        "services": ["tea"],
        "rrule": None,
        "on_conflict": "fail",
    }


def fresh_pairing_code(client) -> str:
    """A new pairing code, the unclaimed ones before it deleted: one address may hold only
    `player.routes.PENDING_PER_ADDRESS` of them, and the walk asks for one per case."""
    from sqlalchemy import delete

    from player.models import Screen

    async def forget() -> None:
        async with client.app.state.db.begin() as s:
            await s.execute(delete(Screen).where(Screen.claimed_at.is_(None)))

    client.portal.call(forget)
    return client.post("/player/api/pair").json()["code"]


def base_body(method: str, path: str, schema_name: str, seed: Seed, client) -> Any:
    """A valid body for the operation, for each property to be spoiled in turn."""
    item = {
        "id": "i1",
        "widget": "image",
        "options": {"media_id": seed.media},
        "duration": 10,
        "transition": "fade",
        "enabled": True,
        "valid_from": "2026-01-01T00:00:00+08:00",
        "valid_until": None,
    }
    bodies = {
        "BookingIn": lambda: booking_body(seed),
        "BookingPatch": lambda: {"title": "Renamed", "scope": "this"},
        "Decision": lambda: {"reason": "ok", "scope": "this"},
        "CancelIn": lambda: {"scope": "this", "reason": "fuzz"},
        "Extend": lambda: {"minutes": 15},
        "CallIn": lambda: {"kind": "tea", "note": "4 cups"},
        "CareIn": lambda: {"cleaning": "every", "walkup_until_clean": False},
        # in service: the fuzz's room stays bookable (out of service it needs a reason: 400 without)
        "ServiceStateIn": lambda: {"in_service": True, "reason": ""},
        "ClockShift": lambda: {"shift_seconds": 0},
        "EmergencyIn": lambda: {"message": "Drill", "layout_id": seed.layout, "group_id": None},
        "LayoutIn": lambda: {"name": "Fuzz", "width": 1280, "height": 720, "template": None, "regions": [REGION]},
        "DraftIn": lambda: {"name": "Fuzz", "regions": [REGION]},
        "RollbackIn": lambda: {"version": 1},
        "PlaylistIn": lambda: {"name": "Fuzz", "items": [item]},
        "RoomIn": lambda: {
            "name": f"Fuzz {seed.next()}",
            "building": "HQ",
            "floor": "2",
            "capacity": 6,
            "equipment": ["tv"],
            "photo_url": "",
            "opens_at": "00:00",
            "closes_at": "24:00",
            "needs_approval": False,
            "buffer_minutes": 0,
            "max_minutes": 0,
            "window_days": 0,
            "notice_minutes": 0,
        },
        "DoorRules": lambda: {
            "checkin_opens_minutes": 10,
            "checkin_grace_minutes": 15,
            "release_no_shows": True,
            "sensor_absent_minutes": 0,
        },
        "Presence": lambda: {"present": True},
        "OverrideIn": lambda: {"amount": 5000, "reason": "fuzz"},
        "RateCardIn": lambda: {
            "currency": "CNY",
            "rules": [{"weekdays": [1, 2, 3, 4, 5], "from": "09:00", "to": "18:00", "unit_minutes": 30,
                       "unit_price": 5000, "minimum": 0, "rounding": "up", "who": None}],  # fmt: skip
            "cancel_free_hours": 24,
            "cancel_percent": 50,
        },
        # no address resolves here, so a new subscription's URL is refused (400) whatever the rest
        "WebhookIn": lambda: {"url": "http://oa.invalid/hooks", "events": ["booking.*"], "description": "OA"},
        "ImportIn": lambda: {
            "name": f"oa-{seed.next()}",
            "kind": "http",
            "url": "http://oa.invalid/api",
            "mapping": {"external_id": "id", "room": "room", "title": "title", "start": "start", "end": "end"},
        },
        "RunIn": lambda: {"dry_run": True},
        "DoorIn": lambda: {"name": "Side", "kind": "relay", "url": "http://door.invalid", "target": "r2"},
        "OpenIn": lambda: {"reason": "fuzz"},
        "WebhookPatch": lambda: {"description": "OA", "events": ["booking.*", "room.updated"], "enabled": True},
        "SensorToken": lambda: {"absent_minutes": 10},
        "TerminalToken": lambda: {},
        "AccessEvent": lambda: {"person": seed.staff, "method": "face"},
        "ScheduleIn": lambda: {
            "layout_id": seed.layout,
            "screen_id": seed.screen,
            "group_id": None,
            "start_date": "2026-01-01",
            "end_date": "2036-12-31",
            "weekdays": [0, 1, 2, 3, 4, 5, 6],
            "start_time": "08:00",
            "end_time": "18:00",
            "timezone": "Asia/Shanghai",
            "priority": 1,
        },
        "ScreenClaim": lambda: {
            "code": fresh_pairing_code(client),
            "name": "Fuzz screen",
            "layout_id": seed.layout,
        },
    }
    bodies["RoomInPatch"] = bodies["RoomIn"]  # a PATCH may send every field too
    if schema_name not in bodies:
        raise AssertionError(f"no valid body known for {schema_name} ({method} {path}): add one to base_body")
    return bodies[schema_name]()


# ---------------------------------------------------------------- schema walking


def resolve(schema: dict, doc: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def variants(schema: dict, doc: dict) -> list[dict]:
    """The alternatives of an anyOf (null left out), each resolved."""
    schema = resolve(schema, doc)
    options = schema.get("anyOf", [schema])
    return [resolve(o, doc) for o in options if o.get("type") != "null"]


def junk_for(name: str, schema: dict, doc: dict, short: bool = False) -> list[tuple[str, Any]]:
    """Bad values for a property: wrong types always, then what fits its type, format and name."""
    out = list(TYPE_SHORT if short else TYPE_JUNK)
    for alt in variants(schema, doc):
        kind = alt.get("type")
        if kind in ("integer", "number"):
            out += NUM_SHORT if short else NUM_JUNK
        elif kind == "string":
            out += STR_SHORT if short else STR_JUNK
            if alt.get("format") == "date-time":
                out += DATETIME_JUNK
            elif alt.get("format") == "date":
                out += DATE_JUNK
            elif "pattern" in alt and ":" in alt["pattern"] or name.endswith(("_time", "opens_at", "closes_at")):
                out += TIME_JUNK
            if "enum" in alt:
                out.append(("not in enum", "bogus"))
        elif kind == "array":
            out += ARRAY_JUNK
        out += NAMED_JUNK.get(name, [])
    seen, unique = set(), []
    for label, value in out:
        key = (label, dumps(value))
        if key not in seen:
            seen.add(key)
            unique.append((label, value))
    return unique


def object_items(schema: dict, doc: dict) -> dict | None:
    """The item schema of an array-of-objects property (attendees, regions, items), if it is one."""
    for alt in variants(schema, doc):
        if alt.get("type") == "array":
            items = resolve(alt.get("items", {}), doc)
            if items.get("type") == "object" and items.get("properties"):
                return items
    return None


def widget_options() -> dict[str, tuple[dict, dict]]:
    """Each widget type: (valid options, their JSON Schema properties); 'playlist' regions included."""
    import widgets

    found = {}
    for name, widget in sorted(widgets.REGISTRY.items()):
        found[name] = ({}, widget.options.model_json_schema().get("properties", {}))
    found["playlist"] = ({"playlist_id": 0}, {"playlist_id": {"type": "integer"}})
    return found


def body_cases(
    method: str, url: str, schema: dict, doc: dict, make_base, seed: Seed, extra_headers: dict
) -> Iterator[Case]:
    def case(label, body, raw=False, headers=None):
        return Case(label, method, url, body, raw, {**extra_headers, **(headers or {})})

    yield case("valid body", make_base())
    yield Case("no body", method, url, headers=dict(extra_headers))
    yield case("empty body", b"", raw=True)
    for label, body in (("null", None), ("[]", []), ('"x"', "x"), ("{}", {}), ("42", 42)):
        yield case(f"body {label}", dumps(body), raw=True)
    yield case("broken JSON", b"{", raw=True)
    yield case("trailing garbage", dumps(make_base()) + b"}", raw=True)
    yield case("non-UTF-8 bytes", b'{"name": "\xff\xfe"}', raw=True)
    yield case("UTF-16 JSON", json.dumps(make_base()).encode("utf-16"), raw=True)
    yield case("BOM + JSON", b"\xef\xbb\xbf" + dumps(make_base()), raw=True)
    yield case("nested 5000 deep", b"[" * 5000 + b"]" * 5000, raw=True)
    yield case(
        "duplicate keys", dumps(make_base())[:-1] + b', "' + next(iter(make_base()), "x").encode() + b'": 1}', raw=True
    )
    yield case("unknown property", {**make_base(), "bogus": 1})
    yield case(
        "form content type", dumps(make_base()), raw=True, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    yield case(
        "multipart without boundary", dumps(make_base()), raw=True, headers={"Content-Type": "multipart/form-data"}
    )

    props = resolve(schema, doc).get("properties", {})
    for name, prop in props.items():
        base = make_base()
        if name in base:
            yield case(f"{name} missing", {k: v for k, v in base.items() if k != name})
        for label, value in junk_for(name, prop, doc):
            yield case(f"{name}={label}", {**make_base(), name: value})
        items = object_items(prop, doc)
        if items is None:
            continue
        container = make_base().get(name) or []
        item = container[0] if container else {}
        if name in ("regions", "items"):
            # Every widget option's junk once, on a layout's PUT: a playlist's items are checked by
            # the same widget models (widgets.REGISTRY), so there each widget type is sent once.
            full = method == "put" and name == "regions"
            yield from widget_cases(method, url, name, make_base, seed, extra_headers, full=full)
        for iname, iprop in items["properties"].items():
            if iname == "options":
                continue  # widget options: widget_cases
            for label, value in junk_for(iname, iprop, doc, short=True):
                yield case(f"{name}[0].{iname}={label}", {**make_base(), name: [{**item, iname: value}]})
        if item:
            yield case(f"{name} 501 copies", {**make_base(), name: [item] * 501})


def widget_cases(method, url, name, make_base, seed: Seed, extra_headers: dict, full: bool) -> Iterator[Case]:
    """Each widget type in a region / playlist item, with each of its options spoiled (`full`)."""
    body = make_base()
    item = body[name][0] if body.get(name) else {}
    for wtype, (valid, props) in widget_options().items():
        if name == "items" and wtype == "playlist":
            continue
        if wtype == "playlist":
            valid = {"playlist_id": seed.playlist}
        good = {**item, "widget": wtype, "options": valid}
        yield Case(f"{name}[0] widget {wtype}", method, url, {**make_base(), name: [good]}, headers=dict(extra_headers))
        if not full:
            continue
        for oname, oprop in props.items():
            for label, value in junk_for(oname, oprop, {"components": {"schemas": {}}}, short=True):
                options = {**valid, oname: value}
                yield Case(
                    f"{name}[0] {wtype}.options.{oname}={label}",
                    method,
                    url,
                    {**make_base(), name: [{**good, "options": options}]},
                    headers=dict(extra_headers),
                )
        yield Case(
            f"{name}[0] {wtype}.options unknown key",
            method,
            url,
            {**make_base(), name: [{**good, "options": {**valid, "bogus": 1}}]},
            headers=dict(extra_headers),
        )
    for label, options in (("null", None), ("list", [1]), ("string", "x")):
        yield Case(
            f"{name}[0].options={label}",
            method,
            url,
            {**make_base(), name: [{**item, "options": options}]},
            headers=dict(extra_headers),
        )


def media_cases(url: str) -> Iterator[Case]:
    """The multipart upload: junk files and fields."""

    def up(label, files=None, data=None):
        return Case(label, "post", url, files=files, data=data)

    yield Case("no body", "post", url)
    yield Case("JSON body", "post", url, {"files": []})
    yield Case(
        "multipart without boundary", "post", url, b"x", raw=True, headers={"Content-Type": "multipart/form-data"}
    )
    yield Case(
        "multipart broken",
        "post",
        url,
        b"--b\r\nContent-Disposition: form-data; name=files\r\n\r\nx",
        raw=True,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    yield up("no files field", data={"folder": "x"})
    yield up("files as text field", data={"files": "x"})
    yield up("empty file", files={"files": ("e.png", b"", "image/png")})
    yield up("junk bytes as png", files={"files": ("j.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "image/png")})
    yield up("text as image", files={"files": ("t.jpg", b"hello", "image/jpeg")})
    yield up("truncated png", files={"files": ("t.png", png()[:60], "image/png")})
    yield up("no file name", files={"files": ("", png(), "image/png")})
    yield up("NUL in file name", files={"files": ("a\x00b.png", png(), "image/png")})
    yield up("path in file name", files={"files": ("../../etc/passwd.png", png(), "image/png")})
    yield up("long file name", files={"files": ("a" * 5000 + ".png", png(), "image/png")})
    yield up(
        "lone surrogate name",
        files={"files": ("\ud800.png".encode("utf-8", "surrogatepass").decode("latin-1"), png(), "image/png")},
    )
    for label, folder in [*STR_JUNK, ("path", "../../x"), ("slashes", "a//b/"), ("absolute", "/etc")]:
        if isinstance(folder, str):
            try:
                folder.encode("utf-8")
            except UnicodeEncodeError:
                continue  # multipart fields are UTF-8: a lone surrogate cannot be sent
            yield up(f"folder={label}", files={"files": ("f.png", png(), "image/png")}, data={"folder": folder})


def query_cases(method: str, path_url: str, names: list[str], make_body, extra_headers: dict) -> Iterator[Case]:
    for name in names:
        for label, value in QUERY_JUNK:
            body = make_body() if make_body else None
            yield Case(f"?{name}={label}", method, f"{path_url}?{name}={value}", body, headers=dict(extra_headers))
        body = make_body() if make_body else None
        yield Case(f"?{name} twice", method, f"{path_url}?{name}=1&{name}=abc", body, headers=dict(extra_headers))
        yield Case(f"?{name} without =", method, f"{path_url}?{name}", body, headers=dict(extra_headers))


def header_cases(method: str, url: str, names: list[str], make_body, keep: dict) -> Iterator[Case]:
    for name in names:
        for label, value in HEADER_JUNK:
            body = make_body() if make_body else None
            yield Case(f"{name}: {label}", method, url, body, headers={**keep, name: value})
        if name.lower() == "idempotency-key":
            yield Case(f"{name} reused, body 1", method, url, make_body(), headers={**keep, name: "fuzz-key"})
            yield Case(f"{name} reused, body 2", method, url, make_body(), headers={**keep, name: "fuzz-key"})
            yield Case(f"{name} junk body", method, url, b"{", raw=True, headers={**keep, name: "fuzz-key-2"})
            yield Case(f"{name} junk body again", method, url, b"{", raw=True, headers={**keep, name: "fuzz-key-2"})


def cases_for(method: str, path: str, op: dict, doc: dict, seed: Seed, client) -> Iterator[Case]:
    params = op.get("parameters", [])
    path_names = [p["name"] for p in params if p["in"] == "path"]
    query_names = [p["name"] for p in params if p["in"] == "query"]
    header_names = [p["name"] for p in params if p["in"] == "header"]
    real = real_id(path, seed) if path_names else None
    url = path.replace("{id}", "@ID@")  # the real id, or a fresh one: see fresh_id
    content = op.get("requestBody", {}).get("content", {})
    json_schema = content.get("application/json", {}).get("schema")
    keep = {"X-Sensor-Token": seed.sensor_token} if "X-Sensor-Token" in header_names else {}
    if "X-Terminal-Token" in header_names:
        keep = {"X-Terminal-Token": seed.terminal_token}
    make_body = None
    if json_schema is not None:
        name = json_schema["$ref"].rsplit("/", 1)[1]

        def make_body():
            return base_body(method, path, name, seed, client)

    # junk headers and query parameters first, while the real objects are as seeded
    yield from header_cases(method, url, header_names, make_body, keep)
    yield from query_cases(method, url, query_names, make_body, keep)
    if json_schema is not None:
        yield from body_cases(method, url, json_schema, doc, make_body, seed, keep)
    elif "multipart/form-data" in content:
        yield from media_cases(url)
    for value in PATH_JUNK if path_names else []:
        body = make_body() if make_body else None
        yield Case(f"id={value}", method, path.replace("{id}", value), body, headers=dict(keep))
    for label, headers in AUTH_JUNK:
        body = make_body() if make_body else None
        yield Case(label, method, url, body, headers={**keep, **headers}, auth=False)
    for label, headers in ENV_JUNK:
        body = make_body() if make_body else None
        yield Case(label, method, url, body, headers={**keep, **headers})
    if real is not None or not content:
        yield Case("as seeded", method, url, make_body() if make_body else None, headers=dict(keep))


# ---------------------------------------------------------------- reading back


def read_back(prober: Prober, seed: Seed, r, case: Case, path: str) -> None:
    """After an accepted write: what it wrote must still be readable and publishable."""
    if r is None or r.status_code >= 400 or case.method == "get":
        return
    try:
        answer = r.json()
    except ValueError:
        answer = None
    new_id = answer.get("id") if isinstance(answer, dict) and isinstance(answer.get("id"), int) else None
    follow: list[tuple[str, str]] = []
    if path.startswith("/api/v1/bookings"):
        follow.append(("get", f"/api/v1/bookings/{new_id or seed.series}"))
    elif path.startswith("/api/v1/rooms"):
        follow.append(("get", f"/api/v1/rooms/{new_id or seed.room}/status"))
    elif path.startswith("/api/v1/layouts"):
        layout = new_id or seed.layout
        follow += [("get", f"/api/v1/layouts/{layout}?preview=1"), ("post", f"/api/v1/layouts/{layout}/publish")]
    elif path.startswith("/api/v1/playlists"):
        follow.append(("post", f"/api/v1/playlists/{new_id or seed.playlist}/publish"))
    elif path.startswith(("/api/v1/schedules", "/api/v1/emergency", "/api/v1/screens")):
        follow.append(("get", f"/api/v1/screens/{seed.screen}/playing"))
    for method, url in follow:
        prober.send(Case(f"read back after {case.label}", method, url), check_tables=False)
    if path.startswith(("/api/v1/layouts", "/api/v1/playlists", "/api/v1/schedules", "/api/v1/emergency")):
        screen = {"X-Screen-Key": seed.screen_key}
        prober.send(
            Case(f"read back after {case.label}", "get", "/player/api/state", headers=screen, auth=False), False
        )
    prober.tables.refresh()


def final_sweep(prober: Prober, seed: Seed, doc: dict) -> None:
    """Every GET of the API, and a screen's own state, after all that junk went in."""
    for path, ops in doc["paths"].items():
        if "get" in ops and ("get", path) not in SKIP and not streams(ops["get"]):
            url = path.replace("{id}", str(real_id(path, seed))) if "{id}" in path else path
            prober.send(Case("final sweep", "get", url), check_tables=False)
    prober.send(Case("final sweep", "get", f"/api/v1/layouts/{seed.layout}?preview=1"), check_tables=False)
    screen = {"X-Screen-Key": seed.screen_key}
    prober.send(Case("final sweep", "get", "/player/api/state", headers=screen, auth=False), check_tables=False)


# ---------------------------------------------------------------- the tests


@pytest.fixture(autouse=True)
def quick_timer(monkeypatch):
    """The room timer lets a burst of bookings land for half a second before it looks again;
    every accepted write here is followed by a wait for the timer (Prober.settle), so a
    shorter pause keeps this module's thousands of requests from waiting ~8 minutes."""
    from booking_api.doors import roomstate

    monkeypatch.setattr(roomstate, "COALESCE", 0.02)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, dict, Seed]:
    """A database (and data folder) with one of everything, made once; each test gets a copy."""
    folder = tmp_path_factory.mktemp("world")
    url = f"sqlite+aiosqlite:///{folder / 'signage.db'}"
    create_tables(url)
    settings = Settings(
        data_dir=folder / "data",
        database_url=url,
        secret_key="test-secret",
        default_locale="en",
        redis_prefix=os.environ["SIGNAGE_REDIS_PREFIX"],
    )
    headers = make_token(settings, "admin")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        seed = seed_world(client, headers)
    return folder, headers, seed


@pytest.fixture
def database_url(backend, world, tmp_path):
    """Overrides conftest's: a copy of the seeded world (the `client` fixture runs on it)."""
    assert backend == "sqlite"
    folder, _headers, _seed = world
    for name in ("signage.db", "signage.db-wal"):
        if (folder / name).exists():
            shutil.copy(folder / name, tmp_path / name)
    shutil.copytree(folder / "data", tmp_path / "data")
    return f"sqlite+aiosqlite:///{tmp_path / 'signage.db'}"


def test_every_operation_is_probed(client):
    doc = client.get("/api/v1/openapi.json").json()
    served = {(m, p) for p, ops in doc["paths"].items() for m, op in ops.items() if not streams(op)}
    assert served - SKIP == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in OPERATIONS])
def test_bad_input_gets_a_4xx(client, make_client, world, caplog, method, path):
    caplog.set_level(logging.ERROR)
    _folder, headers, seed = world
    seed = dataclasses.replace(seed)
    if path == "/api/v1/clock":
        client = make_client(test_clock=True)  # else refused before its body is read
    doc = client.get("/api/v1/openapi.json", headers=headers).json()
    op = doc["paths"][path][method]
    prober = Prober(client, headers, caplog, Path(client.app.state.settings.database_url.split("///", 1)[1]))
    try:
        with alarm_handler():
            for case in cases_for(method, path, op, doc, seed, client):
                if "@ID@" in case.url:
                    case.url = case.url.replace("@ID@", str(fresh_id(client, headers, method, path, seed)))
                    prober.unsettled = True  # that write's background work is not the case's
                r = prober.send(case)
                read_back(prober, seed, r, case, path)
            if method != "get":
                final_sweep(prober, seed, doc)
    finally:
        prober.tables.close()
    print(f"{method.upper()} {path}: {prober.sent} requests")
    assert not prober.failures, f"{len(prober.failures)} bad answers:\n" + "\n".join(prober.failures)
