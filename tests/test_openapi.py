"""The OpenAPI document describes every route under /api/v1, and nothing that is not there."""

import re

from openapi_spec_validator import validate
from starlette.routing import Route


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
