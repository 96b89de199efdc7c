"""Issue 14 point 9: the texts of notices, per kind, channel and language, edited by admins with
a live preview on a sample booking and a reset to default; rendered in Jinja2's sandbox with
the documented variables only: `{{ ''.__class__ }}`-style templates are refused with a clear
form error, and the sandbox stops what the check would miss."""

from __future__ import annotations

import re

import jinja2.sandbox
import pytest
from bookings_helpers import at, book, make_room
from fixtures import api_token, csrf, login, rows, wait_for
from mail_helpers import ATTENDEES, mailing, smtp  # noqa: F401  (fixtures)
from sqlalchemy import select

from signage.models import AuditEntry
from signage.notify import texts
from signage.notify.models import Template

pytestmark = pytest.mark.one_database  # not about the database: SQLite only (tests/conftest.py)

PAGE = "/admin/notifications/templates"


def form(client, **fields) -> dict:
    return {"csrf_token": csrf(client), "kind": "invitation", "channel": "email", "locale": "en", **fields}


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ title.__class__ }}",
        "{{ title['__class__'] }}",
        "{{ title|attr('__class__') }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lipsum.__globals__ }}",
        "{{ self }}",
        "{{ range(10) }}",
        "{% include 'base.html' %}",
        "{% extends 'base.html' %}",
        "{% import 'base.html' as b %}",
        "{{ config }}",
        "{{ request }}",
        "{{ title.upper() }}",
    ],
)
def test_the_check_refuses_what_is_not_a_documented_variable(source):
    with pytest.raises(texts.TemplateError):
        texts.check(source)


def test_documented_variables_filters_and_conditions_render():
    text = texts.Text(
        "{{ title|upper }}", "{% if notes %}Notes: {{ notes }}{% endif %}{% for c in title %}.{% endfor %}"
    )
    out = texts.render_text(text, {"title": "ab", "notes": "x"})
    assert out == texts.Text("AB", "Notes: x..")


def test_the_sandbox_stops_what_gets_past(monkeypatch):
    """Were the check wrong, the sandbox would still refuse to reach Python objects."""
    template = texts.env.from_string("{{ title.__class__.__mro__ }}")
    with pytest.raises(jinja2.sandbox.SecurityError):
        template.render(title="x")
    assert isinstance(texts.env, jinja2.sandbox.SandboxedEnvironment)


def test_admins_edit_a_template_with_a_live_preview_and_reset_it(client):
    login(client, "admin")
    page = client.get(f"{PAGE}?kind=reminder&channel=email&locale=zh_CN")
    assert page.status_code == 200
    assert "会议提醒：季度评审会" in page.text  # the default, previewed on the sample booking, in Chinese
    assert "{{ minutes }}" in page.text and 'data-template="reminder/email/zh_CN"' in page.text

    body = "Dear {{ name }}, {{ title }} in {{ room }} at {{ start }}."
    r = client.post(f"{PAGE}/preview", data=form(client, kind="reminder", subject="Soon: {{ title }}", body=body))
    assert r.status_code == 200
    assert "Soon: Quarterly review" in r.text and "Dear Han Meimei, Quarterly review in Orchid" in r.text
    assert "<form" not in r.text and "srcdoc=" in r.text  # the fragment alone; the HTML part sandboxed
    r = client.post(f"{PAGE}/preview", data=form(client, subject="x", body="{{ ''.__class__ }}"))
    assert r.status_code == 200 and "is not one of the variables" in r.text

    r = client.post(PAGE, data=form(client, subject="Come: {{ title }}", body=body), follow_redirects=False)
    assert r.status_code == 303 and "saved=1" in r.headers["location"]
    (row,) = rows(client, select(Template))
    assert (row.kind, row.channel, row.locale, row.subject) == ("invitation", "email", "en", "Come: {{ title }}")
    shown = client.get(r.headers["location"]).text
    assert "Edited by" in shown and "Come: Quarterly review" in shown
    r = client.post(f"{PAGE}/reset", data=form(client), follow_redirects=False)
    assert r.status_code == 303 and rows(client, select(Template)) == []
    assert "Invitation: Quarterly review" in client.get(r.headers["location"]).text
    actions = [e.action for e in rows(client, select(AuditEntry).where(AuditEntry.action.startswith("notification_")))]
    assert actions == ["notification_template.update", "notification_template.reset"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{{ ''.__class__ }}", "“__class__” is not one of the variables"),
        ("{{ cycler.__init__.__globals__ }}", "is not one of the variables"),
        ("{{ secret_key }}", "“secret_key” is not one of the variables: name, title"),
        ("{% include 'base.html' %}", "may not include, import or extend"),
        ("Hello {{ name", "Line 1:"),
        ("{{ title + 1 }}", "The template does not render"),
        ("", "may not be empty"),
    ],
)
def test_a_template_that_is_not_one_is_refused_with_a_form_error(client, body, error):
    login(client, "admin")
    r = client.post(PAGE, data=form(client, subject="Hi", body=body))
    assert r.status_code == 400
    assert error in re.search(r'id="template-error">([^<]*)<', r.text).group(1).replace("&#34;", '"')
    assert body.replace("'", "&#39;") in r.text or not body  # what was typed is kept in the form
    assert rows(client, select(Template)) == []


def test_the_subject_is_checked_too_and_only_admins_edit(client):
    login(client, "admin")
    r = client.post(PAGE, data=form(client, subject="{{ ''.__class__ }}", body="Hi"))
    assert r.status_code == 400 and "is not one of the variables" in r.text
    assert (
        client.post(PAGE, data={k: v for k, v in form(client, body="x").items() if k != "csrf_token"}).status_code
        == 403
    )
    login(client, "room_admin")
    assert client.get(PAGE).status_code == 403


def test_sent_mails_say_what_the_edited_template_says(mailing, smtp):  # noqa: F811
    client = mailing()
    login(client, "admin")
    body = "Hi {{ name }}: {{ title }}, {{ room }}.{% if notes %} ({{ notes }}){% endif %}"
    r = client.post(PAGE, data=form(client, subject="Join {{ title }}", body=body), follow_redirects=False)
    assert r.status_code == 303
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Orchid")
    book(client, admin, room["id"], at(9), at(10), title="Plan", attendees=ATTENDEES[:1])
    wait_for(lambda: smtp.inbox.mails)
    (mail,) = smtp.inbox.parsed()
    assert str(mail["Subject"]) == "Join Plan"
    text = next(p for p in mail.walk() if p.get_content_type() == "text/plain").get_content()
    assert text.startswith("Hi Li Lei: Plan, Orchid.")
    assert any(p.get_content_type() == "text/calendar" for p in mail.walk())  # still an invitation
