"""The audit log: written from the first change on, filtered, exported."""

import csv
import datetime as dt
import io

from fixtures import api_token, csrf, in_app, login, pages, refuses_bad_paging, rows, table_rows
from sqlalchemy import select, update

from signage.api import make_cursor
from signage.models import AuditEntry


def make_history(client):
    editor = login(client, "editor")
    token = csrf(client)
    client.post("/layouts", data={"name": "Lobby", "size": "1920x1080", "csrf_token": token})
    client.post("/layouts", data={"name": "", "size": "1920x1080", "csrf_token": token})  # refused: no name
    client.post("/screens/claim", data={"code": "999999", "name": "Door", "csrf_token": token})  # refused
    client.cookies.clear()
    admin = login(client, "admin")
    return editor, admin


def test_changes_and_refusals_are_logged_with_who_what_result(client):
    editor, _admin = make_history(client)
    entries = rows(client, select(AuditEntry).where(AuditEntry.user_email == editor).order_by(AuditEntry.id))
    summary = [(e.action, e.result) for e in entries]
    assert ("auth.login", "success") in summary
    assert ("layout.create", "success") in summary
    assert ("screen.claim", "failure") in summary
    claim = next(e for e in entries if e.action == "screen.claim")
    assert claim.role == "editor" and claim.reason == "No screen shows this pairing code."
    assert claim.client == "testclient"
    assert claim.at.tzinfo is not None


def results(client, **params) -> list[dict[str, str]]:
    """The rows of the audit page's results table for these filters."""
    r = client.get("/admin/audit", params=params)
    assert r.status_code == 200
    return table_rows(r.text)


def test_admin_filters_by_user_action_result_role_and_date(client):
    editor, admin = make_history(client)
    got = results(client, user=editor)
    assert {row["User"] for row in got} == {editor}
    assert {"Sign-in", "Layout made", "Screen added"} <= {row["Action"] for row in got}  # actions by name (issue 22)
    got = results(client, result="failure")
    assert "Screen added" in {row["Action"] for row in got} and "Layout made" not in {row["Action"] for row in got}
    assert {row["Result"] for row in got} == {"Failure"}
    got = results(client, role="admin")
    assert got and {row["User"] for row in got} == {admin} and {row["Role"] for row in got} == {"IT admin"}
    got = results(client, action="layout")
    assert got and {row["Action"] for row in got} == {"Layout made"}


def test_the_date_filter_takes_days_of_the_site(client):
    """Every entry is moved to 17:30 UTC on 10 March: 01:30 on 11 March in Asia/Shanghai,
    the site's zone, so a filter by UTC days (or by the machine's) would find the wrong day."""
    editor, _admin = make_history(client)

    async def move():
        async with client.app.state.db.begin() as s:
            await s.execute(update(AuditEntry).values(at=dt.datetime(2026, 3, 10, 17, 30, tzinfo=dt.UTC)))

    in_app(client, move)
    got = results(client, **{"from": "2026-03-11", "to": "2026-03-11", "user": editor})
    assert {"Sign-in", "Layout made", "Screen added"} <= {row["Action"] for row in got}  # actions by name (issue 22)
    assert {row["Time"][:6] for row in got} == {"Mar 11"}, got[0]["Time"]
    assert results(client, **{"from": "2026-03-10", "to": "2026-03-10"}) == []
    assert results(client, **{"from": "2026-03-12"}) == []
    assert results(client, to="2026-03-10") == []
    assert results(client, **{"from": "2026-03-11"}) == results(client)
    page = client.get("/admin/audit", params={"from": "2026-03-12"}).text
    assert "Nothing matches these filters." in page


def test_htmx_filter_answers_only_the_results_fragment(client):
    make_history(client)
    r = client.get("/admin/audit", params={"result": "failure"}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "<html" not in r.text and "<table" in r.text
    assert "Screen added" in {row["Action"] for row in table_rows(r.text)}


def test_csv_export_follows_the_filters(client):
    editor, _admin = make_history(client)
    r = client.get("/admin/audit.csv", params={"user": editor})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    reader = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert reader and all(row["user"] == editor for row in reader)
    assert {"auth.login", "layout.create", "screen.claim"} <= {row["action"] for row in reader}


def test_the_api_lists_the_log_newest_first_a_page_at_a_time(client):
    """Issue 13 point 7: GET /api/v1/audit, with the page's filters, `limit` and `cursor` and the
    next page in `Link`; entries written while paging come before the first page, so no page
    repeats or skips one; entries of one moment are kept apart by their id."""
    editor, _admin = make_history(client)
    start = dt.datetime(2026, 3, 10, 17, 30, 0, 500001, tzinfo=dt.UTC)

    async def add(n):
        async with client.app.state.db.begin() as s:
            for i in range(n):
                at = start + dt.timedelta(seconds=(i * 7) % n // 3)  # three at each moment, ids out of time order
                result = "failure" if i % 3 == 0 else "success"
                s.add(AuditEntry(user_email=f"u{i % 4}@example.com", role="editor", action=f"thing.do{i % 2}",
                                 target=f"thing:{i}", result=result, at=at))  # fmt: skip

    in_app(client, add, 240)
    admin = api_token(client, "admin")
    newest = sorted(rows(client, select(AuditEntry)), key=lambda e: (e.at, e.id), reverse=True)
    listed = client.get("/api/v1/audit", headers=admin).json()  # every entry (the page shows 100)
    assert [e["id"] for e in listed] == [e.id for e in newest]
    one = next(e for e in listed if e["target"] == "thing:3")
    assert one == {"id": one["id"], "at": "2026-03-10T17:30:07.500001+00:00", "user_id": None,
                   "user_email": "u3@example.com", "role": "editor", "action": "thing.do1", "target": "thing:3",
                   "result": "failure", "reason": "", "client": ""}  # fmt: skip

    got = pages(client, "/api/v1/audit?limit=70", admin)
    assert [len(p) for p in got] == [70, 70, 70, len(newest) - 210]
    assert [e["id"] for p in got for e in p] == [e.id for e in newest]
    got = pages(client, "/api/v1/audit?limit=9&result=failure&action=thing.&user=u1@", admin)
    wanted = [e.id for e in newest if e.result == "failure" and e.action.startswith("thing.") and "u1@" in e.user_email]
    assert [e["id"] for p in got for e in p] == wanted and len(got) > 1
    got = pages(client, "/api/v1/audit?limit=50&from=2026-03-11&to=2026-03-11&role=editor", admin)
    assert [e["id"] for p in got for e in p] == [e.id for e in newest if e.at.date() == start.date()]
    assert pages(client, "/api/v1/audit?limit=50&from=2026-03-12&action=thing.", admin) == [[]]
    assert pages(client, "/api/v1/audit?action=" + "thing." * 50, admin) == [[]]
    assert results(client, user="u" * 60000) == []  # SQLite refused so long a LIKE: a 500

    r = client.get("/api/v1/audit?limit=100", headers=admin)
    assert client.post("/api/v1/layouts/4242/publish", headers=admin).status_code == 404  # a refusal, logged
    rest = pages(client, r.headers["link"][1 : r.headers["link"].index(">")], admin)
    assert [e["id"] for e in r.json()] + [e["id"] for p in rest for e in p] == [e.id for e in newest]
    assert client.get("/api/v1/audit?limit=1", headers=admin).json()[0]["action"] == "layout.publish"

    for params in ({"from": "2026-02-30"}, {"to": "11 March"}, {"from": "0001-01-01"}):
        r = client.get("/api/v1/audit", params=params, headers=admin)
        assert r.status_code == 400 and r.json()["detail"]["field"] == next(iter(params)), r.text
    assert client.get("/admin/audit", params={"from": "0001-01-01"}).status_code == 200  # ignored there
    forged = [make_cursor("media", "2026-01-01T08:00:00+00:00", 1), make_cursor("audit", "2026-01-01", 1)]
    refuses_bad_paging(client, "/api/v1/audit", admin, forged)
    assert client.get("/api/v1/audit", headers=api_token(client, "editor")).status_code == 403


def test_audit_page_is_for_admins_only(client):
    login(client, "editor")
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.csv").status_code == 403


def test_live_topics_check_the_role(client):
    login(client, "editor")
    assert client.get("/events/audit").status_code == 403
    assert client.get("/events/nothing").status_code == 404


def test_refused_api_changes_are_logged_even_without_a_handler_entry(client):
    headers = api_token(client, "editor")
    client.cookies.clear()
    r = client.post("/api/v1/layouts/4242/publish", headers=headers)
    assert r.status_code == 404
    r = client.post("/api/v1/screens/claim", headers=headers, content=b"{oops")
    assert r.status_code == 400
    entries = rows(client, select(AuditEntry).where(AuditEntry.result == "failure").order_by(AuditEntry.id))
    actions = [(e.action, e.reason) for e in entries]
    assert ("layout.publish", "No such layout.") in actions
    assert ("POST /api/v1/screens/claim", "The request body is not valid JSON.") in actions
    # A member trying an editor's change is logged too.
    member = api_token(client, "member")
    assert client.post("/api/v1/layouts/1/publish", headers=member).status_code == 403
    [refused] = rows(client, select(AuditEntry).where(AuditEntry.role == "member", AuditEntry.result == "failure"))
    assert refused.action == "POST /api/v1/layouts/{id}/publish" and refused.result == "failure"


def test_actions_are_named_in_the_readers_language(client):
    """Issue 22 point 9: the Action column and filter name actions, in Chinese on a Chinese page."""
    make_history(client)
    client.cookies.set("lang", "zh_CN")
    page = client.get("/admin/audit").text
    assert "创建布局" in page and "添加终端" in page and '<option value="layout.create"' in page
    assert ">layout.create<" not in page
