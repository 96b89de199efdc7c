"""The audit log: written from the first change on, filtered, exported."""

import csv
import datetime as dt
import io

from conftest import api_token, csrf, login, rows
from sqlalchemy import select

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


def test_admin_filters_by_user_action_result_role_and_date(client):
    editor, admin = make_history(client)
    page = client.get("/admin/audit", params={"user": editor}).text
    assert "layout.create" in page and admin not in page.split("<tbody>")[1]
    page = client.get("/admin/audit", params={"result": "failure"}).text.split("<tbody>")[1]
    assert "screen.claim" in page and "layout.create" not in page
    page = client.get("/admin/audit", params={"role": "admin"}).text.split("<tbody>")[1]
    assert admin in page and editor not in page
    page = client.get("/admin/audit", params={"action": "layout"}).text.split("<tbody>")[1]
    assert "layout.create" in page and "auth.login" not in page
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    page = client.get("/admin/audit", params={"from": tomorrow}).text
    assert "Nothing matches these filters." in page
    today = dt.date.today().isoformat()
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    page = client.get("/admin/audit", params={"from": yesterday, "to": today}).text
    assert "layout.create" in page


def test_htmx_filter_answers_only_the_results_fragment(client):
    make_history(client)
    r = client.get("/admin/audit", params={"result": "failure"}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "<html" not in r.text and "<table" in r.text and "screen.claim" in r.text


def test_csv_export_follows_the_filters(client):
    editor, _admin = make_history(client)
    r = client.get("/admin/audit.csv", params={"user": editor})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    reader = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert reader and all(row["user"] == editor for row in reader)
    assert {"auth.login", "layout.create", "screen.claim"} <= {row["action"] for row in reader}


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
