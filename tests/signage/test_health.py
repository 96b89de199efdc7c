import datetime as dt

from fixtures import in_app, wait_for


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def test_healthz_reports_database_and_events(client, backend):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "backend": backend}
    assert body["events"]["ok"] is True and body["events"]["backend"] == "memory"


def test_healthz_with_redis(make_client, redis_url):
    r = make_client(redis_url=redis_url).get("/healthz")
    assert r.status_code == 200
    assert r.json()["events"]["backend"] == "redis"


def test_healthz_degraded_when_redis_is_unreachable(make_client):
    # Nothing listens on port 1: the bus is down, the server still answers.
    r = make_client(redis_url="redis://127.0.0.1:1/0").get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "degraded"
    assert body["events"]["ok"] is False
    assert body["database"]["ok"] is True


def test_healthz_reports_the_room_timer(client):
    """The process's room timer runs, ticks, and then sleeps with no change waiting (idle);
    a booking change wakes it: it ticks again, later on the booking clock."""

    def idle():
        state = client.get("/healthz").json()["room_timer"]
        return state if state["idle"] and state["ticked_at"] else None

    first = wait_for(idle)
    assert first["running"] is True

    async def change():  # as a booking's announcement does; the timer has not run yet
        await client.app.state.bus.publish("bookings", {"type": "booking", "rooms": []})
        return client.app.state.room_timer.health()

    assert in_app(client, change)["idle"] is False

    def ticked_again():
        state = idle()
        return state if state and parse(state["ticked_at"]) > parse(first["ticked_at"]) else None

    assert wait_for(ticked_again)["running"] is True
