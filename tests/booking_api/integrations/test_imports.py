"""Importers (issue 18, modes 1 and 3): an OA's meetings become bookings through the normal
booking path, idempotent by external id. The OA's database is a real MariaDB (127.0.0.1:3306,
root) or PostgreSQL database the test fills as an OA would keep it; its HTTP API is a real
HTTP server in the test that checks the auth header."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bookings_helpers import TZ, at, make_room
from fixtures import PG_URL, api_token, csrf, free_port, in_app, login, need, pg_admin, rows, run_sync, wait_for
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from booking_api.models import Booking
from signage.eventlog.models import Event

MAPPING = {"external_id": "id", "room": "room", "title": "subject", "start": "starts", "end": "ends",
           "attendees": "people", "status": "state"}  # fmt: skip


def local(t: dt.datetime) -> dt.datetime:
    return t.astimezone(TZ).replace(tzinfo=None)  # an OA's DATETIME: local time, no zone


class OaDatabase:
    """A `meetings` table in a database of its own, as an OA keeps it."""

    def __init__(self, kind: str):
        self.kind, self.name = kind, f"oa_{uuid.uuid4().hex[:10]}"
        if kind == "mariadb":
            need("MariaDB", "127.0.0.1", 3306)
            self.admin_url = "mysql+aiomysql://root@127.0.0.1:3306/mysql"
            self.url = f"mysql://root@127.0.0.1:3306/{self.name}"
            self.async_url = f"mysql+aiomysql://root@127.0.0.1:3306/{self.name}"
            self.sql(f"CREATE DATABASE {self.name}", admin=True)
        else:
            need("PostgreSQL", "127.0.0.1", 5432)
            pg_admin(f'CREATE DATABASE "{self.name}"')
            self.async_url = PG_URL.format(db=self.name)
            self.url = f"postgresql://127.0.0.1:5432/{self.name}"
        self.sql(
            "CREATE TABLE meetings (id VARCHAR(40) PRIMARY KEY, room VARCHAR(100), subject VARCHAR(200),"
            " starts TIMESTAMP NULL, ends TIMESTAMP NULL, people TEXT, state VARCHAR(20), updated TIMESTAMP NULL)"
        )

    def sql(self, statement: str, params: dict | None = None, admin: bool = False) -> None:
        async def run():
            engine = create_async_engine(self.admin_url if admin else self.async_url)
            async with engine.begin() as conn:
                await conn.execute(text(statement), params or {})
            await engine.dispose()

        run_sync(run())

    def tables(self) -> list[str]:
        async def run():
            engine = create_async_engine(self.async_url)
            try:
                async with engine.connect() as conn:
                    return sorted(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            finally:
                await engine.dispose()

        return run_sync(run())

    def add(self, id: str, room: str, subject: str, start: dt.datetime, state: str = "booked", minute: int = 0):
        self.sql(
            "INSERT INTO meetings VALUES (:id, :room, :subject, :starts, :ends, :people, :state, :updated)",
            dict(id=id, room=room, subject=subject, starts=local(start), ends=local(start + dt.timedelta(hours=1)),
                 people="li@example.com, han@example.com", state=state, updated=dt.datetime(2026, 1, 1, 8, minute)),
        )  # fmt: skip

    def drop(self) -> None:
        if self.kind == "mariadb":
            self.sql(f"DROP DATABASE IF EXISTS {self.name}", admin=True)
        else:
            pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture(params=["mariadb", "postgresql"])
def oa_db(request):
    db = OaDatabase(request.param)
    yield db
    db.drop()


def run(client, admin, source_id, dry_run=False) -> dict:
    r = client.post(f"/api/v1/imports/{source_id}/run", json={"dry_run": dry_run}, headers=admin)
    assert r.status_code == 200, r.text
    return r.json()


def counts(result: dict) -> tuple:
    return tuple(result[k] for k in ("rows", "created", "changed", "cancelled", "unchanged")) + (len(result["errors"]),)


def imported(client) -> dict[str, Booking]:
    return {b.external_id: b for b in rows(client, select(Booking).where(Booking.external_id.is_not(None)))}


def test_an_oa_database_is_read_incrementally_and_changes_only_what_changed(make_client, oa_db):
    client = make_client(webhook_allow_private=True)
    admin = api_token(client, "admin")
    make_room(client, admin, name="Orchid")
    oa_db.add("M-1", "Orchid", "Budget", at(9), minute=1)
    oa_db.add("M-2", "orchid", "Hiring", at(11), minute=2)
    oa_db.add("M-3", "Nowhere", "Lost", at(13), minute=3)
    body = {"name": "old-oa", "kind": "database", "url": oa_db.url, "query": "SELECT * FROM meetings",
            "updated_column": "updated", "mapping": MAPPING}  # fmt: skip
    for bad, field in [({"query": "DELETE FROM meetings"}, "query"), ({"query": "SELECT 1; DROP TABLE x"}, "query"),
                       ({"url": "sqlite:///x.db"}, "url"), ({"mapping": {"title": "subject"}}, "mapping")]:  # fmt: skip
        r = client.post("/api/v1/imports", json={**body, **bad}, headers=admin)
        assert r.status_code == 400 and r.json()["detail"]["field"] == field, (bad, r.text)
    r = client.post("/api/v1/imports", json=body, headers=admin)
    assert r.status_code == 201, r.text
    source = r.json()
    assert source["url"].endswith(oa_db.name)

    preview = client.post(f"/api/v1/imports/{source['id']}/preview", headers=admin).json()
    assert preview["failure"] == "" and len(preview["rows"]) == 3
    assert preview["mapped"][0]["title"] == "Budget" and "Nowhere" in preview["mapped"][2]["error"]
    dry = run(client, admin, source["id"], dry_run=True)
    assert counts(dry) == (3, 2, 0, 0, 0, 1) and [p["action"] for p in dry["plan"]] == ["created", "created"]
    assert imported(client) == {}  # a dry run books nothing

    first = run(client, admin, source["id"])
    assert counts(first) == (3, 2, 0, 0, 0, 1)
    assert first["errors"] == [{"row": 3, "external_id": "M-3", "error": "room: no room is called 'Nowhere'"}]
    made = imported(client)
    assert {k: (b.title, b.status, b.external_source) for k, b in made.items()} == {
        "M-1": ("Budget", "confirmed", "old-oa"),
        "M-2": ("Hiring", "confirmed", "old-oa"),
    }
    assert made["M-1"].start_at == at(9)  # the OA's local time, in the site's zone
    events = len(rows(client, select(Event.id)))
    assert counts(run(client, admin, source["id"])) == (0, 0, 0, 0, 0, 0)  # nothing newer: nothing read
    oa_db.sql(
        "UPDATE meetings SET subject = 'Budget Q3', updated = :t WHERE id = 'M-1'", {"t": dt.datetime(2026, 2, 1)}
    )
    oa_db.sql("UPDATE meetings SET state = 'cancelled', updated = :t WHERE id = 'M-2'", {"t": dt.datetime(2026, 2, 2)})
    assert counts(run(client, admin, source["id"])) == (2, 0, 1, 1, 0, 0)
    now = imported(client)
    assert (now["M-1"].title, now["M-1"].id, now["M-2"].status) == ("Budget Q3", made["M-1"].id, "cancelled")
    assert len(rows(client, select(Event.id))) == events + 2  # one booking.updated, one booking.cancelled
    assert counts(run(client, admin, source["id"])) == (0, 0, 0, 0, 0, 0)
    runs = client.get(f"/api/v1/imports/{source['id']}/runs", headers=admin).json()
    assert len(runs) == 5 and runs[-1]["dry_run"] and runs[0]["finished_at"]


class FakeOa:
    """An OA's meetings API: GET /api/meetings with the right bearer token."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/meetings"
        self.items: list[dict] = []
        oa = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                ok = self.headers.get("authorization") == "Bearer oa-secret"
                body = json.dumps({"data": {"items": oa.items}} if ok else {"error": "who are you"}).encode()
                self.send_response(200 if ok else 401)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_oa():
    oa = FakeOa()
    yield oa
    oa.stop()


def test_an_oa_api_is_pulled_with_its_auth_and_a_rerun_changes_nothing(make_client, fake_oa):
    client = make_client(webhook_allow_private=True)
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Lotus")
    item = {"meeting": {"no": "A1", "subject": "Weekly"}, "where": str(room["id"]), "from": at(9).isoformat(),
            "to": at(10).isoformat(), "who": ["li@example.com"]}  # fmt: skip
    fake_oa.items = [item, {**item, "meeting": {"no": "A2", "subject": "Retro"}, "from": at(14).isoformat(),
                            "to": at(15).isoformat()}, {"meeting": {"no": "A3"}, "where": "Lotus"}]  # fmt: skip
    mapping = {"external_id": "meeting.no", "room": "where", "title": "meeting.subject", "start": "from", "end": "to",
               "attendees": "who"}  # fmt: skip
    body = {"name": "oa", "kind": "http", "url": fake_oa.url, "auth_header": "Authorization: Bearer wrong",
            "list_path": "data.items", "mapping": mapping}  # fmt: skip
    source = client.post("/api/v1/imports", json=body, headers=admin).json()
    failed = run(client, admin, source["id"])
    assert failed["failure"].startswith("HTTP 401") and counts(failed) == (0, 0, 0, 0, 0, 0)
    async_fix = {**body, "name": "oa2", "auth_header": "Authorization: Bearer oa-secret"}
    source = client.post("/api/v1/imports", json=async_fix, headers=admin).json()
    first = run(client, admin, source["id"])
    assert counts(first) == (3, 2, 0, 0, 0, 1) and "start: missing" in first["errors"][0]["error"]
    made = imported(client)
    assert made["A1"].title == "Weekly" and made["A1"].external_source == "oa2"
    events = len(rows(client, select(Event.id)))
    assert counts(run(client, admin, source["id"])) == (3, 0, 0, 0, 2, 1)  # the same list: nothing to do
    assert len(rows(client, select(Event.id))) == events
    fake_oa.items[0]["to"] = at(10, 30).isoformat()
    assert counts(run(client, admin, source["id"])) == (3, 0, 1, 0, 1, 1)
    assert imported(client)["A1"].end_at == at(10, 30)

    # an OA booking through our API with its own id: sent again, the same booking
    mine = {"room_id": room["id"], "title": "Board", "start": at(16).isoformat(), "end": at(17).isoformat(),
            "external_id": "X-9", "external_source": "hr-oa"}  # fmt: skip
    r1 = client.post("/api/v1/bookings", json=mine, headers=admin)
    r2 = client.post("/api/v1/bookings", json=mine, headers=admin)
    r3 = client.post("/api/v1/bookings", json={**mine, "title": "Board (moved)"}, headers=admin)
    assert (r1.status_code, r2.status_code, r3.status_code) == (201, 200, 200), r3.text
    assert r1.json()["id"] == r2.json()["id"] == r3.json()["id"] and r3.json()["title"] == "Board (moved)"
    assert r1.json()["external_id"] == "X-9" and r1.json()["external_source"] == "hr-oa"


def test_private_addresses_are_refused_for_importers(client):
    admin = api_token(client, "admin")
    body = {"name": "oa", "kind": "http", "url": "http://127.0.0.1:9/api", "mapping": MAPPING}
    r = client.post("/api/v1/imports", json=body, headers=admin)
    assert r.status_code == 400 and "SIGNAGE_WEBHOOK_ALLOW_PRIVATE" in r.json()["message"]


def test_the_imports_page_adds_previews_and_dry_runs(make_client, fake_oa):
    client = make_client(webhook_allow_private=True)
    login(client, "admin")
    token = csrf(client)
    make_room(client, api_token(client, "admin"), name="Peony")
    fake_oa.items = [
        {"id": "P1", "room": "Peony", "title": "Standup", "start": at(9).isoformat(), "end": at(10).isoformat()}
    ]
    form = {"csrf_token": token, "name": "oa", "kind": "http", "url": fake_oa.url, "auth_header": "Authorization: Bearer oa-secret",
            "list_path": "data.items", "every_minutes": "0", **{f"map_{f}": f for f in ("room", "title", "start", "end")}}  # fmt: skip
    r = client.post("/admin/imports", data=form)
    assert r.status_code == 400 and "Map external_id" in r.text
    r = client.post("/admin/imports", data={**form, "map_external_id": "id"}, follow_redirects=False)
    assert r.status_code == 303
    page = r.headers["location"]
    r = client.post(page + "/preview", data={"csrf_token": token})
    assert r.status_code == 200 and 'id="preview"' in r.text and "Standup" in r.text and "room_id" in r.text
    r = client.post(page + "/run", data={"csrf_token": token, "dry_run": "1"})
    assert r.status_code == 200 and 'id="plan"' in r.text and "created: Standup" in r.text
    assert imported(client) == {}
    r = client.post(page + "/run", data={"csrf_token": token})
    assert r.status_code == 200 and list(imported(client)) == ["P1"]
    assert len(client.get(page).text.split('id="run-')) == 3  # both runs listed


def test_an_importer_with_every_minutes_runs_by_itself_again_when_due(make_client, fake_oa):
    client = make_client(webhook_allow_private=True, test_clock=True)
    client.app.state.imports.every = 0.2  # look for due sources often (the default is 30 s)
    admin = api_token(client, "admin")
    make_room(client, admin, name="Jasmine")
    fake_oa.items = [{"id": "S1", "room": "Jasmine", "title": "Daily", "start": at(9).isoformat(),
                      "end": at(10).isoformat()}]  # fmt: skip
    mapping = {f: f for f in ("room", "title", "start", "end")} | {"external_id": "id"}
    body = {"name": "timed", "kind": "http", "url": fake_oa.url, "auth_header": "Authorization: Bearer oa-secret",
            "list_path": "data.items", "mapping": mapping, "every_minutes": 5}  # fmt: skip
    source = client.post("/api/v1/imports", json=body, headers=admin).json()
    runs = lambda: client.get(f"/api/v1/imports/{source['id']}/runs", headers=admin).json()  # noqa: E731
    wait_for(lambda: len(runs()) == 1 and runs()[0]["finished_at"])  # nobody pressed run
    assert counts(runs()[0]) == (1, 1, 0, 0, 0, 0) and not runs()[0]["dry_run"]
    assert list(imported(client)) == ["S1"]
    fake_oa.items[0]["title"] = "Daily (moved)"
    assert client.post("/api/v1/clock", json={"shift_seconds": 5 * 60 + 5}, headers=admin).status_code == 200
    wait_for(lambda: len(runs()) == 2 and runs()[0]["finished_at"])  # five minutes on: again, by itself
    assert counts(runs()[0]) == (1, 0, 1, 0, 0, 0)
    assert imported(client)["S1"].title == "Daily (moved)"


@pytest.mark.parametrize(
    "query, why",
    [
        ("SELECT * INTO copy FROM meetings", "INTO"),
        ("SELECT id INTO OUTFILE '/tmp/oa.txt' FROM meetings", "INTO"),
        ("SELECT id FROM meetings; DELETE FROM meetings", ";"),
        ("SELECT id FROM meetings DELETE FROM meetings", "DELETE"),  # two statements to SQL Server
        ("SELECT id FROM meetings FOR UPDATE", "UPDATE"),
        ("SELECT /*! INTO @x */ id FROM meetings", "executable"),
        ("SELECT 'a\\' , id INTO copy FROM meetings -- '", "INTO"),  # hidden from one reading of quotes
        ("WITH x AS (SELECT 1) SELECT * FROM x", "only a SELECT"),
        ("SELECT 'unclosed FROM meetings", "not closed"),
    ],
)
def test_the_database_importer_refuses_anything_but_one_plain_select(client, query, why):
    admin = api_token(client, "admin")
    body = {"name": "old-oa", "kind": "database", "url": "mysql://reader@oa-db/oa", "query": query, "mapping": MAPPING}
    r = client.post("/api/v1/imports", json=body, headers=admin)
    assert r.status_code == 400 and r.json()["detail"]["field"] == "query", r.text
    assert why in r.json()["message"]


def test_a_select_with_into_kept_from_before_is_refused_when_run(make_client, oa_db):
    client = make_client(webhook_allow_private=True)
    admin = api_token(client, "admin")
    body = {"name": "old-oa", "kind": "database", "url": oa_db.url, "mapping": MAPPING,
            "query": "SELECT * FROM meetings -- all of them; 'quoted' INTO is fine in a comment"}  # fmt: skip
    r = client.post("/api/v1/imports", json=body, headers=admin)
    assert r.status_code == 201 and r.json()["query"] == "SELECT * FROM meetings", r.text  # the comment dropped
    source = r.json()

    async def older_check():  # saved before the check refused INTO
        from booking_api.integrations.models import ImportSource

        async with client.app.state.db.begin() as s:
            (await s.get(ImportSource, source["id"])).query = "SELECT * INTO copied FROM meetings"

    in_app(client, older_check)
    failed = run(client, admin, source["id"])
    assert "INTO is not allowed" in failed["failure"] and counts(failed) == (0, 0, 0, 0, 0, 0)
    assert oa_db.tables() == ["meetings"]  # nothing was made in the OA's database
