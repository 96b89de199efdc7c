"""Notices on every channel (issue 14 points 5, 6, 8): DingTalk, WeCom, SMS, voice calls and WeChat through
a local fake of each provider that checks signatures and bodies as documented
(tests/channels_fakes.py); users' contacts and channel choices, the site's defaults, the
fallback when a channel fails for good, rate limits, at-most-once with two workers, the
"send test" button, and per-user reminder minutes. SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from bookings_helpers import at, book, make_room
from channels_fakes import CREDENTIALS, Providers, configure
from doors_helpers import go_to
from fixtures import add_user, api_token, csrf, in_app, login, rows, wait_for
from sqlalchemy import select

from signage.models import User
from signage.notify.models import KINDS, Choice, Message


@pytest.fixture
def providers():
    fake = Providers()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def site(make_client):
    """`site(**settings)`: an app that may call the local fakes, its client signed in as an admin."""

    def make(**settings):
        client = make_client(webhook_allow_private=True, **settings)
        login(client, "admin")
        return client

    return make


def choose(client, **fields) -> None:
    """The signed-in user saves their notification settings: every kind on the site's defaults
    unless `channel_<kind>_<name>` fields choose for it."""
    own = {k for k in KINDS if any(f.startswith(f"channel_{k}_") for f in fields)}
    form = {"csrf_token": csrf(client), **{f"default_{k}": "on" for k in KINDS if k not in own}, **fields}
    r = client.post("/account/notifications", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text


def set_contacts(admin_client, email: str, **contacts) -> int:
    (user,) = rows(admin_client, select(User).where(User.email == email))
    form = {"csrf_token": csrf(admin_client), **contacts}
    r = admin_client.post(f"/admin/users/{user.id}/contacts", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    return user.id


def test_an_invitation_reaches_a_user_by_the_channel_they_chose(site, make_client, providers):
    admin = site()
    configure(admin, providers, "dingtalk_work")  # on, but no kind by default
    member_client = make_client(webhook_allow_private=True)
    member = login(member_client, "member")
    page = member_client.get("/account")
    assert page.status_code == 200 and "DingTalk work notice" in page.text
    choose(member_client, dingtalk_id="manager4711", channel_invitation_dingtalk_work="on")
    (me,) = rows(admin, select(User).where(User.email == member))
    assert me.dingtalk_id == "manager4711"
    assert [(c.kind, c.channels) for c in rows(admin, select(Choice))] == [("invitation", "dingtalk_work")]

    token = api_token(admin, "admin")
    room = make_room(admin, token, name="Orchid")
    guests = [{"name": "Wang Fang", "email": member}, {"name": "Guest", "email": "guest@example.com"}]
    assert book(admin, token, room["id"], at(9), at(10), title="Budget review", attendees=guests).status_code == 201
    wait_for(lambda: providers.accepted["dingtalk_work"])
    (sent,) = providers.accepted["dingtalk_work"]
    assert sent["userid_list"] == "manager4711" and sent["agent_id"] == 4711
    markdown = sent["msg"]["markdown"]
    assert markdown["title"] == "Invitation: Budget review"
    assert "invites you: Budget review" in markdown["text"] and "Orchid" in markdown["text"]
    wait_for(lambda: [m.state for m in rows(admin, select(Message))] == ["sent"])
    (m,) = rows(admin, select(Message))
    assert (m.channel, m.kind, m.recipient, m.attempts) == ("dingtalk_work", "invitation", "manager4711", 1)
    assert providers.rejected == [] and providers.tokens_issued["dingtalk_work"] == 1
    # the guest: the site's defaults (email, off here) reach nobody; the bell still has the member's
    assert "Invitation: Budget review" in member_client.get("/notifications").text


def test_a_channel_failing_for_good_hands_the_message_to_its_fallback(site, providers):
    admin = site()
    configure(admin, providers, "aliyun_sms")
    configure(admin, providers, "dingtalk_work", fallback="aliyun_sms", kinds=("invitation",))
    member = add_user(admin, "member", "wang@example.com")
    set_contacts(admin, member, dingtalk_id="left-the-company", mobile="13800138000")
    providers.gone = {"left-the-company"}
    token = api_token(admin, "admin")
    room = make_room(admin, token, name="Orchid")
    people = [
        {"name": "Wang Fang", "email": member},
        {"name": "Visitor", "phone": "139 0013 9000"},  # no DingTalk id: straight to the fallback
    ]
    assert book(admin, token, room["id"], at(9), at(10), title="Budget review", attendees=people).status_code == 201
    wait_for(lambda: len(providers.accepted["aliyun_sms"]) == 2)
    numbers = sorted(p["PhoneNumbers"] for p in providers.accepted["aliyun_sms"])
    assert numbers == ["13800138000", "13900139000"]
    for p in providers.accepted["aliyun_sms"]:
        assert "Budget review" in p["TemplateParam"]["content"] and p["OutId"].startswith("aliyun_sms-")
    wait_for(lambda: {m.state for m in rows(admin, select(Message).where(Message.channel == "aliyun_sms"))} == {"sent"})
    (gave_up,) = rows(admin, select(Message).where(Message.channel == "dingtalk_work"))
    assert gave_up.state == "failed" and "33012" in gave_up.last_error and gave_up.attempts == 1
    texts = rows(admin, select(Message).where(Message.channel == "aliyun_sms").order_by(Message.id))
    assert texts[-1].user_id == gave_up.user_id and json.loads(texts[-1].data)["tried"] == [
        "dingtalk_work",
        "aliyun_sms",
    ]
    assert providers.rejected == []
    page = admin.get("/admin/notifications?channel=dingtalk_work")
    assert "left-the-company" in page.text and "33012" in page.text


def test_two_workers_send_each_message_once(site, make_client, providers):
    admin = site()
    configure(admin, providers, "wechat_mp", kinds=("invitation",))
    emails = [add_user(admin, "member", f"m{i}@example.com") for i in range(4)]
    for i, email in enumerate(emails):
        set_contacts(admin, email, wechat_openid=f"openid-{i}")
    providers.down = True
    admin.app.state.outbox.retry_seconds = 0.2
    token = api_token(admin, "admin")
    room = make_room(admin, token, name="Orchid")
    for hour in (8, 9, 10):
        people = [{"name": e.split("@")[0], "email": e} for e in emails]
        assert book(admin, token, room["id"], at(hour), at(hour, 30), attendees=people).status_code == 201
    wait_for(
        lambda: len(rows(admin, select(Message))) == 12 and all(m.attempts >= 1 for m in rows(admin, select(Message)))
    )
    other = make_client(webhook_allow_private=True)  # a second process's worker on the same database
    other.app.state.outbox.retry_seconds = 0.2
    providers.down = False
    wait_for(lambda: len(providers.accepted["wechat_mp"]) >= 12)
    wait_for(lambda: {m.state for m in rows(admin, select(Message))} == {"sent"})
    keys = sorted(b["client_msg_id"] for b in providers.accepted["wechat_mp"])
    assert keys == sorted(m.key for m in rows(admin, select(Message)))  # every one, none twice
    assert admin.app.state.outbox.sent + other.app.state.outbox.sent == 12
    assert {b["touser"] for b in providers.accepted["wechat_mp"]} == {f"openid-{i}" for i in range(4)}
    assert providers.rejected == []


def test_a_robot_sends_at_most_20_a_minute(site, providers):
    admin = site()
    configure(admin, providers, "wecom_robot", kinds=("invitation",))
    outbox = admin.app.state.outbox
    outbox.reminder_seconds = 0.01  # every round counts as a scan: wait on rounds
    token = api_token(admin, "admin")
    room = make_room(admin, token, name="Orchid")
    people = [{"name": f"Guest {i}", "email": f"g{i}@example.com", "phone": f"1380000{i:04d}"} for i in range(25)]
    assert book(admin, token, room["id"], at(9), at(10), title="All hands", attendees=people).status_code == 201
    wait_for(lambda: len(providers.accepted["wecom_robot"]) == 20)
    scans = outbox.scans
    wait_for(lambda: outbox.scans >= scans + 5)
    assert len(providers.accepted["wecom_robot"]) == 20
    waiting = rows(admin, select(Message).where(Message.state == "queued"))
    assert len(waiting) == 5 and all(m.attempts == 0 for m in waiting)
    assert in_app(admin, outbox.claim, ["wecom_robot"]) == []  # no room left in this minute
    first = providers.accepted["wecom_robot"][0]["text"]
    assert first["content"].startswith("Invitation: All hands") and first["mentioned_mobile_list"][0].startswith(
        "1380000"
    )


def test_the_send_test_button_of_every_channel(site, providers):
    admin = site()
    page = admin.get("/admin/notifications/channels")
    assert page.status_code == 200 and "Aliyun SMS" in page.text and "WeChat official account" in page.text
    targets = {
        "dingtalk_work": "manager4711",
        "dingtalk_robot": "",
        "wecom_app": "zhangsan",
        "wecom_robot": "13800138000",
        "aliyun_sms": "13800138000",
        "tencent_sms": "13800138000",
        "wechat_mp": "openid-1",
        "aliyun_voice": "+8613800138000",
        "tencent_voice": "13800138000",
    }
    for name, to in targets.items():
        configure(admin, providers, name)
        r = admin.post(f"/admin/notifications/channels/{name}/test", data={"csrf_token": csrf(admin), "to": to})
        assert r.status_code == 200 and 'data-test="sent"' in r.text, (name, r.text[-2000:])
        assert len(providers.accepted[name]) == 1, name
    assert providers.rejected == []
    assert providers.accepted["tencent_sms"][0]["PhoneNumberSet"] == ["+8613800138000"]
    assert providers.accepted["dingtalk_robot"][0]["text"]["content"].startswith("Test from the meeting rooms")
    (call,) = providers.accepted["aliyun_voice"]
    assert (call["CalledNumber"], call["CalledShowNumber"], call["PlayTimes"]) == ("13800138000", "057100001111", "2")
    assert call["TtsParam"]["content"].startswith("Test from the meeting rooms This is a test of Aliyun voice call")
    (call,) = providers.accepted["tencent_voice"]
    assert (call["CalledNumber"], call["PlayTimes"]) == ("+8613800138000", 3)
    assert call["TemplateParamSet"][0].startswith("Test from the meeting rooms") and call["SessionContext"]

    # a wrong secret: the fakes refuse the signature, and the page says why
    for name, field, error in (
        ("aliyun_sms", "access_key_secret", "SignatureDoesNotMatch"),
        ("tencent_sms", "secret_key", "AuthFailure.SignatureFailure"),
        ("dingtalk_robot", "secret", "310000"),
        ("aliyun_voice", "access_key_secret", "SignatureDoesNotMatch"),
        ("tencent_voice", "secret_key", "AuthFailure.SignatureFailure"),
    ):
        configure(admin, providers, name, **{field: "not-the-secret"})
        r = admin.post(
            f"/admin/notifications/channels/{name}/test", data={"csrf_token": csrf(admin), "to": targets[name]}
        )
        assert r.status_code == 200 and 'data-test="failed"' in r.text and error in r.text, name
    assert len(providers.rejected) == 5
    assert admin.post("/admin/notifications/channels/nope/test", data={"csrf_token": csrf(admin)}).status_code == 404
    r = admin.post("/admin/notifications/channels/wecom_app/test", data={"csrf_token": csrf(admin), "to": ""})
    assert r.status_code == 400 and "whom" in r.text


def test_channel_settings_are_checked_and_secrets_never_shown(site, providers):
    admin = site()
    form = {"csrf_token": csrf(admin), "enabled": "on", "app_key": "k"}
    r = admin.post("/admin/notifications/channels/dingtalk_work", data=form)
    assert r.status_code == 400 and "Fill in" in r.text and "AppSecret" in r.text
    form = {"csrf_token": csrf(admin), "base_url": "ftp://x", **CREDENTIALS["wecom_app"]}
    assert admin.post("/admin/notifications/channels/wecom_app", data=form).status_code == 400
    form = {"csrf_token": csrf(admin), "fallback": "wecom_app"}
    assert admin.post("/admin/notifications/channels/wecom_app", data=form).status_code == 400
    form = {"csrf_token": csrf(admin), **CREDENTIALS["tencent_voice"], "play_times": "9"}
    r = admin.post("/admin/notifications/channels/tencent_voice", data=form)
    assert r.status_code == 400 and "choose one of 1, 2, 3" in r.text
    assert admin.post("/admin/notifications/channels/nope", data={"csrf_token": csrf(admin)}).status_code == 404
    configure(admin, providers, "wecom_app")
    page = admin.get("/admin/notifications/channels").text
    assert CREDENTIALS["wecom_app"]["secret"] not in page and "(kept)" in page
    form = {
        "csrf_token": csrf(admin),
        "enabled": "on",
        "base_url": providers.url,
        "corp_id": "ww-corp",
        "agent_id": "1000002",
    }
    assert admin.post("/admin/notifications/channels/wecom_app", data=form, follow_redirects=False).status_code == 303
    r = admin.post("/admin/notifications/channels/wecom_app/test", data={"csrf_token": csrf(admin), "to": "zhangsan"})
    assert 'data-test="sent"' in r.text  # the secret left empty was kept
    assert admin.get("/healthz").json()["notify"]["wecom_app"]["enabled"] is True
    # users' contacts are checked too
    email = add_user(admin, "member", "x@example.com")
    (user,) = rows(admin, select(User).where(User.email == email))
    bad = {"csrf_token": csrf(admin), "mobile": "call me"}
    assert admin.post(f"/admin/users/{user.id}/contacts", data=bad).status_code == 400
    bad = {"csrf_token": csrf(admin), "wecom_id": "<script>"}
    assert admin.post(f"/admin/users/{user.id}/contacts", data=bad).status_code == 400


def test_a_user_is_reminded_as_long_before_as_they_chose(site, make_client, providers):
    admin = site(test_clock=True, reminder_minutes=15)
    admin.app.state.outbox.reminder_seconds = 0.05
    configure(admin, providers, "wecom_app", kinds=tuple(KINDS))
    early_client = make_client(webhook_allow_private=True, test_clock=True, reminder_minutes=15)
    early = login(early_client, "member")
    choose(early_client, wecom_id="early", reminder_minutes="60")
    r = early_client.post("/account/notifications", data={"csrf_token": csrf(early_client), "reminder_minutes": "x"})
    assert r.status_code == 400 and "Remind me" in r.text
    on_time = add_user(admin, "member", "ontime@example.com")
    set_contacts(admin, on_time, wecom_id="ontime")
    token = api_token(admin, "admin")
    room = make_room(admin, token, name="Orchid")
    people = [{"name": "Early", "email": early}, {"name": "On time", "email": on_time}]
    assert book(admin, token, room["id"], at(10), at(11), title="Plan", attendees=people).status_code == 201
    wait_for(lambda: len(providers.accepted["wecom_app"]) == 2)  # the invitations

    def reminders():
        return sorted(
            (b["touser"], b["text"]["content"].split("\n")[1])
            for b in providers.accepted["wecom_app"]
            if b["text"]["content"].startswith("Reminder")
        )

    go_to(admin, at(9, 30))
    wait_for(lambda: reminders() == [("early", "Plan starts in 30 minutes, Orchid.")])
    go_to(admin, at(9, 50))
    wait_for(lambda: len(reminders()) == 2)
    assert reminders() == [
        ("early", "Plan starts in 30 minutes, Orchid."),
        ("ontime", "Plan starts in 10 minutes, Orchid."),
    ]
    scans = admin.app.state.outbox.scans
    wait_for(lambda: admin.app.state.outbox.scans >= scans + 3)
    assert len(reminders()) == 2  # each once


def test_the_send_test_button_of_email_and_its_fallback(make_client, providers):
    from mail_helpers import SITE, SmtpServer

    server = SmtpServer()
    server.start()
    try:
        client = make_client(smtp_url=server.url, mail_from=SITE, webhook_allow_private=True)
        login(client, "admin")
        r = client.post(
            "/admin/notifications/channels/email/test", data={"csrf_token": csrf(client), "to": "it@example.com"}
        )
        assert r.status_code == 200 and 'data-test="sent"' in r.text
        (msg,) = server.inbox.parsed("it@example.com")
        assert str(msg["Subject"]) == "Test from the meeting rooms"
        r = client.post("/admin/notifications/channels/email/test", data={"csrf_token": csrf(client), "to": "nobody"})
        assert r.status_code == 400
        # email keeps its kinds; a guest with only a phone is reached by email's fallback
        configure(client, providers, "tencent_sms")
        form = {"csrf_token": csrf(client), "fallback": "tencent_sms", **{f"kind_{k}": "on" for k in KINDS}}
        assert client.post("/admin/notifications/channels/email", data=form, follow_redirects=False).status_code == 303
        token = api_token(client, "admin")
        room = make_room(client, token, name="Orchid")
        people = [{"name": "Li Lei", "email": "li@example.com"}, {"name": "Driver", "phone": "+85291234567"}]
        assert book(client, token, room["id"], at(9), at(10), title="Pick-up", attendees=people).status_code == 201
        wait_for(lambda: server.inbox.parsed("li@example.com") and providers.accepted["tencent_sms"])
        (sms,) = providers.accepted["tencent_sms"]
        assert sms["PhoneNumberSet"] == ["+85291234567"] and "Pick-up" in sms["TemplateParamSet"][0]
        assert providers.rejected == []
    finally:
        server.stop()


def test_voice_calls_for_the_kinds_people_chose_with_the_fallback_after_them(site, make_client, providers):
    """Point 5's phone notice: a member has reminders read out on the phone (Aliyun), the service
    staff escalated calls (Tencent); Tencent calls mainland numbers only, so the Hong Kong
    number gets the fallback: an SMS."""
    admin = site(test_clock=True)
    admin.app.state.outbox.reminder_seconds = 0.05
    configure(admin, providers, "aliyun_voice")
    configure(admin, providers, "tencent_sms")
    configure(admin, providers, "tencent_voice", fallback="tencent_sms")
    person = make_client(webhook_allow_private=True, test_clock=True)  # before the clock moves (an app resets it)
    member = login(person, "member")
    choose(person, mobile="13800138000", channel_reminder_aliyun_voice="on")
    for mobile in ("+8613900139000", "+85291234567"):
        person.cookies.clear()
        login(person, "service")
        assert 'data-kind="service_call"' in person.get("/account").text  # staff choose for escalations
        choose(person, mobile=mobile, channel_service_call_tencent_voice="on")

    token = api_token(admin, "admin")
    room = make_room(admin, token, name="Orchid")
    people = [{"name": "Wang Fang", "email": member}]
    assert book(admin, token, room["id"], at(10), at(11), title="Plan", attendees=people).status_code == 201
    go_to(admin, at(9, 0))
    r = admin.post(f"/api/v1/rooms/{room['id']}/service-calls", json={"kind": "tea"}, headers=token)
    assert r.status_code == 201, r.text
    go_to(admin, at(9, 6))  # nobody accepted it: escalated
    wait_for(lambda: providers.accepted["tencent_voice"] and providers.accepted["tencent_sms"])
    (call,) = providers.accepted["tencent_voice"]
    assert call["CalledNumber"] == "+8613900139000"
    assert call["TemplateParamSet"][0].startswith("Waiting: Orchid requests tea service")
    (sms,) = providers.accepted["tencent_sms"]
    assert sms["PhoneNumberSet"] == ["+85291234567"] and "Orchid requests tea service" in sms["TemplateParamSet"][0]
    refused = rows(admin, select(Message).where(Message.channel == "tencent_voice", Message.state == "failed"))
    assert [(m.recipient, m.attempts) for m in refused] == [("+85291234567", 1)]
    assert "CalledNumberVerifyFail" in refused[0].last_error

    go_to(admin, at(9, 50))
    wait_for(lambda: providers.accepted["aliyun_voice"])
    (call,) = providers.accepted["aliyun_voice"]
    assert call["CalledNumber"] == "13800138000" and call["OutId"].startswith("aliyun_voice-")
    assert call["TtsParam"] == {"content": "Reminder: Plan at 10:00 Plan starts in 10 minutes, Orchid."}
    assert providers.rejected == []
