"""The OpenAPI document describes every route under /api/v1, and nothing that is not there."""

import re

import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

pytestmark = pytest.mark.one_database  # not about the database: SQLite only (tests/conftest.py)


def api_operations(app) -> set[tuple[str, str]]:
    out = set()
    for r in app.routes:
        if (
            isinstance(r, Route)
            and r.path.startswith("/api/v1/")
            and r.path not in ("/api/v1/openapi.json", "/api/v1/docs")
        ):
            path = re.sub(r"{(\w+):\w+}", r"{\1}", r.path)
            out |= {(m.lower(), path) for m in r.methods - {"HEAD"}}
    return out


def test_every_api_route_is_documented(client):
    doc = client.get("/api/v1/openapi.json").json()
    validate(doc)
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    routed = api_operations(client.app)
    assert routed - documented == set(), "describe these with signage.openapi.add"
    assert documented - routed == set(), "documented but not routed"


def test_docs_page_lists_the_operations(client):
    page = client.get("/api/v1/docs").text
    for path in ("/api/v1/bookings", "/api/v1/media", "/api/v1/layouts", "/api/v1/screens/claim"):
        assert path in page


def test_docs_page_shows_each_body_field_with_its_type_and_whether_it_is_required(client):
    import html as htmlmod

    page = client.get("/api/v1/docs", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    text = htmlmod.unescape(re.sub(r"\s+", " ", page.text))
    section = text[text.index('id="post_api_v1_bookings"') :]
    section = section[: section.index("</section>")]
    body = section[section.index("Body <code>BookingIn</code>") : section.index("</table>", section.index("BookingIn"))]
    rows = {
        m.group(1): (m.group(2), m.group(3))
        for m in re.finditer(r"<tr><td><code>(\w+)</code></td><td>([^<]*)</td><td>([^<]*)</td>", body)
    }
    assert rows["room_id"] == ("integer", "yes")
    assert rows["start"] == ("string (date-time)", "yes")
    assert rows["rrule"][1] == "" and "string" in rows["rrule"][0]
    assert rows["attendees"][0].startswith("array of ")
    assert "Idempotency-Key" in section and "at most 200 characters" in section
    # every operation of the document has its section, reachable from the index
    doc = client.get("/api/v1/openapi.json").json()
    for ops in doc["paths"].values():
        for op in ops.values():
            assert f'id="{op["operationId"]}"' in page.text and f'href="#{op["operationId"]}"' in page.text
