"""Sign-in throttling and pairing caps (issue 20, point 2): failed sign-ins wait longer
and longer, then lock for a short time, by account and by address; the user's own
browser still signs in; pending pairing codes are capped per address and expire."""

import datetime as dt
import uuid

from fixtures import PASSWORD, add_user, csrf, csrf_of, in_app, login, rows
from sqlalchemy import select

from player.models import Screen
from signage.models import AuditEntry
from signage.throttle import DEVICE_COOKIE, seconds_after


def try_sign_in(client, email, password):
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )


def test_the_wait_grows_then_locks():
    assert [seconds_after(n, 5, 10) for n in range(4, 11)] == [0, 30, 60, 120, 240, 480, 900]
    assert seconds_after(60, 20, 50) == 900


def test_failed_sign_ins_to_one_account_wait_then_lock_and_are_audited(client):
    email = add_user(client, "member")
    for _ in range(5):
        assert try_sign_in(client, email, "wrong").status_code == 400
    r = try_sign_in(client, email, PASSWORD)  # the right password, too soon
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 30
    assert "Too many failed sign-ins. Try again in 1 minute." in r.text
    entries = rows(client, select(AuditEntry).where(AuditEntry.action == "auth.login"))
    assert [e.reason for e in entries] == ["bad email or password"] * 5 + ["throttled"]

    async def earlier():  # the failures were a while ago: 30 s have passed
        async with client.app.state.db.begin() as s:
            for entry in (await s.scalars(select(AuditEntry))).all():
                entry.at -= dt.timedelta(seconds=31)

    in_app(client, earlier)
    assert try_sign_in(client, email, "wrong").status_code == 400  # the sixth guess; now a minute
    r = try_sign_in(client, email, "wrong")
    assert r.status_code == 429 and 30 < int(r.headers["retry-after"]) <= 60
    assert try_sign_in(client, "someone-else@example.com", "x").status_code == 400  # other accounts are not slowed


def test_a_locked_account_still_signs_in_from_its_own_browser(client):
    email = add_user(client, "member")
    assert try_sign_in(client, email, PASSWORD).status_code == 303  # this browser: the user's own
    device = client.cookies[DEVICE_COOKIE]
    client.cookies.clear()

    async def guessed(n):  # an attacker's ten failures just now
        async with client.app.state.db.begin() as s:
            for _ in range(n):
                s.add(AuditEntry(action="auth.login", target=email, result="failure", reason="bad email or password"))

    in_app(client, guessed, 10)
    r = try_sign_in(client, email, PASSWORD)
    assert r.status_code == 429 and 800 < int(r.headers["retry-after"]) <= 900
    assert "Try again in 15 minutes." in r.text
    client.cookies.clear()
    client.cookies.set(DEVICE_COOKIE, device, path="/login")
    assert try_sign_in(client, email, PASSWORD).status_code == 303
    client.cookies.clear()
    client.cookies.set(DEVICE_COOKIE, device + "x", path="/login")  # a forged one does not count
    assert try_sign_in(client, email, PASSWORD).status_code == 303  # its success reset the account's count


def test_many_accounts_guessed_from_one_address_are_slowed(client):
    for _ in range(20):
        assert try_sign_in(client, f"{uuid.uuid4().hex[:8]}@example.com", "x").status_code == 400
    r = try_sign_in(client, add_user(client, "member"), PASSWORD)
    assert r.status_code == 429 and int(r.headers["retry-after"]) <= 30


def test_pending_pairing_codes_are_capped_per_address_and_expire(client):
    for _ in range(20):
        assert client.post("/player/api/pair").status_code == 201
    r = client.post("/player/api/pair")
    assert r.status_code == 429 and r.headers["retry-after"] == "60"
    assert "waiting to be paired" in r.json()["message"]
    assert len(rows(client, select(Screen))) == 20

    async def age(hours):
        async with client.app.state.db.begin() as s:
            for screen in (await s.scalars(select(Screen))).all():
                screen.created_at -= dt.timedelta(hours=hours)

    in_app(client, age, 25)
    old = rows(client, select(Screen))[0]
    login(client, "editor")
    r = client.post(
        "/api/v1/screens/claim", json={"code": old.pairing_code, "name": "x"}, headers={"X-CSRF-Token": csrf(client)}
    )
    assert r.status_code == 400  # an expired code claims nothing
    pairing = client.post("/player/api/pair")
    assert pairing.status_code == 201
    assert [s.pairing_code for s in rows(client, select(Screen))] == [pairing.json()["code"]]  # the old ones are gone
