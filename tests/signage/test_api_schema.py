"""The API keeps its own document (issue 20, point 5): schemathesis, in-process against the
ASGI app, with every check it has, on SQLite and PostgreSQL, as an admin with an API token.

Each documented operation (the event streams left out: they never end) gets its examples, its
coverage cases (schema boundaries: wrong types, missing fields, values just outside the
limits, booleans where numbers go) and a few generated cases, positive and negative, from a
fixed seed, so CI runs the same cases every time. A room and a booking (ids 1) are made
first, so the operations on `{id}` meet something real as well as 404s.

A failure names the operation, the check (`negative_data_rejection`: the server took what
its document refuses; `positive_data_acceptance`: it refused what the document allows;
`status_code_conformance`: an answer the operation does not document ...) and the curl
command to repeat it.
"""

from __future__ import annotations

import os
import time

import pytest
import schemathesis
from bookings_helpers import at, iso
from fixtures import make_token
from schemathesis.python import asgi

from signage.app import create_app

SEED = 20
EXAMPLES = 3  # generated cases per operation and mode, besides its examples and coverage cases
STREAMS = ("/api/v1/events",)  # text/event-stream: an answer that never ends
# SIGNAGE_SCHEMA_EVERY_FAILURE=1: go on after a failure (each operation stops at its first
# otherwise), and list them all at the end; the test passes (a way to see them, not a check).
EVERY_FAILURE = os.environ.get("SIGNAGE_SCHEMA_EVERY_FAILURE") == "1"
TIMES: dict[str, float] = {}
CASES: dict[str, dict[str, int]] = {}  # backend → operation → cases sent (printed at the end)
FAILURES: dict[str, dict[tuple[str, str], str]] = {}  # backend → (operation, failure title) → its first message


# A schema-valid request may still be refused: `If-Match` with an ETag that is not the
# resource's is 412 (a precondition, not a malformed request), and these operations apply
# rules JSON Schema cannot say, answered 400 with the rule's message: times in the past or an
# end before the start, what a file holds, a widget, event or time zone name that exists, a
# referenced row that exists, a cursor the list gave, a reason where one is required.
PRECONDITION = ["2xx", "3xx", "401", "403", "404", "409", "412", "429"]
RULES = [
    "GET /api/v1/audit",
    "GET /api/v1/rooms",
    "GET /api/v1/screens",
    "GET /api/v1/bookings",
    "POST /api/v1/bookings",
    "POST /api/v1/bookings/check",
    "PATCH /api/v1/bookings/{id}",
    "POST /api/v1/bookings/{id}/materials",
    "POST /api/v1/bookings/{id}/reject",
    "POST /api/v1/emergency",
    "POST /api/v1/imports",
    "POST /api/v1/layouts",
    "PUT /api/v1/layouts/{id}",
    "POST /api/v1/layouts/{id}/rollback",
    "POST /api/v1/media",
    "POST /api/v1/playlists",
    "PUT /api/v1/playlists/{id}",
    "POST /api/v1/rooms",
    "PATCH /api/v1/rooms/{id}",
    "POST /api/v1/rooms/{id}/doors",
    "POST /api/v1/schedules",
    "PUT /api/v1/schedules/{id}",
    "POST /api/v1/screens/claim",
    "POST /api/v1/webhooks",
    "PATCH /api/v1/webhooks/{id}",
    "PUT /api/v1/rooms/{id}/service-state",
    "PUT /api/v1/rooms/{id}/rate-card",  # a band's from before its to, each weekday once
    "POST /api/v1/bookings/quote",  # the meeting's times, as a booking's
    "GET /api/v1/billing/charges",  # a month that exists
    "POST /api/v1/bookings/{id}/charges",  # a booking with a price to change
    "POST /api/v1/directory/csv",  # a file that is CSV or XLSX with the template's header
    "GET /api/v1/stats/ghosts",  # days that exist, from before to
    "POST /api/v1/stats/ghosts/{id}/notify",  # a series with an organizer
    "POST /api/v1/stats/ghosts/{id}/end",  # a series with meetings still to come
]


def config(token: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES,
                "deterministic": True,
                "no-shrink": True,
                "database": "none",
            },
            "phases": {
                "stateful": {"enabled": False},
                # one method no operation has (a 405 with its Allow) and OPTIONS (Allow as documented)
                "coverage": {"unexpected-methods": ["TRACE", "OPTIONS"], "generate-duplicate-query-parameters": False},
            },
            "checks": {"positive_data_acceptance": {"expected-statuses": PRECONDITION}},
            "operations": [
                {
                    "include-name": RULES,
                    "checks": {"positive_data_acceptance": {"expected-statuses": [*PRECONDITION, "400"]}},
                }
            ],
            "auth": {"openapi": {"bearer": {"bearer": token}}},
            "suppress-health-check": ["all"],
        }
    )


@pytest.fixture
def api_schema(backend, make_settings, request):
    """The document of an app on a fresh database, its lifespan run by schemathesis."""
    # schemathesis 4.32 labels each operation's subtest through `node._nodeid`, which pytest 9.2
    # no longer has (its node ids live in `_id`): given here, so the labelling works as before.
    request.node._nodeid = request.node.nodeid
    settings = make_settings()
    token = make_token(settings, "admin")["Authorization"].removeprefix("Bearer ")
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, config=config(token))
    with asgi.get_client(app) as client:
        auth = {"Authorization": f"Bearer {token}"}
        room = client.post("/api/v1/rooms", json={"name": "Lotus", "capacity": 8}, headers=auth)
        assert room.status_code == 201, room.text
        body = {"room_id": room.json()["id"], "title": "Seed", "start": iso(at(10)), "end": iso(at(11))}
        booking = client.post("/api/v1/bookings", json=body, headers=auth)
        assert booking.status_code == 201, booking.text
    started = time.monotonic()
    CASES[backend], FAILURES[backend] = {}, {}
    yield schema
    asgi.shutdown_lifespans()
    counts = CASES[backend]
    print(
        f"\nschemathesis on {backend}: {len(counts)} operations, {sum(counts.values())} cases,"
        f" {len(FAILURES[backend])} unique failures, {time.monotonic() - started:.1f} s"
    )
    if EVERY_FAILURE:
        for label, spent in sorted(TIMES.items(), key=lambda kv: -kv[1])[:10]:
            print(f"  {spent:5.1f} s {counts.get(label)} cases {label}")
    TIMES.clear()
    for (label, title), message in sorted(FAILURES[backend].items()):
        print(f"  {label}: {title}" + (f"\n    {message}" if EVERY_FAILURE else ""))


lazy = schemathesis.pytest.from_fixture("api_schema").exclude(path=list(STREAMS))


@lazy.parametrize()
def test_the_api_keeps_its_document(case, backend):
    label = case.operation.label
    CASES[backend][label] = CASES[backend].get(label, 0) + 1
    began = time.monotonic()
    try:
        case.call_and_validate()
    except BaseException as exc:  # a check's Failure, or a FailureGroup of them (no Exception): noted, raised
        for failure in getattr(exc, "exceptions", None) or [exc]:
            key = (label, getattr(failure, "title", type(failure).__name__))
            FAILURES[backend].setdefault(key, f"{case.as_curl_command()}\n    {str(failure)[:400]}".replace("\n", "\n    "))
        if not EVERY_FAILURE:
            raise
    finally:
        TIMES[label] = TIMES.get(label, 0) + time.monotonic() - began
