"""Years of bookings must not slow today down (SPEC B3: 1,000 rooms stay fast; LibreBooking
slows to 20 s). Every query the booking paths make on `bookings` reads through an index
that skips what has ended: checked on SQLite's own query plans, which take no statistics,
so what they show is what every installation gets."""

import re

import pytest
from bookings_helpers import at, book, iso, make_room
from fixtures import api_token, in_app
from sqlalchemy import event

from booking_api.bookings.writer import SQLITE_TAKEN
from signage import clock

# A plan step that reads every booking, every booking of a room or of a status, or every
# booking that started before some time: what years of use make long.
READS_HISTORY = re.compile(
    r"^SCAN bookings(?! USING (COVERING )?INDEX ix_bookings_pending_)"  # (that one holds the pending only)
    r"|^SEARCH bookings USING (COVERING )?INDEX \S+ \((room_id=\?|status=\?)?( AND )?(start_at<\?)?\)$"
)


def plan(client, statement: str, parameters) -> list[str]:
    async def explain():
        async with client.app.state.db.session() as s:
            conn = await s.connection()
            return [row[3] for row in (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))]

    return in_app(client, explain)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_booking_paths_read_bookings_through_an_index_that_skips_history(client):
    admin = api_token(client, "admin")
    room = make_room(client, admin, name="Indexed", capacity=8)
    make_room(client, admin, name="Other", capacity=8)
    captured: list[tuple[str, tuple]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if not executemany and statement.lstrip().upper().startswith("SELECT") and " bookings" in statement:
            captured.append((statement, parameters))

    engine = client.app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        first = book(client, admin, room["id"], at(9), at(10))
        assert first.status_code == 201, first.text
        series = book(client, admin, room["id"], at(11), at(12), rrule="FREQ=DAILY;COUNT=3")
        assert series.status_code == 201, series.text
        taken = book(client, admin, room["id"], at(9, 30), at(10, 30))  # 409, with suggestions
        assert taken.status_code == 409 and taken.json()["detail"], taken.text
        day = at(0).date().isoformat()
        assert client.get("/api/v1/availability", params={"date": day}, headers=admin).status_code == 200
        assert client.get(f"/api/v1/rooms/{room['id']}/status", headers=admin).status_code == 200
        listed = client.get(
            "/api/v1/bookings", params={"room_id": room["id"], "from": iso(at(0)), "to": iso(at(23))}, headers=admin
        )
        assert listed.status_code == 200
        feed = client.post(f"/api/v1/rooms/{room['id']}/calendar-feed", headers=admin).json()["url"]
        assert client.get(feed.split("testserver", 1)[-1]).status_code == 200
        for page in ("/m", "/m/bookings", "/m/calendar", "/bookings", "/approvals", "/rooms", "/floorplans"):
            assert client.get(page, headers=admin).status_code == 200, page
        in_app(client, lambda: client.app.state.room_timer.tick(clock.now()))  # no-shows, empty rooms, next boundary
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(captured) >= 6
    reads_history = {}
    for statement, parameters in [*captured, (SQLITE_TAKEN, (room["id"], "2030-01-01", "2029-01-01"))]:
        steps = [step for step in plan(client, statement, parameters) if READS_HISTORY.search(step)]
        if steps:
            reads_history[" ".join(statement.split())] = steps
    assert not reads_history, reads_history
