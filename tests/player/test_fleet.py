"""The fleet: the screens page, groups, edits, unpair, remote commands, the API, proof of play."""

import datetime as dt

import httpx
import pytest
from fixtures import (
    PASSWORD,
    api_token,
    csrf,
    login,
    make_token,
    make_user,
    pages,
    refuses_bad_paging,
    rows,
    server_settings,
)
from screens import CLOCK, SimScreen, add_layout, pair_and_claim
from sqlalchemy import select

from player.models import Play, Screen, ScreenGroup
from signage.api import make_cursor
from signage.models import AuditEntry


def claimed(client, name="Door 301", layout_id=None) -> dict:
    pair = client.post("/player/api/pair").json()
    headers = api_token(client, "editor")
    body = {"code": pair["code"], "name": name, "layout_id": layout_id}
    r = client.post("/api/v1/screens/claim", headers=headers, json=body)
    assert r.status_code == 201
    return {"key": {"X-Screen-Key": pair["key"]}, "id": r.json()["id"], "headers": headers}


def test_screens_page_shows_every_column_and_the_update_state(client):
    lid = add_layout(client.app.state.settings, publish=[CLOCK])
    s = claimed(client, layout_id=lid)
    login(client, "editor")
    page = client.get("/screens").text
    assert "Offline" in page and "not yet received" in page
    client.post("/player/api/heartbeat", headers=s["key"], json={"resolution": "1080x1920", "player_version": "1.1.0"})
    client.post("/player/api/ack", headers=s["key"], json={"received": 1})
    page = client.get("/screens").text
    assert "Online" in page and "1080x1920" in page and "1.1.0" in page and "received, not yet applied" in page
    client.post("/player/api/ack", headers=s["key"], json={"version": 1, "layout": str(lid)})
    fragment = client.get("/screens", headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith("<table") and "v1:" in fragment and 'class="applied"' in fragment
    assert f'data-screen-id="{s["id"]}" class="online"' in fragment


def test_edit_type_location_room_and_group(client):
    s = claimed(client)
    login(client, "editor")
    token = csrf(client)
    assert client.post("/screens/groups", data={"name": "Floor 3", "csrf_token": token}).status_code == 200
    r = client.post("/screens/groups", data={"name": "Floor 3", "csrf_token": token})
    assert r.status_code == 409 and "A group with this name exists." in r.text
    [group] = rows(client, select(ScreenGroup))
    form = {"name": "Door 301", "kind": "door_sign", "location": "3F east", "room_id": "12", "group_id": str(group.id)}
    r = client.post(f"/screens/{s['id']}", data=form | {"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    [screen] = rows(client, select(Screen))
    assert (screen.kind, screen.location, screen.room_id, screen.group_id) == ("door_sign", "3F east", 12, group.id)
    for bad, message in (
        ({"kind": "toaster"}, "Choose a screen type."),
        ({"room_id": "x"}, "room number"),
        ({"group_id": "99"}, "No such group."),
    ):
        r = client.post(f"/screens/{s['id']}", data=form | bad | {"csrf_token": token})
        assert r.status_code == 400 and message in r.text
    [screen] = rows(client, select(Screen))
    assert (screen.kind, screen.room_id, screen.group_id) == ("door_sign", 12, group.id)
    listed = client.get("/api/v1/screens", headers=s["headers"]).json()[0]
    assert listed["kind"] == "door_sign" and listed["room_id"] == 12 and listed["group_id"] == group.id
    client.post(f"/screens/groups/{group.id}/delete", data={"csrf_token": token})
    [screen] = rows(client, select(Screen))
    assert screen.group_id is None


def test_api_lists_online_state_and_unpairs(client):
    s = claimed(client, "Lobby")
    client.post("/player/api/heartbeat", headers=s["key"], json={})
    client.post("/player/api/ack", headers=s["key"], json={"version": 2, "layout": "5"})
    client.cookies.clear()
    [listed] = client.get("/api/v1/screens", headers=s["headers"]).json()
    assert listed["online"] is True and listed["last_seen"] and listed["applied_version"] == 2
    assert client.delete("/api/v1/screens/999", headers=s["headers"]).status_code == 404
    assert client.delete(f"/api/v1/screens/{s['id']}", headers=s["headers"]).status_code == 204
    assert client.get("/api/v1/screens", headers=s["headers"]).json() == []
    r = client.get("/player/api/state", headers=s["key"])
    assert r.status_code == 401  # the player drops its key and shows a new pairing code
    actions = [e.action for e in rows(client, select(AuditEntry))]
    assert "screen.unpair" in actions


def test_the_screens_list_pages_by_id(client):
    """Issue 13 point 7: `limit` and `cursor`, the next page in `Link`; a screen paired
    while paging comes once, at the end; screens waiting to be claimed are not listed."""
    ids = [claimed(client, f"Door {i}")["id"] for i in range(5)]
    client.post("/player/api/pair")  # not claimed
    editor = api_token(client, "editor")
    got = pages(client, "/api/v1/screens?limit=2", editor)
    assert [[x["id"] for x in p] for p in got] == [ids[0:2], ids[2:4], ids[4:]]

    first = client.get("/api/v1/screens?limit=3", headers=editor)
    ids.append(claimed(client, "Door 5")["id"])
    rest = pages(client, first.headers["link"][1 : first.headers["link"].index(">")], editor)
    assert [x["id"] for x in first.json()] + [x["id"] for p in rest for x in p] == ids
    assert [x["id"] for x in client.get("/api/v1/screens", headers=editor).json()] == ids

    forged = [make_cursor("rooms", ids[0]), make_cursor("screens", "x"), make_cursor("screens", -1)]
    refuses_bad_paging(client, "/api/v1/screens", editor, forged)


def test_proof_of_play_report_and_csv(client):
    a, b = claimed(client, "Alpha"), claimed(client, "Beta")
    today = dt.datetime.now(dt.UTC).replace(hour=4, minute=0, second=0, microsecond=0)  # noon in Asia/Shanghai

    def play(item, seconds, when=today, plays=1):
        return {
            "layout": "7",
            "region": "p",
            "item": item,
            "widget": "image",
            "started_at": when.isoformat(),
            "seconds": seconds,
            "plays": plays,
        }

    r = client.post(
        "/player/api/plays",
        headers=a["key"],
        json={"plays": [play("x", 10), play("x", 10), play("y", 5), play("x", 7, plays=0)]},
    )
    assert r.status_code == 201 and r.json()["stored"] == 4
    client.post(
        "/player/api/plays",
        headers=b["key"],
        json={"plays": [play("x", 3), play("x", 3, today - dt.timedelta(days=30))]},
    )
    login(client, "editor")
    page = client.get("/screens/plays").text
    assert "Alpha" in page and "Beta" in page and "0:00:27" in page  # x on Alpha: 2 plays, 27 s
    page = client.get("/screens/plays", params={"screen": a["id"]}).text
    assert "Beta" not in page.split("<tbody>")[1]
    csv = client.get("/screens/plays.csv", params={"layout": "7"})
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.lstrip("\ufeff").strip().splitlines()
    assert lines[0] == "day,screen,screen_id,layout,region,item,widget,plays,seconds"
    day = today.date().isoformat()
    assert f"{day},Alpha,{a['id']},7,p,x,image,2,27.0" in lines and f"{day},Beta,{b['id']},7,p,x,image,1,3.0" in lines
    assert len(lines) == 4  # the play 30 days ago is outside the default week
    r = client.get("/screens/plays", params={"start": "2026-13-01"})
    assert r.status_code == 400 and "YYYY-MM-DD" in r.text
    assert client.get("/screens/plays.csv", params={"start": "2026-02-01", "end": "2026-01-01"}).status_code == 400
    assert len(rows(client, select(Play))) == 6
    # unpairing a screen keeps what it played, under the name it had
    client.delete(f"/api/v1/screens/{b['id']}", headers=a["headers"])
    lines = client.get("/screens/plays.csv", params={"layout": "7"}).text.strip().splitlines()
    assert f"{day},Beta,,7,p,x,image,1,3.0" in lines and len(lines) == 4


@pytest.mark.slow
def test_identify_reload_and_unpair_reach_the_screen(make_server):
    server = make_server()
    headers = make_token(server_settings(server), "editor")
    s = pair_and_claim(server.url, headers, "Hall")
    screen = SimScreen(server.url, s["key"])
    assert screen.wait(lambda x: [e for e, _ in x.events[:2]] == ["hello", "state"])
    with httpx.Client(base_url=server.url) as editor:
        email = make_user(server_settings(server), "editor")
        page = editor.get("/login").text
        token = page.split('name="csrf-token" content="')[1].split('"')[0]
        editor.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        token = editor.get("/screens").text.split('name="csrf-token" content="')[1].split('"')[0]
        for action in ("identify", "reload"):
            assert editor.post(f"/screens/{s['id']}/{action}", data={"csrf_token": token}).status_code == 303
            assert screen.wait(lambda x, a=action: any(e == a for e, _ in x.events), 3), action
        assert editor.post(f"/screens/{s['id']}/nonsense", data={"csrf_token": token}).status_code == 404
        assert editor.post(f"/screens/{s['id']}/unpair", data={"csrf_token": token}).status_code == 303
    assert screen.wait(lambda x: x.revoked, 3)
    assert httpx.get(f"{server.url}/player/api/state", headers={"X-Screen-Key": s["key"]}).status_code == 401
