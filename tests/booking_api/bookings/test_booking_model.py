"""Property: random sequences of create / edit / cancel agree with a simple model of one room.

The model: a list of (start, end, active); a change is accepted exactly when its
interval, widened by the room's buffer, meets no other active booking.
"""

import datetime as dt
import itertools

from bookings_helpers import at, iso, make_room
from fixtures import api_token
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SLOT = 15
names = itertools.count()

op = st.one_of(
    st.tuples(st.just("create"), st.integers(0, 40), st.integers(1, 8)),
    st.tuples(st.just("edit"), st.integers(0, 20), st.integers(0, 40), st.integers(1, 8)),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
)


def when(slot: int):
    return at(8, 0) + dt.timedelta(minutes=SLOT * slot)


def clashes(model: dict, start: int, end: int, buffer: int, skip=None) -> bool:
    return any(active and i != skip and s < end + buffer and e + buffer > start for i, (s, e, active) in model.items())


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(buffer_slots=st.sampled_from([0, 1]), ops=st.lists(op, min_size=1, max_size=12))
def test_random_changes_match_the_model(client, buffer_slots, ops):
    if not hasattr(client, "_tokens"):
        client._tokens = (api_token(client, "room_admin"), api_token(client, "member"))
    admin, member = client._tokens
    room = make_room(client, admin, name=f"Model {next(names)}", capacity=4, buffer_minutes=SLOT * buffer_slots)
    model: dict[int, tuple[int, int, bool]] = {}
    order: list[int] = []
    for step in ops:
        if step[0] == "create":
            _kind, start, length = step
            body = {"room_id": room["id"], "title": "p", "start": iso(when(start)), "end": iso(when(start + length))}
            r = client.post("/api/v1/bookings", json=body, headers=member)
            expected = 409 if clashes(model, start, start + length, buffer_slots) else 201
            assert r.status_code == expected, (step, model, r.text)
            if expected == 201:
                model[r.json()["id"]] = (start, start + length, True)
                order.append(r.json()["id"])
        elif step[0] == "edit" and order:
            _kind, pick, start, length = step
            bid = order[pick % len(order)]
            body = {"start": iso(when(start)), "end": iso(when(start + length))}
            r = client.patch(f"/api/v1/bookings/{bid}", json=body, headers=member)
            if not model[bid][2]:
                expected = 409
            else:
                expected = 409 if clashes(model, start, start + length, buffer_slots, skip=bid) else 200
            assert r.status_code == expected, (step, model, r.text)
            if expected == 200:
                model[bid] = (start, start + length, True)
        elif step[0] == "cancel" and order:
            bid = order[step[1] % len(order)]
            r = client.delete(f"/api/v1/bookings/{bid}", headers=member)
            assert r.status_code == (200 if model[bid][2] else 409), (step, r.text)
            s, e, _active = model[bid]
            model[bid] = (s, e, False)
    stored = client.get("/api/v1/bookings", params={"room_id": room["id"]}, headers=member).json()
    got = {
        b["id"]: (
            dt.datetime.fromisoformat(b["start"]),
            dt.datetime.fromisoformat(b["end"]),
            b["status"] == "confirmed",
        )
        for b in stored
    }
    assert got == {i: (when(s), when(e), a) for i, (s, e, a) in model.items()}
