"""Every route, with every role and with no login: who gets in, who is refused."""

import re

import pytest
from fixtures import api_token, csrf, csrf_of, login
from starlette.routing import Mount, Route

from signage.settings import ROLES

pytestmark = pytest.mark.one_database  # not about the database: SQLite only (tests/conftest.py)

PARAMS = {
    "id": "999999",
    "file_id": "999999",
    "rid": "nope",
    "iid": "nope",
    "name": "nope.png",
    "code": "en",
    "topic": "nope",
    "action": "identify",
    "token": "nope",
    "secret": "nope.ics",
    "answer": "accept",
    "decision": "approve",
    "step": "accept",
}


def concrete(path: str) -> str:
    return re.sub(r"{(\w+)(:\w+)?}", lambda m: PARAMS[m.group(1)], path)


def every_route(app):
    out = []
    for r in app.routes:
        if isinstance(r, Mount):
            continue
        assert isinstance(r, Route)
        assert hasattr(r, "allow"), f"{r.path} was not made with signage.auth.route"
        for method in sorted(r.methods - {"HEAD"}):
            out.append((method, r.path, r.allow))
    # signing out last, so the walk keeps its session
    return sorted(out, key=lambda x: x[1] in ("/logout", "/account/sessions/end"))


# Who may do what, written from the users' side (not read from the code): for each
# route, who gets in. A route added, or a declaration changed, fails until this says so.
# anyone: even signed out; users: anyone signed in; screens: a paired player with its
# key (no user); admins always may what editors and room admins may.
WHO_MAY = """
# signing in, languages, health, API docs, the player page, feeds
GET    /login                                    anyone
POST   /login                                    anyone
GET    /lang/{code}                              anyone
GET    /healthz                                  anyone
GET    /api/v1/openapi.json                      anyone
GET    /api/v1/docs                              anyone
GET    /media/files/{name}                       anyone
GET    /player                                   anyone
GET    /player/sw.js                             anyone
GET    /player/qr.svg                            anyone
POST   /player/api/pair                          anyone
GET    /ical/{secret}                            anyone
GET    /invitations/answer/{token}               anyone
GET    /signin/dingtalk                          anyone
POST   /signin/dingtalk                          anyone
GET    /signin/wecom                             anyone
GET    /signin/wecom/callback                    anyone
GET    /signin/oidc                              anyone
GET    /signin/oidc/callback                     anyone
POST   /invitations/answer/{token}               anyone
POST   /api/v1/rooms/{id}/sensor                 anyone
POST   /api/v1/rooms/{id}/access-events          anyone
# what a paired screen asks with its key
GET    /player/api/state                         screens
POST   /player/api/ack                           screens
POST   /player/api/heartbeat                     screens
POST   /player/api/plays                         screens
GET    /player/api/events                        screens
GET    /player/api/live                          screens
GET    /player/api/speech                        screens
POST   /player/api/rooms/{id}/{action}           screens
# everyone signed in: home, rooms, bookings, floor plans, phones
GET    /                                         users
POST   /logout                                   users
GET    /api/v1/me                                users
# doors: staff at any time, a meeting's organizer and attendees within its window (checked inside)
POST   /api/v1/rooms/{id}/doors/open             users
POST   /m/meetings/{id}/doors/open               users
GET    /account                                  users
POST   /account/password                         users
POST   /account/tokens                           users
POST   /account/tokens/{id}/revoke               users
POST   /account/sessions/{id}/end                users
POST   /account/sessions/end                     users
POST   /account/notifications                    users
GET    /api/v1/events                            users
GET    /events/{topic}                           users
GET    /widgets/live                             users
GET    /widgets/speech                           users
GET    /rooms                                    users
GET    /api/v1/rooms                             users
GET    /api/v1/rooms/{id}                        users
GET    /api/v1/rooms/{id}/status                 users
GET    /api/v1/availability                      users
POST   /api/v1/bookings                          users
POST   /api/v1/bookings/check                    users
GET    /api/v1/bookings                          users
GET    /api/v1/bookings/{id}                     users
PATCH  /api/v1/bookings/{id}                     users
DELETE /api/v1/bookings/{id}                     users
POST   /api/v1/bookings/{id}/cancel              users
POST   /api/v1/bookings/{id}/check-in            users
POST   /api/v1/bookings/{id}/end                 users
POST   /api/v1/bookings/{id}/extend              users
POST   /api/v1/rooms/{id}/service-calls          users
GET    /api/v1/service-calls/{id}                users
GET    /bookings                                 users
GET    /bookings/{id}/price                     users
GET    /bookings/{id}                            users
POST   /bookings/{id}                            users
POST   /bookings/{id}/cancel                     users
GET    /bookings/{id}/materials/{file_id}        users
GET    /bookings/{id}/materials/{file_id}/preview users
POST   /api/v1/bookings/{id}/materials           users
GET    /api/v1/bookings/{id}/materials           users
DELETE /api/v1/bookings/{id}/materials/{file_id} users
GET    /m/meetings/{id}                          users
GET    /floorplans                               users
GET    /floorplans/{id}                          users
GET    /floorplans/files/{name}                  users
GET    /m                                        users
GET    /m/book                                   users
GET    /m/book/price                             users
POST   /m/book                                   users
GET    /m/bookings                               users
POST   /m/feed/rotate                            users
GET    /m/invitations                            users
POST   /m/invitations/{id}/{answer}              users
GET    /m/notifications                          users
GET    /notifications                            users
GET    /notifications/bell                       users
POST   /notifications/read                       users
GET    /notifications/{id}                       users
GET    /m/calendar                               users
GET    /m/checkin/{token}                        users
POST   /m/checkin/{token}                        users
# IT admins: users, tokens, the audit log, notifications, webhooks, imports, the test clock
GET    /admin/audit                              admins
GET    /admin/audit.csv                          admins
GET    /api/v1/audit                             admins
GET    /admin/notifications                      admins
POST   /admin/notifications/{id}/retry           admins
GET    /admin/webhooks                           admins
POST   /admin/webhooks                           admins
GET    /admin/webhooks/{id}                      admins
POST   /admin/webhooks/{id}                      admins
POST   /admin/webhooks/{id}/rotate               admins
POST   /admin/webhooks/{id}/test                 admins
POST   /admin/webhooks/{id}/delete               admins
POST   /admin/webhooks/deliveries/{id}/retry     admins
GET    /api/v1/webhooks                          admins
POST   /api/v1/webhooks                          admins
GET    /api/v1/webhooks/{id}                     admins
PATCH  /api/v1/webhooks/{id}                     admins
DELETE /api/v1/webhooks/{id}                     admins
POST   /api/v1/webhooks/{id}/rotate              admins
POST   /api/v1/webhooks/{id}/test                admins
GET    /api/v1/webhooks/{id}/deliveries          admins
GET    /admin/imports                            admins
POST   /admin/imports                            admins
GET    /admin/imports/{id}                       admins
POST   /admin/imports/{id}/preview               admins
POST   /admin/imports/{id}/run                   admins
POST   /admin/imports/{id}/delete                admins
GET    /api/v1/imports                           admins
POST   /api/v1/imports                           admins
GET    /api/v1/imports/{id}                      admins
DELETE /api/v1/imports/{id}                      admins
POST   /api/v1/imports/{id}/preview              admins
POST   /api/v1/imports/{id}/run                  admins
GET    /api/v1/imports/{id}/runs                 admins
GET    /admin/notifications/templates            admins
POST   /admin/notifications/templates            admins
POST   /admin/notifications/templates/preview    admins
POST   /admin/notifications/templates/reset      admins
GET    /admin/notifications/channels             admins
POST   /admin/notifications/channels/{name}      admins
POST   /admin/notifications/channels/{name}/test admins
GET    /admin/users                              admins
POST   /admin/users                              admins
POST   /admin/users/{id}                         admins
POST   /admin/users/{id}/sessions/end            admins
POST   /admin/users/{id}/contacts                admins
POST   /admin/users/{id}/tokens                  admins
POST   /admin/users/{id}/tokens/revoke           admins
POST   /api/v1/clock                             admins
# content editors: media, layouts, playlists, schedules, emergency, screens
GET    /media                                    editors
POST   /media                                    editors
GET    /media/{id}                               editors
POST   /media/{id}/rename                        editors
POST   /media/{id}/delete                        editors
GET    /api/v1/media                             editors
POST   /api/v1/media                             editors
GET    /api/v1/media/folders                     editors
GET    /api/v1/media/{id}                        editors
DELETE /api/v1/media/{id}                        editors
GET    /layouts                                  editors
POST   /layouts                                  editors
GET    /layouts/{id}                             editors
GET    /layouts/{id}/preview                     editors
POST   /layouts/{id}/duplicate                   editors
POST   /layouts/{id}/regions                     editors
POST   /layouts/{id}/regions/{rid}               editors
POST   /layouts/{id}/regions/{rid}/delete        editors
GET    /layouts/{id}/regions/{rid}/panel         editors
POST   /layouts/{id}/regions/{rid}/panel         editors
POST   /layouts/{id}/publish                     editors
POST   /layouts/{id}/rollback                    editors
GET    /api/v1/layouts                           editors
POST   /api/v1/layouts                           editors
GET    /api/v1/layouts/{id}                      editors
PUT    /api/v1/layouts/{id}                      editors
POST   /api/v1/layouts/{id}/publish              editors
POST   /api/v1/layouts/{id}/rollback             editors
GET    /playlists                                editors
POST   /playlists                                editors
GET    /playlists/{id}                           editors
POST   /playlists/{id}/items                     editors
POST   /playlists/{id}/items/{iid}               editors
POST   /playlists/{id}/items/{iid}/delete        editors
POST   /playlists/{id}/order                     editors
POST   /playlists/{id}/publish                   editors
GET    /api/v1/playlists                         editors
POST   /api/v1/playlists                         editors
GET    /api/v1/playlists/{id}                    editors
PUT    /api/v1/playlists/{id}                    editors
POST   /api/v1/playlists/{id}/publish            editors
GET    /schedules                                editors
POST   /schedules                                editors
POST   /schedules/{id}/delete                    editors
GET    /schedules/screens/{id}                   editors
GET    /api/v1/schedules                         editors
POST   /api/v1/schedules                         editors
GET    /api/v1/schedules/{id}                    editors
PUT    /api/v1/schedules/{id}                    editors
DELETE /api/v1/schedules/{id}                    editors
GET    /api/v1/screens/{id}/playing              editors
GET    /emergency                                editors
POST   /emergency                                editors
POST   /emergency/{id}/clear                     editors
GET    /api/v1/emergency                         editors
POST   /api/v1/emergency                         editors
GET    /api/v1/emergency/{id}                    editors
POST   /api/v1/emergency/{id}/clear              editors
GET    /widgets/preview                          editors
GET    /widgets/preview/render                   editors
GET    /screens                                  editors
GET    /screens/plays                            editors
GET    /screens/plays.csv                        editors
POST   /screens/claim                            editors
POST   /screens/groups                           editors
POST   /screens/groups/{id}/delete               editors
POST   /screens/{id}                             editors
POST   /screens/{id}/unpair                      editors
POST   /screens/{id}/{action}                    editors
GET    /api/v1/screens                           editors
POST   /api/v1/screens/claim                     editors
GET    /api/v1/screens/{id}                      editors
DELETE /api/v1/screens/{id}                      editors
# room admins: rooms, approvals, floor plans, door settings, feeds, sensors
GET    /rooms/manage                             room-admins
POST   /rooms/manage                             room-admins
GET    /rooms/{id}/edit                          room-admins
POST   /rooms/{id}/edit                          room-admins
POST   /rooms/{id}/delete                        room-admins
POST   /api/v1/rooms                             room-admins
PATCH  /api/v1/rooms/{id}                        room-admins
DELETE /api/v1/rooms/{id}                        room-admins
GET    /approvals                                room-admins
POST   /approvals/{id}/approve                   room-admins
POST   /approvals/{id}/reject                    room-admins
POST   /api/v1/bookings/{id}/approve             room-admins
POST   /api/v1/rooms/{id}/doors                  room-admins
GET    /api/v1/rooms/{id}/doors                  room-admins
GET    /api/v1/doors/{id}                        room-admins
DELETE /api/v1/doors/{id}                        room-admins
POST   /api/v1/bookings/{id}/reject              room-admins
GET    /m/approvals                              room-admins
POST   /m/approvals/{id}/{decision}              room-admins
POST   /floorplans                               room-admins
POST   /floorplans/{id}/place                    room-admins
POST   /rooms/{id}/door                          room-admins
PUT    /api/v1/rooms/{id}/door                   room-admins
PUT    /api/v1/rooms/{id}/cleaning               room-admins
PUT    /api/v1/rooms/{id}/service-state          room-admins
POST   /rooms/{id}/cleaning                      room-admins
POST   /rooms/{id}/service-state                 room-admins
POST   /api/v1/rooms/{id}/calendar-feed          room-admins
POST   /api/v1/rooms/{id}/sensor-token           room-admins
POST   /api/v1/rooms/{id}/terminal-token         room-admins
# statistics: room admins (their rooms) and admins
GET    /stats                                    room-admins
GET    /api/v1/stats/rooms                       room-admins
GET    /api/v1/stats/ghosts                      room-admins
POST   /api/v1/stats/ghosts/{id}/notify          room-admins
POST   /api/v1/stats/ghosts/{id}/end             room-admins
POST   /stats/ghosts/{id}/{action}               room-admins
GET    /api/v1/rooms/{id}/rate-card              users
PUT    /api/v1/rooms/{id}/rate-card              room-admins
DELETE /api/v1/rooms/{id}/rate-card              room-admins
POST   /api/v1/bookings/quote                    users
GET    /api/v1/bookings/{id}/charges             users
POST   /api/v1/bookings/{id}/charges             room-admins
GET    /api/v1/billing/charges                   room-admins
GET    /billing                                  room-admins
GET    /billing/statement                        room-admins
# the organisation: everyone looks people up (to invite them); admins upload it
GET    /api/v1/people                            users
GET    /api/v1/departments                       users
POST   /api/v1/directory/csv                     admins
GET    /api/v1/directory/template.csv            admins
GET    /api/v1/directory/template.xlsx           admins
GET    /admin/directory                          admins
GET    /admin/directory/people/{id}              admins
POST   /admin/directory/people/{id}              admins
POST   /admin/directory/departments              admins
GET    /admin/directory/departments/{id}         admins
POST   /admin/directory/departments/{id}         admins
GET    /admin/directory/sources                  admins
POST   /admin/directory/upload                   admins
POST   /admin/directory/sources/{name}           admins
POST   /admin/directory/sources/{name}/{action}  admins
GET    /admin/directory/leavers                  admins
POST   /admin/directory/leavers/{id}             admins
# the service desk: service staff (and admins)
GET    /desk                                     desk
GET    /desk/tasks/{id}/speech                   desk
POST   /desk/tasks/{id}/{step}                   desk
POST   /desk/bookings/{id}/call-in               desk
POST   /desk/rooms/{id}/doors/open               desk
GET    /api/v1/service-calls                     desk
POST   /api/v1/service-calls/{id}/accept         desk
POST   /api/v1/service-calls/{id}/done           desk
# door and lobby screens are made by both
GET    /rooms/doors                              editors,room-admins
POST   /rooms/{id}/door-layout                   editors,room-admins
POST   /rooms/lobby-layout                       editors,room-admins
"""
AUDIENCES = {
    "anyone": {None, *ROLES},
    "users": set(ROLES),
    "screens": set(),  # no user at all: a screen's key (tests/player/test_player.py)
    "admins": {"admin"},
    "editors": {"admin", "editor"},
    "room-admins": {"admin", "room_admin"},
    "service": {"admin", "service"},
    "desk": {"admin", "service"},
}


def expected_policy() -> tuple[dict[tuple[str, str], set], set]:
    """(method, path with {id:id} written {id}) -> the roles that may (None: signed out);
    and the routes for screens."""
    policy, screens = {}, set()
    for line in WHO_MAY.splitlines():
        if line.strip() and not line.startswith("#"):
            method, path, who = line.split()
            assert (method, path) not in policy, f"{method} {path} twice"
            policy[method, path] = set().union(*(AUDIENCES[w] for w in who.split(",")))
            if who == "screens":
                screens.add((method, path))
    return policy, screens


POLICY, FOR_SCREENS = expected_policy()


def plain(path: str) -> str:
    return re.sub(r"{(\w+):\w+}", r"{\1}", path)


def may(role, method, path) -> bool:
    return role in POLICY[method, plain(path)]


def for_screens(method, path) -> bool:
    return (method, plain(path)) in FOR_SCREENS


def test_the_policy_table_names_every_route_once(client):
    routes = {(method, plain(path)) for method, path, _allow in every_route(client.app)}
    assert routes - POLICY.keys() == set(), "routes nobody said who may use: add them to WHO_MAY"
    assert POLICY.keys() - routes == set(), "WHO_MAY lists routes the app does not have"


def call(client, method, path, headers):
    kwargs = {"headers": headers, "follow_redirects": False}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["content"] = b"{}" if "/api/" in path else b""
        kwargs["headers"] = {
            **headers,
            "Content-Type": "application/json" if "/api/" in path else "application/x-www-form-urlencoded",
        }
    return client.request(method, concrete(path), **kwargs)


@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_route_checks_the_role(client, role):
    if role:
        login(client, role)
    headers = {"X-CSRF-Token": csrf(client) if role else csrf_of(client, "/login")}
    seen = []
    for method, path, _allow in every_route(client.app):
        r = call(client, method, path, headers)
        seen.append((method, path))
        assert r.status_code != 500, (method, path, r.text[:300])
        assert_security_headers(r, (method, path))
        if may(role, method, path):
            assert r.status_code not in (401, 403), (method, path, role, r.status_code, r.text[:200])
        elif for_screens(method, path):
            assert r.status_code == 401 and r.json()["error"] == "unauthorized", (method, path)
        elif role is None:
            if "/api/" in path or path.startswith("/events/"):
                assert r.status_code == 401 and r.json()["error"] == "unauthorized", (method, path)
            else:
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), (method, path)
        else:
            assert r.status_code == 403, (method, path, role, r.status_code)
    assert len(seen) > 20


def assert_security_headers(r, where) -> None:
    """What every answer to a browser carries (signage.security)."""
    policy = dict(p.strip().split(" ", 1) for p in r.headers.get("content-security-policy", "").split(";") if p.strip())
    assert policy.get("script-src") == "'self'", where  # no inline script, no eval, no other site
    assert policy.get("frame-ancestors") == "'self'" and policy.get("object-src") == "'none'", where
    assert r.headers.get("x-content-type-options") == "nosniff", where
    assert r.headers.get("x-frame-options") == "SAMEORIGIN", where
    assert r.headers.get("referrer-policy") == "same-origin", where
    assert "strict-transport-security" not in r.headers, where  # plain http: only with SIGNAGE_SECURE_COOKIES


def test_static_files_errors_and_https_sites_carry_the_security_headers(make_client):
    client = make_client()
    for path in ("/static/signage/forms.js", "/nope", "/player", "/healthz"):
        assert_security_headers(client.get(path), path)
    assert "frame-src 'none'" in client.get("/player").headers["content-security-policy"]
    secure = make_client(secure_cookies=True, webpage_hosts=("intranet.example.com", "*.corp.cn"))
    r = secure.get("/player")
    assert r.headers["strict-transport-security"].startswith("max-age=")
    assert "frame-src intranet.example.com *.corp.cn;" in r.headers["content-security-policy"]


@pytest.mark.parametrize("role", ROLES)
def test_every_live_topic_checks_the_role(client, role):
    """`/events/{topic}` is one route for many topics, each with its own roles (signage.live)."""
    from signage.live import TOPICS

    who_may = {
        "audit": {"admin"},
        "schedules": {"admin", "editor"},
        "emergency": {"admin", "editor"},
        "bookings": set(ROLES),
        "screens": {"admin", "editor"},
        "media": {"admin", "editor"},
        "meetings": set(ROLES),  # ids only; the page asks for its fragment with the viewer's rights
        "replies": set(ROLES),
        "inbox": set(ROLES),  # each their own (channel inbox:{user id}): tests/signage/notify/test_notify_inbox.py
        "service": {"admin", "service"},
        "rooms": set(ROLES),
    }
    assert set(who_may) == set(TOPICS)  # a new topic is added here with who may follow it
    login(client, role)
    for topic, roles in who_may.items():
        r = client.get(f"/events/{topic}")  # no Accept: event-stream, so an allowed one is a 400
        assert r.status_code == (400 if role in roles else 403), (topic, role, r.status_code)
    assert client.get("/events/nothing").status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_api_routes_check_the_role_with_tokens(client, role):
    headers = api_token(client, role)
    client.cookies.clear()
    for method, path, _allow in every_route(client.app):
        if not path.startswith("/api/"):
            continue
        r = call(client, method, path, headers)
        assert r.status_code != 500
        if may(role, method, path):
            assert r.status_code not in (401, 403), (method, path, role, r.text[:200])
        elif for_screens(method, path):
            assert r.status_code == 401
        else:
            assert r.status_code == 403 and r.json()["error"] == "forbidden", (method, path, role)


# Unsafe routes that take no CSRF token, besides the screens' own (a screen's key is no
# cookie): a screen asking for a pairing code, a room's sensor and its face or badge terminals
# with their own tokens.
NO_CSRF = {
    ("POST", "/player/api/pair"),
    ("POST", "/api/v1/rooms/{id}/sensor"),
    ("POST", "/api/v1/rooms/{id}/access-events"),
}


@pytest.mark.parametrize("token", ["none", "wrong header", "wrong form field"])
def test_every_unsafe_route_on_the_session_cookie_needs_its_csrf_token(client, token):
    login(client, "admin")  # may use every route but the screens'
    assert csrf(client)  # the session has a token: the requests below just do not carry it
    refused, let_through = [], []
    for method, path, _allow in every_route(client.app):
        if method == "GET" or for_screens(method, path):
            continue
        if token == "wrong form field":
            r = client.request(
                method,
                concrete(path),
                content=b"csrf_token=wrong",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                follow_redirects=False,
            )
        else:
            r = call(client, method, path, {"X-CSRF-Token": "wrong"} if token == "wrong header" else {})
        if r.status_code == 403 and "The form has expired" in r.text:
            refused.append((method, path))
        else:
            let_through.append((method, plain(path)))
    assert set(let_through) == NO_CSRF
    assert len(refused) > 80
