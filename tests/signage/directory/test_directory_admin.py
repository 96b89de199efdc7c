"""The organisation's admin pages (issue 19 points 1 and 4): the tree and a search as one
types, a person and a department edited (bad input is a form error, never a 500), a file
uploaded with a dry run first, a source run by the schedule, and the bookings of people who
left given to someone else or cancelled."""

from __future__ import annotations

from bookings_helpers import at, book, make_room
from fixtures import api_token, csrf, login, rows, run_sync, wait_for
from sqlalchemy import select

from booking_api.models import Booking
from signage.directory.models import Department, Membership, Source, SyncRun
from signage.models import AuditEntry, User
from signage.users.store import create_token

ORG = (
    "employee_no,name,email,mobile,department_path,title\n"
    "E1,张三丰,zsf@example.com,13800000001,总部/研发部,工程师\n"
    "E2,李雷,lilei@example.com,,总部/市场部,\n"
)


def upload(client, text: str, action: str):
    return client.post("/admin/directory/upload", data={"csrf_token": csrf(client), "action": action},
                       files={"file": ("org.csv", text.encode(), "text/csv")})  # fmt: skip


def test_upload_on_the_page_dry_run_first(client):
    login(client, "admin")
    page = client.get("/admin/directory/sources")
    assert page.status_code == 200 and "/api/v1/directory/template.xlsx" in page.text
    dry = upload(client, ORG, "preview")
    assert dry.status_code == 200 and 'data-dry-run="yes"' in dry.text and "张三丰" in dry.text
    assert rows(client, select(User).where(User.directory_source == "csv")) == []
    done = upload(client, ORG, "apply")
    assert 'data-dry-run="no"' in done.text
    assert len(rows(client, select(User).where(User.directory_source == "csv"))) == 2
    assert rows(client, select(AuditEntry.action).where(AuditEntry.action == "directory.sync")) == ["directory.sync"]
    bad = upload(client, "not,a,directory\n", "apply")
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    listed = client.get("/admin/directory/sources").text
    assert listed.count('data-status="done"') == 2


def test_tree_search_and_editing(client):
    login(client, "admin")
    upload(client, ORG, "apply")
    page = client.get("/admin/directory")
    assert 'data-department="总部/研发部"' in page.text and 'data-person="张三丰"' in page.text
    found = client.get("/admin/directory", params={"q": "zsf"}, headers={"HX-Request": "true"})
    assert 'data-person="张三丰"' in found.text and 'data-person="李雷"' not in found.text and "<html" not in found.text
    rd = rows(client, select(Department).where(Department.name == "研发部"))[0]
    scoped = client.get("/admin/directory", params={"department_id": rd.id}).text
    assert 'data-person="张三丰"' in scoped and 'data-person="李雷"' not in scoped
    # a person: in a second department, a new title; a wrong email is a form error
    zsf = rows(client, select(User).where(User.employee_no == "E1"))[0]
    mk = rows(client, select(Department).where(Department.name == "市场部"))[0]
    form = {"csrf_token": csrf(client), "name": "张三丰", "email": "zsf@example.com", "mobile": "", "title": "架构师",
            "employee_no": "E1", "active": "on", "department_id": [str(rd.id), str(mk.id)]}  # fmt: skip
    r = client.post(f"/admin/directory/people/{zsf.id}", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert sorted(rows(client, select(Membership.department_id).where(Membership.user_id == zsf.id))) == sorted(
        [rd.id, mk.id]
    )
    assert rows(client, select(User.title).where(User.id == zsf.id)) == ["架构师"]
    for bad in ({"email": "nope"}, {"name": ""}, {"department_id": ["999999"]}, {"department_id": ["x"]},
                {"email": "lilei@example.com"}, {"employee_no": "E2"}, {"mobile": "1" * 40}):  # fmt: skip
        r = client.post(f"/admin/directory/people/{zsf.id}", data={**form, **bad})
        assert r.status_code == 400 and 'role="alert"' in r.text, bad
    assert client.get("/admin/directory/people/999999").status_code == 404
    # a department by hand, then moved under itself: refused
    r = client.post("/admin/directory/departments", data={"csrf_token": csrf(client), "name": "平台组",
                                                         "parent_id": str(rd.id)}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    pt = rows(client, select(Department).where(Department.name == "平台组"))[0]
    assert pt.parent_id == rd.id and pt.source == ""
    r = client.post(f"/admin/directory/departments/{rd.id}", data={"csrf_token": csrf(client), "name": "研发部",
                    "parent_id": str(pt.id), "active": "on"})  # fmt: skip
    assert r.status_code == 400 and "under itself" in r.text
    r = client.post(f"/admin/directory/departments/{pt.id}", data={"csrf_token": csrf(client), "name": "平台组",
                    "parent_id": str(mk.id), "manager": "zsf@example.com", "active": "on"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    moved = rows(client, select(Department).where(Department.id == pt.id))[0]
    assert (moved.parent_id, moved.manager_id) == (mk.id, zsf.id)
    r = client.post(
        "/admin/directory/departments", data={"csrf_token": csrf(client), "name": "a/b"}, follow_redirects=False
    )
    assert r.status_code == 303 and "error=" in r.headers["location"]


def test_bookings_of_people_who_left(client):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Lotus")
    r = client.post("/api/v1/directory/csv", files={"file": ("o.csv", ORG.encode(), "text/csv")}, headers=admin)
    assert r.json()["created"] == 2
    leaver = {"Authorization": f"Bearer {run_sync(create_token(client.app.state.settings, 'lilei@example.com'))}"}
    first = book(client, leaver, room["id"], at(10), at(11), title="Kick-off").json()
    second = book(client, leaver, room["id"], at(14), at(15), title="Retro").json()
    only = "employee_no,name,email,mobile,department_path,title\nE1,张三丰,zsf@example.com,,总部/研发部,\n"
    out = client.post("/api/v1/directory/csv", files={"file": ("o.csv", only.encode(), "text/csv")}, headers=admin)
    assert out.json()["deactivated"] == 1
    assert client.get("/api/v1/me", headers=leaver).status_code == 401  # their token works no more
    login(client, "admin")
    page = client.get("/admin/directory/leavers").text
    assert f'data-booking="{first["id"]}"' in page and f'data-booking="{second["id"]}"' in page
    r = client.post(f"/admin/directory/leavers/{first['id']}",
                    data={"csrf_token": csrf(client), "action": "reassign", "email": "zsf@example.com"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    zsf = rows(client, select(User.id).where(User.email == "zsf@example.com"))[0]
    assert rows(client, select(Booking.organizer_id).where(Booking.id == first["id"])) == [zsf]
    r = client.post(f"/admin/directory/leavers/{second['id']}", data={"csrf_token": csrf(client), "action": "cancel"},
                    follow_redirects=False)  # fmt: skip
    assert rows(client, select(Booking.status).where(Booking.id == second["id"])) == ["cancelled"]
    page = client.get("/admin/directory/leavers").text
    assert "data-booking=" not in page
    r = client.post(f"/admin/directory/leavers/{first['id']}",
                    data={"csrf_token": csrf(client), "action": "reassign", "email": "lilei@example.com"},
                    follow_redirects=False)  # fmt: skip
    assert "done=" in r.headers["location"]  # someone who left cannot be given it back
    assert rows(client, select(Booking.organizer_id).where(Booking.id == first["id"])) == [zsf]
    events = client.get("/api/v1/events", params={"limit": 500}, headers=admin).json()["events"]
    mine = [
        (e["type"], e["subject"])
        for e in events
        if e["subject"] in (f"booking:{first['id']}", f"booking:{second['id']}")
    ]
    assert ("booking.updated", f"booking:{first['id']}") in mine and (
        "booking.cancelled",
        f"booking:{second['id']}",
    ) in mine


def test_a_source_runs_on_its_schedule(client, tmp_path):
    from ldap_server import ADMIN_DN, ADMIN_PASSWORD, SUFFIX, LdapServer

    with LdapServer(tmp_path / "ldap") as ldap:
        login(client, "admin")
        data = {"csrf_token": csrf(client), "enabled": "on", "base_url": ldap.url, "bind_dn": ADMIN_DN,
                "bind_password": ADMIN_PASSWORD, "base_dn": SUFFIX, "every_minutes": "60"}  # fmt: skip
        assert client.post("/admin/directory/sources/ldap", data=data, follow_redirects=False).status_code == 303
        wait_for(lambda: rows(client, select(SyncRun).where(SyncRun.by == "schedule")), timeout=20)
        run = rows(client, select(SyncRun).where(SyncRun.by == "schedule"))[0]
        assert run.status == "done" and not run.dry_run
        assert len(rows(client, select(User).where(User.directory_source == "ldap"))) == 2
        nxt = rows(client, select(Source.next_run_at).where(Source.name == "ldap"))[0]
        assert nxt is not None  # claimed: the next run is an hour on
